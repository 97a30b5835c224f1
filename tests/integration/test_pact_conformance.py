"""The PACT v3 conformance cases (reference v3-test-cases-expected-results.md, all mandatory ones and the
optional OIDC ones 18-19) against the real host over HTTPS, with real Kafka behind it and the
asynchronous answers POSTed to a real local HTTPS receiver.

Where the markdown and the conformance tool's code differ, the code is followed (DOMAIN.md §2): the tool
derives every filter value from the first footprint ListFootprints returns, takes the first ``Link`` entry
of ``?limit=1``, accepts 400 or 401 for bad tokens (code BadRequest expected), and case 40 POSTs a
PublishedEvent whose pfId is a URN. Responses are checked against the PACT 3.0.4 OpenAPI schemas (the conformance service's MIT copy,
vendored in tests/fixtures/pact/openapi).
"""

from __future__ import annotations

from pact_reference import OPENAPI as OPENAPI_FILE
import json
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from pact_host import RECEIVER_ID, RECEIVER_SECRET, Receiver, isolated_settings, pact_host, publish, reference_footprints, running, wait_for
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.pact_api.auth import Callback
from pcfx.connectors.pact_api.events import PUBLISHED, REQUEST_CREATED
from pcfx.connectors.kafka_io import end_offsets, read_to_end
from pcfx.connectors.pact_api.tls import certificate_files
from pcfx.connectors.pact_client import PactClient
from pcfx.settings import Settings

OPENAPI = OPENAPI_FILE
TOOL = ("conformance-tool", "urn:pact:conformance.example:company-id:tool")  # client id, its company
STRANGER = ("stranger", "urn:pact:stranger.example:company-id:1")  # a client of a company granted nothing
NIL = "00000000-0000-0000-0000-000000000000"
RUN = f"run-{uuid.uuid4().hex[:8]}"  # the tool's testRunId; request event ids are "<run>/12", "<run>/14.A"


@dataclass
class World:
    settings: Settings
    host: Host
    receiver: Receiver
    http: httpx.Client  # HTTPS to the host, trusting its self-signed certificate
    trust: ssl.SSLContext
    base: str
    secret: str
    footprints: list[dict[str, Any]]  # what ListFootprints returned at the start (the tool's "initial fetch")

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token()}"}

    def token(self, client: tuple[str, str] = TOOL, secret: str | None = None) -> str:
        response = self.http.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(client[0], secret or self.secret))
        return response.json()["access_token"]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, headers=self.auth(), **kwargs)

    def post_event(self, event: dict[str, Any], token: str | None = None) -> httpx.Response:
        headers = {**self.auth(token), "Content-Type": "application/cloudevents+json; charset=UTF-8"}
        return self.http.post("/3/events", content=json.dumps(event), headers=headers)


