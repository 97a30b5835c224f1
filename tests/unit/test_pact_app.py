"""The host's routes in-process (no TLS, no Kafka): status codes and bodies a PACT client relies on."""

from __future__ import annotations

import json

import pytest
import yaml
from starlette.testclient import TestClient

from pact_samples import footprint
from pcfx.connectors.pact_api.app import create_app
from pcfx.connectors.pact_api.host import Host
from pcfx.connectors.pact_api.auth import Callback
from pcfx.connectors.pact_api.events import REQUEST_CREATED
from pcfx.settings import Settings

OWN = "urn:pact:wuxi-frames.cn:company-id:1"  # the company of footprint()
OTHER = "urn:pact:zj-cells.cn:company-id:7"
NIL = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def host(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path, bootstrap_servers="127.0.0.1:1", api_public_url="https://pact.test")
    return Host.open(settings)


@pytest.fixture
def api(host):
    with TestClient(create_app(host.settings, host=host, background=False), base_url="https://pact.test") as client:
        yield client


def seed(host, *pfs, topic="footprints"):
    with host.store.transaction() as conn:
        for index, pf in enumerate(pfs):
            host.readmodel.put(conn, topic, f"key-{index}", pf)
    return pfs


def token(api, host, client_id="frames", company=OWN, callback=None):
    secret = host.clients.add(client_id, company, callback=callback)
    response = api.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_token_response_has_the_rfc_6749_shape(api, host):
    secret = host.clients.add("frames", OWN)
    response = api.post("/auth/token", data={"grant_type": "client_credentials"}, auth=("frames", secret))
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", host.settings.token_ttl_s)
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("auth", "data", "status", "error"),
    [
        (("frames", "wrong"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (None, {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (("frames", "any"), {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (("frames", "any"), {}, 400, "invalid_request"),
    ],
)
def test_token_endpoint_refusals(api, host, auth, data, status, error):
    host.clients.add("frames", OWN)
    response = api.post("/auth/token", data=data, auth=auth)
    assert (response.status_code, response.json()["error"]) == (status, error)


def test_openid_configuration_advertises_the_token_endpoint(api):
    assert api.get("/.well-known/openid-configuration").json()["token_endpoint"] == "https://pact.test/auth/token"


def test_without_a_public_url_the_host_header_is_never_reflected(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path, bootstrap_servers="127.0.0.1:1", api_port=8443)
    with TestClient(create_app(settings, background=False), base_url="https://evil.example") as api:
        document = api.get("/.well-known/openid-configuration").json()
    assert document["token_endpoint"] == "https://127.0.0.1:8443/auth/token"  # issue 17.5


def test_list_without_a_valid_token_is_401_bad_request(api):
    for headers in ({}, {"Authorization": "Bearer very-invalid-access-token"}):
        response = api.get("/3/footprints", headers=headers)
        assert (response.status_code, response.json()["code"]) == (401, "BadRequest")


def test_list_shows_own_footprints_and_empty_list_when_nothing_matches(api, host):
    mine, theirs = seed(host, footprint(), footprint(companyIds=[OTHER]))
    auth = token(api, host)
    assert [pf["id"] for pf in api.get("/3/footprints", headers=auth).json()["data"]] == [mine["id"]]
    for query in ("productId=urn:bogus:product:x", "geography=XX", "status=BogusStatus", "validOn=1900-01-01T00:00:00Z"):
        response = api.get(f"/3/footprints?{query}", headers=auth)
        assert (response.status_code, response.json()) == (200, {"data": []})


def test_pagination_links_walk_everything_once_and_can_be_called_again(api, host):
    pfs = seed(host, *(footprint() for _ in range(5)))
    auth = token(api, host)
    seen, url = [], "/3/footprints?limit=2"
    while url:
        response = api.get(url, headers=auth)
        assert len(response.json()["data"]) <= 2
        seen += [pf["id"] for pf in response.json()["data"]]
        link = response.headers.get("link")
        if link and len(seen) == 2:
            again = api.get(link[1 : link.index(">")], headers=auth)
            assert again.json() == api.get(link[1 : link.index(">")], headers=auth).json()
        url = link[1 : link.index(">")] if link else None
    assert seen == [pf["id"] for pf in pfs]


def test_malformed_query_is_400_naming_the_parameter(api, host):
    auth = token(api, host)
    for query, needle in (("limit=0", "limit"), ("validOn=soon", "validOn"), ("$filter=x", "$filter")):
        response = api.get(f"/3/footprints?{query}", headers=auth)
        assert response.status_code == 400 and needle in response.json()["message"]


def test_get_footprint_404_403_and_deprecated_still_served(api, host):
    mine, theirs = seed(host, footprint(status="Deprecated"), footprint(companyIds=[OTHER]))
    auth = token(api, host)
    assert api.get(f"/3/footprints/{mine['id']}", headers=auth).json()["data"]["status"] == "Deprecated"
    for pf_id in (NIL, "random-string-as-id"):
        response = api.get(f"/3/footprints/{pf_id}", headers=auth)
        assert (response.status_code, response.json()["code"]) == (404, "NotFound")
    response = api.get(f"/3/footprints/{theirs['id']}", headers=auth)
    assert (response.status_code, response.json()["code"]) == (403, "AccessDenied")


def test_request_from_a_client_without_callback_or_from_a_foreign_source_is_400(api, host):
    request = {"specversion": "1.0", "id": "r1", "source": "https://elsewhere.example", "time": "2025-05-19T10:30:00Z",
               "type": REQUEST_CREATED, "data": {"productId": ["urn:pact:wuxi-frames.cn:product-id:frame-1"]}}
    headers = {**token(api, host), "Content-Type": "application/cloudevents+json"}
    response = api.post("/3/events", content=json.dumps(request), headers=headers)
    assert response.status_code == 400 and "no callback registered" in response.json()["message"]
    callback = Callback("https://oem.example/pact", "us", "secret")
    headers = {**token(api, host, "oem", OTHER, callback), "Content-Type": "application/cloudevents+json"}
    response = api.post("/3/events", content=json.dumps(request), headers=headers)
    assert response.status_code == 400 and "not under the callback URL" in response.json()["message"]


def test_events_with_invalid_token_are_401(api):
    response = api.post("/3/events", content=b"{}", headers={"Authorization": "Bearer nope"})
    assert (response.status_code, response.json()["code"]) == (401, "BadRequest")


def test_unknown_route_and_method_answer_in_the_pact_error_shape(api):
    assert api.get("/3/nothing").json()["code"] == "NotFound"
    response = api.delete("/3/footprints")
    assert (response.status_code, response.json()["code"]) == (405, "BadRequest")
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}  # issue 17.5: a 405 says what is allowed
    assert api.get("/3/events").headers["allow"] == "POST"


def test_deeply_nested_json_is_a_400_not_a_500(api, host):  # issue 17.5: RecursionError
    headers = {**token(api, host), "Content-Type": "application/cloudevents+json"}
    deep = b"[" * 5000 + b"]" * 5000
    events = api.post("/3/events", content=deep, headers=headers)
    assert (events.status_code, events.json()["message"]) == (400, "the body nests JSON too deeply")
    subscriptions = api.post("/3/subscriptions", content=deep, headers=headers)
    assert subscriptions.status_code == 400 and "not JSON" in subscriptions.json()["message"]


def test_an_event_larger_than_a_kafka_record_is_a_413(api, host):  # issue 17.5: was a 500 naming Kafka internals
    headers = {**token(api, host), "Content-Type": "application/cloudevents+json"}
    response = api.post("/3/events", content=b"{" + b" " * (1024 * 1024) + b"}", headers=headers)
    assert response.status_code == 413 and "larger than" in response.json()["message"]
    assert "kafka" not in response.text.lower()


def test_the_openapi_document_is_served(api):
    document = yaml.safe_load(api.get("/openapi.yaml").text)
    assert {"/auth/token", "/3/footprints", "/3/footprints/{id}", "/3/events"} <= set(document["paths"])


def test_the_direct_inputs_schema_is_served_where_derived_footprints_point_and_validates_their_data(api):
    import jsonschema

    from pcfx.streams.derive import inputs_schema_url

    url = inputs_schema_url(api.app.state.host.settings.api_base_url())
    assert url == "https://pact.test/extensions/direct-inputs/1.0.0/schema.json"
    response = api.get(url)  # public, like the OpenAPI document: no token
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/schema+json")
    schema = response.json()
    jsonschema.Draft202012Validator.check_schema(schema)
    data = {"directInputs": [{"pfId": "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", "quantity": "2", "unit": "kilogram"},
                             {"pfId": None, "quantity": "-0.5"}]}
    jsonschema.validate(data, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"directInputs": [{"quantity": "2"}]}, schema)  # pfId is required (null when missing)


def test_the_ingest_notes_schema_is_served_and_notes_point_to_it(api):
    import jsonschema

    from pact_samples import footprint as sample
    from pcfx.schemas.ingest_notes import PCFX_EXTENSION_PATH, PCFX_EXTENSION_URN, pcfx_extension_url
    from pcfx.schemas.models import ProductFootprint

    schema = api.get(PCFX_EXTENSION_PATH).json()  # public: no token
    jsonschema.Draft202012Validator.check_schema(schema)
    emitted = ProductFootprint.from_json(sample(pcf={"primaryDataShare": "0.005"})).to_json()
    [notes] = [e for e in emitted["extensions"] if e["dataSchema"] == pcfx_extension_url()]
    assert notes["dataSchema"].startswith("https://") and notes["dataSchema"].endswith(PCFX_EXTENSION_PATH)
    jsonschema.validate(notes["data"], schema)
    older = {**emitted, "extensions": [{**notes, "dataSchema": PCFX_EXTENSION_URN}]}
    assert ProductFootprint.from_json(older).normalisations == ProductFootprint.from_json(emitted).normalisations != []
