"""Issue 17.2: the API refuses webhook URLs the exchange must not call, and the worker checks again at each
delivery (a subscription can reach Kafka by other ways than the API), on the real broker."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient
from test_labels_e2e import FRAMES_CO, STEEL, Receiver, bearer, latest, pcfx, publish_chain, running_worker, settle, wait_for

from pcfx.connectors.buyer import BuyerClient, subscriptions_for
from pcfx.connectors.kafka_io import read_to_end
from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.host import Host
from pcfx.settings import Settings


def test_the_api_and_the_cli_refuse_loopback_and_link_local_webhooks(settings: Settings) -> None:
    settings = settings.model_copy(update={"webhook_allow": ""})  # the defaults: https to public addresses only
    host = Host.open(settings)
    with TestClient(create_app(settings, host=host), base_url="https://pact.test") as api:
        frames = bearer(api, host, "frames", FRAMES_CO)
        answers = [api.post("/3/subscriptions", headers=frames, json={"productIds": [STEEL], "webhookUrl": url})
                   for url in ("http://127.0.0.1:9/hook", "https://169.254.169.254/latest/meta-data", "https://[::1]/x")]
    assert [a.status_code for a in answers] == [400, 400, 400]
    assert "only https" in answers[0].json()["message"]
    assert "169.254.169.254, which is not a public address" in answers[1].json()["message"]
    cli = pcfx(settings, "subscribe", "--buyer", FRAMES_CO, "--product", STEEL, "--webhook", "https://127.0.0.1/hook")
    assert cli.exit_code == 2 and "not a public address" in cli.output
    assert list(read_to_end(settings, settings.topic("subscriptions"), lambda k, v: k)) == []


def test_the_worker_does_not_post_to_a_refused_address(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"webhook_allow": ""})
    receiver = Receiver()
    receiver.start()
    log = tmp_path / "worker.log"
    try:
        with running_worker(settings, log):
            publish_chain(settings)
            settle(settings)
            with BuyerClient(settings) as buyer:  # straight onto Kafka, past the API's check
                buyer.subscribe(subscriptions_for(FRAMES_CO, ["steel-1"], receiver.url))
            wait_for(lambda: latest(settings, STEEL, 1), "steel label v1")
            wait_for(lambda: "not sent: webhookUrl" in log.read_text(), "the refused delivery in the worker's log")
    finally:
        receiver.stop()
    assert receiver.events == []
    assert "only https is called" in log.read_text()
