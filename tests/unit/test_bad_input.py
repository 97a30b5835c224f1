"""Bad input ends in a one-line error naming the field and its value, never a traceback or a 500: the fuzz
findings pinned (date-times whose UTC instant leaves years 1..9999)."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from pcfx.cli import main
from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.events import REQUEST_FULFILLED
from pcfx.connectors.pact_api.host import Host
from pcfx.schemas.errors import ContractError
from pcfx.schemas.models import ProductFootprint
from pcfx.schemas.samples import FOOTPRINT
from pcfx.settings import Settings

#: (field path, value): each instant lies outside years 1..9999 once written in UTC
OUT_OF_RANGE = [
    (("created",), "0001-01-01T00:00:00+01:00"),
    (("created",), "9999-12-31T23:59:59-01:00"),
    (("pcf", "referencePeriodStart"), "0001-01-01T00:59:59+01:00"),
    (("validityPeriodEnd",), "9999-12-31T23:00:00-01:30"),
]


def footprint_with(path: tuple[str, ...], value: str) -> dict:
    doc = copy.deepcopy(FOOTPRINT)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    if path == ("validityPeriodEnd",):
        doc["validityPeriodStart"] = "2025-01-01T00:00:00Z"
    return doc


@pytest.mark.parametrize(("path", "value"), OUT_OF_RANGE)
def test_a_date_time_beyond_the_calendar_in_utc_is_refused_naming_the_field(path, value):
    with pytest.raises(ContractError) as caught:
        ProductFootprint.from_json(footprint_with(path, value))
    assert f"{'.'.join(path)} = {value!r}: lies outside years 1..9999 once converted to UTC" in str(caught.value)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00-01:00", "9999-12-31T23:59:59+01:00",
                                   "9999-12-31T23:59:59.999999Z"])
def test_the_first_and_last_instants_that_exist_in_utc_are_accepted(value):
    assert ProductFootprint.from_json(footprint_with(("created",), value)).to_json()["created"].endswith("Z")


def test_a_reference_period_ending_in_year_9999_has_no_validity_window_to_break():
    doc = footprint_with(("pcf", "referencePeriodEnd"), "9999-06-01T00:00:00Z")
    doc["pcf"]["referencePeriodStart"] = "9998-06-01T00:00:00Z"
    doc["validityPeriodStart"], doc["validityPeriodEnd"] = "9999-07-01T00:00:00Z", "9999-12-31T00:00:00Z"
    assert ProductFootprint.from_json(doc).findings == []


@pytest.mark.parametrize(("path", "value"), OUT_OF_RANGE[:2])
def test_pcfx_publish_prints_one_line_per_field_and_no_traceback(tmp_path, path, value):
    doc = footprint_with(path, value)
    doc["pcf"]["declaredUnitAmount"] = "-1"
    source = tmp_path / "pf.json"
    source.write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["publish", str(source)], env={"PCFX_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert result.exit_code == 1 and result.exception is not None and isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    record = f"footprint {FOOTPRINT['id']}"
    assert lines[0] == f"pcfx publish: rejected {record}: created = {value!r}: lies outside years 1..9999 once converted to UTC"
    assert lines[1].startswith(f"pcfx publish: rejected {record}: pcf.declaredUnitAmount = '-1'")
    assert lines[2] == "pcfx publish: nothing published (1 invalid of 1)"


@pytest.fixture
def api(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path, bootstrap_servers="127.0.0.1:1", api_public_url="https://pact.test")
    host = Host.open(settings)
    with TestClient(create_app(settings, host=host, background=False), base_url="https://pact.test") as client:
        secret = host.clients.add("frames", "urn:pact:wuxi-frames.cn:company-id:1")
        token = client.post("/auth/token", data={"grant_type": "client_credentials"}, auth=("frames", secret)).json()
        yield client, {"Authorization": f"Bearer {token['access_token']}", "Content-Type": "application/cloudevents+json"}


@pytest.mark.parametrize(("path", "value"), OUT_OF_RANGE)
def test_post_events_with_such_a_footprint_is_400_naming_the_field(api, path, value):
    client, headers = api
    event = {"specversion": "1.0", "id": "e1", "source": "https://pact.test", "time": "2025-05-19T10:30:00Z",
             "type": REQUEST_FULFILLED, "data": {"requestEventId": "r1", "pfs": [footprint_with(path, value)]}}
    response = client.post("/3/events", content=json.dumps(event), headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BadRequest"
    assert f"{'.'.join(path)} = {value!r}" in response.json()["message"]


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_post_events_with_such_an_event_time_is_400(api, value):
    client, headers = api
    event = {"specversion": "1.0", "id": "e1", "source": "https://pact.test", "time": value,
             "type": REQUEST_FULFILLED, "data": {"requestEventId": "r1", "pfs": [FOOTPRINT]}}
    response = client.post("/3/events", content=json.dumps(event), headers=headers)
    assert (response.status_code, response.json()["code"]) == (400, "BadRequest")
    assert repr(value) in response.json()["message"]


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("PCFX_PARTITIONS", "abc", "Input should be a valid integer"),
    ("PCFX_WORKER_STOP_TIMEOUT_S", "soon", "Input should be a valid number"),
])
def test_a_setting_pcfx_cannot_use_is_one_line_naming_the_variable(variable, value, message):
    result = CliRunner().invoke(main, ["topics"], env={variable: value})
    assert result.exit_code == 1 and not isinstance(result.exception, ValueError)
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert result.output.startswith(f"Error: {variable} = {value!r}: {message}")


def test_a_demo_run_owns_the_topics_under_its_prefix_and_its_app_id_only():
    from pcfx.connectors.demo import demo_settings, run_topics

    settings = demo_settings(Settings.from_env({}))
    prefix, app = settings.topic_prefix, settings.app_id
    names = [f"{prefix}footprints", f"{app}-recompute-inputs-changelog", "pcfx.footprints", "pcfx.demo.19990101000000.footprints",
             f"{app}x-other"]
    assert run_topics(settings, names) == sorted([f"{prefix}footprints", f"{app}-recompute-inputs-changelog"])


def test_a_label_offer_for_a_reference_period_ending_near_year_9999_has_the_last_instant_as_its_end():
    from datetime import UTC, datetime

    from pcfx.streams.labels import offer_of

    doc = footprint_with(("pcf", "referencePeriodEnd"), "9998-06-01T00:00:00Z")
    doc["pcf"]["referencePeriodStart"] = "9997-06-01T00:00:00Z"
    offer = offer_of(ProductFootprint.from_json(doc), 0)
    assert offer.validity_period_end == datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize("command", [
    ["compute", "--products", "{bad}", "--bom", "{bom}", "--out", "{out}"],
    ["background", "import", "--source", "S", "--version", "1", "--dry-run", "{bad}"],
])
def test_a_csv_that_is_not_utf8_is_named_in_one_line(tmp_path, command):
    bad = tmp_path / "gbk.csv"
    bad.write_bytes("product_id,name\n钢,钢卷\n".encode("gbk"))
    bom = tmp_path / "bom.csv"
    bom.write_text("product_id,input_product_id,quantity_per_unit\n")
    files = {"{bad}": str(bad), "{bom}": str(bom), "{out}": str(tmp_path / "out.csv")}
    result = CliRunner().invoke(main, [files.get(arg, arg) for arg in command])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {bad}: not UTF-8 text (unexpected byte 0xb8); save the file as UTF-8 CSV"