@pytest.fixture(scope="module")
def world(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("pact")
    receiver = Receiver(folder)
    seeded = reference_footprints()
    with isolated_settings(kafka, folder) as settings, running(receiver.server()), pact_host(settings) as host:
        secret = host.clients.add(*TOOL, callback=Callback(receiver.url, RECEIVER_ID, RECEIVER_SECRET, verify_tls=False))
        for owner in {pf["companyIds"][0] for pf in seeded}:
            host.readmodel.grant(TOOL[1], owner_company=owner)
        publish(settings, seeded)
        trust = ssl.create_default_context(cafile=str(certificate_files(settings)[0]))
        base = f"https://127.0.0.1:{settings.api_port}"
        with httpx.Client(base_url=base, verify=trust, timeout=10) as http:
            world = World(settings, host, receiver, http, trust, base, secret, [])
            wait_for(lambda: len(world.get("/3/footprints").json()["data"]) == len(seeded), "the read model to hold the seed")
            world.footprints = world.get("/3/footprints").json()["data"]
            yield world


def schema(name: str) -> Draft202012Validator:
    """A validator for ``#/components/schemas/<name>`` of the PACT 3.0.4 OpenAPI (test-time only)."""
    document = yaml.safe_load(OPENAPI.read_text())
    registry = Registry().with_resource("urn:pact", Resource.from_contents(document, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:pact#/components/schemas/{name}"}, registry=registry)


def assert_footprints(body: dict[str, Any]) -> list[dict[str, Any]]:
    validator = schema("ProductFootprint")
    for footprint in body["data"]:
        validator.validate(footprint)
    return body["data"]


def first(world: World) -> dict[str, Any]:
    return world.footprints[0]


def window(footprint: dict[str, Any]) -> tuple[datetime, datetime]:
    """The tool's validity window: both validity fields, else referencePeriodEnd .. + 3 years."""
    if footprint.get("validityPeriodStart") and footprint.get("validityPeriodEnd"):
        return parse(footprint["validityPeriodStart"]), parse(footprint["validityPeriodEnd"])
    end = parse(footprint["pcf"]["referencePeriodEnd"])
    return end, end.replace(year=end.year + 3)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def listed(world: World, query: str) -> list[dict[str, Any]]:
    response = world.get(f"/3/footprints?{query}")
    assert response.status_code == 200, response.text
    return assert_footprints(response.json())


def plain_http_gets_nothing(world: World, method: str, path: str, **kwargs: Any) -> None:
    """Cases 9-11, 17: the same call over http:// to the TLS port yields no token and no data."""
    url = world.base.replace("https://", "http://") + path
    try:
        response = httpx.request(method, url, timeout=5, **kwargs)
    except httpx.HTTPError:
        return  # the TLS port does not speak plain HTTP: connection closed, nothing sent
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    assert "data" not in body and "access_token" not in body


# -- Authenticate ------------------------------------------------------------------------------------------


def test_01_token_with_valid_credentials(world):
    response = world.http.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(TOOL[0], world.secret))
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer" and response.json()["access_token"]


def test_02_token_with_invalid_credentials(world):
    response = world.http.post("/auth/token", data={"grant_type": "client_credentials"}, auth=("nobody", "wrong"))
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


def test_18_19_openid_connect_discovery_flow(world):
    endpoint = world.http.get("/.well-known/openid-configuration").json()["token_endpoint"]
    good = world.http.post(endpoint, data={"grant_type": "client_credentials"}, auth=(TOOL[0], world.secret))
    bad = world.http.post(endpoint, data={"grant_type": "client_credentials"}, auth=(TOOL[0], "wrong"))
    assert good.status_code == 200 and bad.status_code in (400, 401)


# -- GetFootprint and ListFootprints ----------------------------------------------------------------------


def test_03_get_footprint(world):
    response = world.get(f"/3/footprints/{first(world)['id']}")
    assert response.status_code == 200
    schema("ProductFootprint").validate(response.json()["data"])
    assert response.json()["data"]["id"] == first(world)["id"]


def test_04_list_footprints_returns_all_of_the_initial_fetch(world):
    assert len(listed(world, "")) == len(world.footprints) == 62


def test_05_pagination_link(world):
    link = world.get("/3/footprints?limit=1").headers["link"]
    url = link.split(", ")[0].split(">")[0].lstrip("<")  # the tool takes the first entry
    assert url.startswith(world.base + "/3/footprints?")
    response = world.get(url.replace(world.base, ""))
    assert response.status_code == 200 and len(assert_footprints(response.json())) == 1
    assert world.get(url.replace(world.base, "")).json() == response.json()  # callable again, same result


def test_05_following_every_link_returns_each_footprint_once(world):
    with PactClient(world.base, TOOL[0], world.secret, verify=world.trust) as client:
        assert sorted(pf["id"] for pf in client.list_footprints(limit=7)) == sorted(pf["id"] for pf in world.footprints)


@pytest.mark.parametrize("path", ["/3/footprints", "/3/footprints/{id}"])
def test_06_07_invalid_token(world, path):
    response = world.http.get(path.format(id=first(world)["id"]), headers=world.auth("very-invalid-access-token-x"))
    assert response.status_code in (400, 401) and response.json()["code"] == "BadRequest"


def test_08_get_footprint_with_non_existent_id(world):
    response = world.get(f"/3/footprints/{NIL}")
    assert response.status_code in (400, 404) and response.json()["code"] in ("NotFound", "BadRequest")


def test_09_authentication_through_plain_http(world):
    plain_http_gets_nothing(world, "POST", "/auth/token", data={"grant_type": "client_credentials"}, auth=(TOOL[0], world.secret))


def test_10_11_list_and_get_through_plain_http(world):
    plain_http_gets_nothing(world, "GET", "/3/footprints", headers=world.auth())
    plain_http_gets_nothing(world, "GET", f"/3/footprints/{first(world)['id']}", headers=world.auth())


def test_20_filter_product_id(world):
    product = first(world)["productIds"][0]
    found = listed(world, f"productId={product}")
    assert found and all(product in pf["productIds"] for pf in found)


def test_21_filter_company_id(world):
    company = first(world)["companyIds"][0]
    found = listed(world, f"companyId={company}")
    assert found and all(company in pf["companyIds"] for pf in found)


def test_22_filter_geography(world):
    pcf = first(world)["pcf"]
    geography = pcf.get("geographyCountry") or pcf.get("geographyRegionOrSubregion") or pcf.get("geographyCountrySubdivision")
    fields = ("geographyCountry", "geographyRegionOrSubregion", "geographyCountrySubdivision")
    found = listed(world, f"geography={geography}")
    assert found and all(geography in (pf["pcf"].get(f) for f in fields) for pf in found)
    assert len(listed(world, "geography=")) == len(world.footprints)  # the tool's query for a footprint without one


def test_23_filter_classification(world):
    classified = next(pf for pf in world.footprints if pf.get("productClassifications"))
    classification = classified["productClassifications"][0]
    found = listed(world, f"classification={classification}")
    assert found and all(classification in pf["productClassifications"] for pf in found)


def test_24_filter_valid_on(world):
    start, _ = window(first(world))
    found = listed(world, f"validOn={iso(start)}")
    assert first(world)["id"] in [pf["id"] for pf in found]
    assert all(window(pf)[0] <= start <= window(pf)[1] for pf in found)


def test_25_filter_valid_after(world):
    start, _ = window(first(world))
    after = start - timedelta(days=1)
    found = listed(world, f"validAfter={iso(after)}")
    assert first(world)["id"] in [pf["id"] for pf in found]
    assert all(window(pf)[0] > after for pf in found)


def test_26_filter_valid_before(world):
    _, end = window(first(world))
    before = end + timedelta(days=1)
    found = listed(world, f"validBefore={iso(before)}")
    assert first(world)["id"] in [pf["id"] for pf in found]
    assert all(window(pf)[1] < before for pf in found)


def test_27_filter_status(world):
    found = listed(world, f"status={first(world)['status']}")
    assert found and all(pf["status"] == first(world)["status"] for pf in found)


def test_28_filter_status_and_product_id(world):
    product, status = first(world)["productIds"][0], first(world)["status"]
    found = listed(world, f"status={status}&productId={product}")
    assert found and all(pf["status"] == status and product in pf["productIds"] for pf in found)


def test_29_or_within_a_criterion(world):
    company = first(world)["companyIds"][0]
    found = listed(world, f"companyId={company}&companyId=AbCdEfGh&companyId=urn:bogus:company:x")
    assert found and all(company in pf["companyIds"] for pf in found)


@pytest.mark.parametrize(
    "query",
    [
        "productId=urn:bogus:product:nonexistent123",  # 30
        "companyId=urn:bogus:company:nonexistent456",  # 31
        "geography=XX",  # 32
        "classification=urn:bogus:classification:nonexistent789",  # 33
        "validOn=1900-01-01T00:00:00Z",  # 34
        "validAfter=2099-12-31T23:59:59Z",  # 35
        "validBefore=1900-01-01T00:00:00Z",  # 36
        "status=BogusStatusValue",  # 37: an unknown status must not be a 400
        "companyId=urn:bogus:company:5FIi8zS3&productId=urn:bogus:product:nonexistent123",  # 38
        "companyId=urn:bogus:company:a&companyId=urn:bogus:company:b&companyId=urn:bogus:company:c",  # 39
    ],
)
def test_30_to_39_filters_matching_nothing_give_an_empty_list(world, query):
    response = world.get(f"/3/footprints?{query}")
    assert (response.status_code, response.json()) == (200, {"data": []})


# -- Events ------------------------------------------------------------------------------------------------


def event(type_: str, event_id: str, source: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "source": source, "time": iso(datetime.now().astimezone()), "type": type_,
            "data": data}


def test_12_13_request_is_fulfilled_by_a_callback_to_the_requester(world):
    product_ids = first(world)["productIds"]
    request = event(REQUEST_CREATED, f"{RUN}/12", world.receiver.url, {"productId": product_ids, "comment": "this year"})
    response = world.post_event(request)
    assert (response.status_code, response.content) == (200, b"")
    answer = wait_for(lambda: world.receiver.answer_to(f"{RUN}/12"), "the RequestFulfilledEvent")
    schema("RequestFulfilledEvent").validate(answer)
    assert answer["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    assert any(p in pf["productIds"] for pf in answer["data"]["pfs"] for p in product_ids)
    assert set(world.receiver.paths) == {"/3/events"}


def test_14_request_for_urn_pact_null_is_rejected_by_a_callback(world):
    request = event(REQUEST_CREATED, f"{RUN}/14.A", world.receiver.url, {"productId": ["urn:pact:null"]})
    assert world.post_event(request).status_code == 200
    answer = wait_for(lambda: world.receiver.answer_to(f"{RUN}/14.A"), "the RequestRejectedEvent")
    schema("RequestRejectedEvent").validate(answer)
    assert answer["type"] == "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3"
    assert answer["data"]["error"]["code"] and answer["data"]["error"]["message"]


def test_15_published_event_with_unknown_id_is_accepted_and_recorded_on_kafka(world):
    published = event(PUBLISHED, str(uuid.uuid4()), world.receiver.url, {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]})
    assert world.post_event(published).status_code == 200
    recorded = wait_for(lambda: [e for e in inbound_events(world.settings) if e["id"] == published["id"]], "the inbound event")
    assert recorded[0]["data"] == published["data"]


def test_16_events_with_invalid_token(world):
    published = event(PUBLISHED, f"{RUN}/16", world.receiver.url, {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]})
    response = world.post_event(published, token="very-invalid-access-token-x")
    assert response.status_code in (400, 401) and response.json()["code"] == "BadRequest"


def test_17_events_through_plain_http(world):
    published = event(PUBLISHED, f"{RUN}/17", world.receiver.url, {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]})
    plain_http_gets_nothing(world, "POST", "/3/events", json=published, headers=world.auth())


