"""Issue 17.5: `pcfx publish` checks and sizes every record before sending any, on the real broker."""

from __future__ import annotations

import copy
import json

from test_publish_and_dlq import run_pcfx

from pcfx.connectors.kafka_io import end_offsets
from pcfx.schemas.samples import FOOTPRINT
from pcfx.settings import Settings


def nothing_sent(settings: Settings) -> bool:
    return sum(end_offsets(settings, [settings.topic("footprints")]).values()) == 0


def test_a_too_large_footprint_after_a_good_one_sends_neither(settings: Settings) -> None:
    large = copy.deepcopy(FOOTPRINT)
    large["id"] = "9e2c0b0e-3b7a-4d53-8f2e-1f0a6c5d7e01"
    large["productDescription"] = "x" * (1024 * 1024 + 1)
    result = run_pcfx(settings, "publish", "-", stdin=json.dumps([FOOTPRINT, large]))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"footprint {large['id']}" in result.stderr and "more than one Kafka record takes" in result.stderr
    assert nothing_sent(settings)


def test_control_characters_in_product_ids_and_huge_decimals_are_refused_at_publish(settings: Settings) -> None:
    documents = []
    for product in ("urn:pcfx:product:a\x00b", "urn:pcfx:product:a\x07b", "urn:pcfx:product:\u202eabc", "urn:pcfx:product:a\nb"):
        bad = copy.deepcopy(FOOTPRINT)
        bad["productIds"] = [product]
        documents.append(bad)
    huge = copy.deepcopy(FOOTPRINT)
    huge["pcf"]["pcfExcludingBiogenicUptake"] = "1" * 401
    result = run_pcfx(settings, "publish", "-", stdin=json.dumps([*documents, huge]))
    assert result.returncode == 1
    for code in ("U+0000", "U+0007", "U+202E", "U+000A"):
        assert code in result.stderr
    assert "pcf.pcfExcludingBiogenicUptake" in result.stderr and "401 characters" in result.stderr
    assert nothing_sent(settings)


def test_publish_names_the_publisher_and_it_must_be_the_footprints_company(settings: Settings) -> None:
    refused = run_pcfx(settings, "publish", "--company", "urn:pcfx:company:evil", "-", stdin=json.dumps(FOOTPRINT))
    assert refused.returncode == 1 and "do not include --company urn:pcfx:company:evil" in refused.stderr
    assert nothing_sent(settings)
    result = run_pcfx(settings, "publish", "--company", FOOTPRINT["companyIds"][0], "-", stdin=json.dumps(FOOTPRINT))
    assert result.returncode == 0, result.stderr
