"""Checking inbound CloudEvents: every refusal names what is wrong."""

from __future__ import annotations

import json

import pytest

from pact_samples import footprint
from pcfx.connectors.pact_api.errors import ApiError
from pcfx.connectors.pact_api.events import PUBLISHED, REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED, parse_event

MEDIA = "application/cloudevents+json; charset=UTF-8"


def event(type_: str, data: object, **attributes: object) -> dict:
    base = {"specversion": "1.0", "id": "run-1/12", "source": "https://requester.example", "time": "2025-05-19T10:30:00Z",
            "type": type_, "data": data}
    return {**base, **attributes}


def parse(body: object, media: str = MEDIA):
    return parse_event(json.dumps(body).encode(), media)


def refusal(body: object, media: str = MEDIA) -> str:
    with pytest.raises(ApiError) as caught:
        parse(body, media)
    assert caught.value.status == 400
    return caught.value.message


def test_request_created_event_is_accepted_with_its_criteria():
    parsed = parse(event(REQUEST_CREATED, {"productId": ["urn:gtin:4712345060507"], "comment": "this year"}))
    assert parsed.type == REQUEST_CREATED and parsed.criteria().productId == ("urn:gtin:4712345060507",)


def test_published_event_with_unknown_but_well_formed_ids_is_accepted():
    assert parse(event(PUBLISHED, {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]})).data["pfIds"]


def test_published_event_with_a_urn_instead_of_a_uuid_is_refused():  # conformance test case 40
    assert "'urn:gtin:4712345060507', which is not a footprint id" in refusal(event(PUBLISHED, {"pfIds": ["urn:gtin:4712345060507"]}))


def test_fulfilled_and_rejected_answers_are_checked():
    assert parse(event(REQUEST_FULFILLED, {"requestEventId": "r1", "pfs": [footprint()]}))
    assert parse(event(REQUEST_REJECTED, {"requestEventId": "r1", "error": {"code": "NotFound", "message": "none"}}))
    assert "data.pfs must be a non-empty array" in refusal(event(REQUEST_FULFILLED, {"requestEventId": "r1", "pfs": []}))
    bad = footprint(pcf={"declaredUnitAmount": "0"})
    assert refusal(event(REQUEST_FULFILLED, {"requestEventId": "r1", "pfs": [bad]})).startswith("data.pfs[0]: ")
    assert "data.error must be an object" in refusal(event(REQUEST_REJECTED, {"requestEventId": "r1", "error": "no"}))


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("not an object", "one CloudEvent JSON object"),
        (event(PUBLISHED, {"pfIds": []}, specversion="0.3"), "specversion"),
        ({"specversion": "1.0"}, "'id' must be a non-empty string"),
        (event("org.wbcsd.pathfinder.ProductFootprint.Published.v1", {}), "a PACT v2 event"),
        (event(PUBLISHED, {"pfIds": ["3a6c14a7-4deb-498a-b5ea-16ce2535b576"]}, time="noon"), "time 'noon'"),
        (event(PUBLISHED, ["x"]), "data must be a JSON object"),
        (event(REQUEST_CREATED, {"comment": "no criteria"}), "at least one criterion"),
        (event(REQUEST_CREATED, {"pf": {"productIds": ["urn:a"]}}), "data.pf is not a PACT v3 request criterion"),
    ],
)
def test_malformed_events_are_refused_with_the_reason(body, needle):
    assert needle in refusal(body)


def test_wrong_media_type_and_non_json_are_refused():
    assert "Content-Type 'text/plain'" in refusal(event(PUBLISHED, {}), media="text/plain")
    with pytest.raises(ApiError, match="not JSON"):
        parse_event(b"{nope", MEDIA)