def test_40_published_event_with_a_urn_instead_of_a_uuid_is_400(world):
    malformed = event(PUBLISHED, str(uuid.uuid4()), world.receiver.url, {"pfIds": ["urn:gtin:4712345060507"]})
    response = world.post_event(malformed)
    assert response.status_code == 400 and "not a footprint id" in response.json()["message"]


def inbound_events(settings: Settings) -> list[dict[str, Any]]:
    return list(read_to_end(settings, settings.topic("inbound-events"), lambda _key, value: json.loads(value)))


# -- beyond the suite: one company never reads another's footprints -----------------------------------------


def test_a_company_granted_nothing_sees_nothing_by_any_route(world):
    secret = world.host.clients.add(*STRANGER, callback=Callback(world.receiver.url, RECEIVER_ID, RECEIVER_SECRET, verify_tls=False))
    token = world.token(STRANGER, secret)
    assert world.http.get("/3/footprints", headers=world.auth(token)).json() == {"data": []}
    denied = world.http.get(f"/3/footprints/{first(world)['id']}", headers=world.auth(token))
    assert (denied.status_code, denied.json()["code"]) == (403, "AccessDenied")
    request = event(REQUEST_CREATED, f"{RUN}/stranger", world.receiver.url, {"productId": first(world)["productIds"]})
    assert world.post_event(request, token=token).status_code == 200
    answer = wait_for(lambda: world.receiver.answer_to(f"{RUN}/stranger"), "the stranger's answer")
    assert answer["data"]["error"]["code"] == "NotFound" and "pfs" not in answer["data"]


# -- beyond the suite: the read model and the answers survive restarts -------------------------------------


def applied_everything(host: Host, settings: Settings, topics: tuple[str, ...]) -> bool:
    """Has the host stored offsets at the end of every partition of ``topics``?"""
    ends = end_offsets(settings, [settings.topic(t) for t in topics])
    stored = {(row["topic"], row["partition"]): row["next_offset"]
              for row in host.store.conn.execute("SELECT * FROM offsets")}
    return all(stored.get((tp.topic, tp.partition), 0) == end for tp, end in ends.items())


def test_read_model_resumes_after_a_restart_and_rebuilds_by_replaying(settings):
    seed = reference_footprints()[:5]
    publish(settings, seed)
    host = Host.open(settings)
    host.start()
    wait_for(lambda: host.readmodel.count() == 5, "the first five footprints")
    host.close()

    host = Host.open(settings)  # same data dir: the database survived
    assert host.readmodel.count() == 5
    host.start()
    publish(settings, [reference_footprints()[5]])
    wait_for(lambda: applied_everything(host, settings, ("footprints", "derived")), "the follower to catch up")
    assert host.readmodel.count() == 6 and host.followers[0].applied == 1  # resumed: only the new record
    host.close()

    host = Host.open(settings)
    host.rebuild()
    assert host.readmodel.count() == 0
    host.start()
    wait_for(lambda: host.readmodel.count() == 6, "the replay")
    deprecated = dict(seed[0], status="Deprecated")
    publish(settings, [deprecated], topic="derived")
    wait_for(lambda: (host.readmodel.get(seed[0]["id"]) or {}).get("status") == "Deprecated", "the re-publication")
    host.close()


def test_an_answer_that_could_not_be_delivered_is_delivered_once_after_a_restart(settings, tmp_path):
    receiver = Receiver(tmp_path)  # not running yet: the requester's host is down
    host = Host.open(settings)
    secret = host.clients.add(*TOOL, callback=Callback(receiver.url, RECEIVER_ID, RECEIVER_SECRET, verify_tls=False))
    publish(settings, reference_footprints()[:1])
    host.readmodel.grant(TOOL[1], owner_company=reference_footprints()[0]["companyIds"][0])
    with pact_host(settings, host):
        trust = ssl.create_default_context(cafile=str(certificate_files(settings)[0]))
        with httpx.Client(base_url=f"https://127.0.0.1:{settings.api_port}", verify=trust) as http:
            wait_for(lambda: host.readmodel.count() == 1, "the seed")
            token = http.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(TOOL[0], secret)).json()["access_token"]
            request = event(REQUEST_CREATED, f"{RUN}/restart", receiver.url, {"productId": reference_footprints()[0]["productIds"]})
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents+json"}
            assert http.post("/3/events", content=json.dumps(request), headers=headers).status_code == 200
            wait_for(lambda: (host.store.conn.execute("SELECT sum(attempts) FROM deliveries").fetchone()[0] or 0) >= 2,
                     "two failed attempts")
    with running(receiver.server()), pact_host(settings):
        answer = wait_for(lambda: receiver.answer_to(f"{RUN}/restart"), "the answer after the restart")
        assert answer["type"] == "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    assert [e["data"]["requestEventId"] for e in receiver.events] == [f"{RUN}/restart"]

