"""Subscriptions without a broker: the contract, the CLI's refusals, the watch table, the API's label table."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from pcfx.cli import main
import pcfx.connectors.buyer as buyer_module
from pcfx.connectors.buyer import RequestError, entitlement_for, owners_in, subscriptions_for
from pcfx.connectors.label_api import SCHEMA, apply_label, label_of, subscription_request
from pcfx.connectors.pact_api.errors import ApiError
from pcfx.connectors.watch_cli import age_text, change_text, for_people, render_table
from pcfx.schemas.errors import ContractError
from pcfx.schemas.models import CarbonLabel, ProductFootprint, ProductRecipe
from pcfx.schemas.samples import FOOTPRINT, LABEL, RECIPE, one_input_recipe
from pcfx.schemas.subscriptions import Entitlement, Subscription, SubscriptionStatus, WebhookAttempt
from pcfx.streams.codec import decode_model, encode_model

BUYER = "urn:pact:oem.example:company-id:1"
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_every_record_round_trips_through_avro():
    records = [
        Subscription(buyer_id=BUYER, product_id="urn:pcfx:product:0042", webhook_url="https://oem.example/h",
                     created_at=NOW),
        Entitlement(supplier_company_id="urn:pact:steel.example:company-id:2", buyer_id=BUYER,
                    product_id="urn:pcfx:product:0042", granted=False, created_at=NOW),
        SubscriptionStatus(buyer_id=BUYER, product_id="urn:pcfx:product:0042", state="rejected", reason="why",
                           updated_at=NOW),
        WebhookAttempt(version=3, delivered=True, attempted_at=NOW),
    ]
    for record in records:
        assert decode_model(type(record), encode_model(record)) == record


def test_keys_join_the_ids_with_a_bar_they_cannot_contain():
    subscription = subscriptions_for(BUYER, ["0042"], now=NOW)[0]
    assert subscription.key == f"{BUYER}|urn:pcfx:product:0042"
    grant = entitlement_for("urn:pact:steel.example:company-id:2", BUYER, "0042", now=NOW)
    assert grant.key == f"urn:pact:steel.example:company-id:2|{BUYER}|urn:pcfx:product:0042"
    with pytest.raises(ContractError, match=r"buyerId = 'urn:pact:a\|b'"):
        Subscription.from_json({"buyerId": "urn:pact:a|b", "productId": "urn:x-y:1", "createdAt": "2025-01-01T00:00:00Z"})


@pytest.mark.parametrize(
    ("buyer", "products", "webhook", "message"),
    [
        ("  ", ["0042"], None, "the buyer is empty"),
        ("oem", ["0042"], None, "buyerId = 'oem': not a URN"),
        (BUYER, [""], None, "a product id is empty"),
        (BUYER, [], None, "no product"),
        (BUYER, ["urn:gtin"], None, "productId = 'urn:gtin': not a URN"),
        (BUYER, ["0042"], "ftp://oem.example/h", "webhookUrl = 'ftp://oem.example/h': not an absolute http"),
    ],
)
def test_malformed_subscription_requests_are_refused_naming_the_field(buyer, products, webhook, message):
    with pytest.raises(RequestError, match=message.replace("(", r"\(")):
        subscriptions_for(buyer, products, webhook)


def test_the_cli_refuses_bad_input_in_one_line_with_exit_2_before_touching_kafka():
    env = {"PCFX_BOOTSTRAP_SERVERS": "127.0.0.1:1"}  # nothing listens there: a refusal must come first
    result = CliRunner().invoke(main, ["subscribe", "--buyer", "", "--product", "0042"], env=env)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert result.output.startswith("pcfx subscribe: the buyer is empty")
    result = CliRunner().invoke(main, ["entitle", "--supplier", "steel", "--buyer", BUYER, "--product", "0042"], env=env)
    assert result.exit_code == 2 and "supplierCompanyId = 'steel': not a URN" in result.output
    result = CliRunner().invoke(main, ["watch", "--buyer", "oem 1", "--once"], env=env)
    assert result.exit_code == 2 and "--buyer 'oem 1'" in result.output


# -- who owns a product (pcfx entitle's check) ----------------------------------------------------------------


def test_owners_are_the_companies_of_the_latest_records_naming_the_product_and_only_those_are_decoded(monkeypatch):
    frame_owner, other = "urn:pact:wuxi-frames.cn:company-id:1", "urn:pact:other.example:company-id:9"
    unrelated = [encode_model(ProductRecipe.from_json(one_input_recipe(f"part-{n}", other, "Other", "1", "ore", "2")))
                 for n in range(20)]
    frame = encode_model(ProductRecipe.from_json(RECIPE))  # product 0042
    coil = encode_model(ProductFootprint.from_json(FOOTPRINT))
    records = [("recipes", f"part-{n}".encode(), value) for n, value in enumerate(unrelated)]
    records += [("recipes", b"0042", frame), ("footprints", b"coil", coil), ("recipes", b"bad", b"not avro")]
    decoded = []

    def counting(cls, data):
        decoded.append(data)
        return decode_model(cls, data)

    monkeypatch.setattr(buyer_module, "decode_model", counting)
    assert owners_in(records, "urn:pcfx:product:0042") == [frame_owner]
    assert decoded == [frame]  # a record naming another product is never decoded whole
    assert owners_in(records, "urn:pcfx:product:part-3") == [other]
    assert owners_in(records, FOOTPRINT["productIds"][0]) == FOOTPRINT["companyIds"]
    assert owners_in(records, "urn:pcfx:product:nowhere") is None
    moved = encode_model(ProductRecipe.from_json({**RECIPE, "companyIds": [other]}))
    assert owners_in([*records, ("recipes", b"0042", moved)], "urn:pcfx:product:0042") == [other]  # the latest wins


# -- the watch table --------------------------------------------------------------------------------------


def label(**changes: object) -> CarbonLabel:
    return CarbonLabel.from_json({**LABEL, **changes})


def test_change_since_last_is_absolute_and_relative():
    assert change_text(label(value="11.202", previousValue="12.9")) == "-1.698 (-13.2 %)"  # 1.698 / 12.9 = 13.16 %
    assert change_text(label(value="2.2", previousValue="2")) == "+0.2 (+10.0 %)"
    assert change_text(label(previousValue=None)) == "new"


def test_age_is_told_in_the_largest_whole_unit():
    assert [age_text(NOW - timedelta(seconds=s), NOW) for s in (5, 125, 7300, 200_000)] == ["5 s", "2 min", "2 h", "2 d"]


def test_the_table_has_one_aligned_row_per_label():
    upstream = datetime(2025, 2, 1, 10, tzinfo=UTC)
    table = render_table({"0042": label(reverificationDue=True)}, upstream + timedelta(minutes=3))
    header, row = table.splitlines()
    assert header.split()[:3] == ["PRODUCT", "ID", "VALUE"]
    assert row.split() == ["Frame", "One", "0042", "11.2", "1", "piece", "-1.698", "(-13.2", "%)", "52.8", "-",
                           "Active", "due", "3", "min"]
    assert row.index("11.2") == header.index("VALUE kgCO2e")
    assert render_table({}, NOW).endswith("(no labels)\n")


# -- the API's label table ----------------------------------------------------------------------------------


@pytest.fixture
def conn():
    connection = sqlite3.connect(":memory:")
    connection.row_factory = sqlite3.Row
    connection.executescript(SCHEMA)  # the labels table and its version history
    return connection


def record(key: str, value: bytes | None) -> SimpleNamespace:
    return SimpleNamespace(key=key.encode(), value=value)


def test_a_buyer_reads_its_own_label_and_a_tombstone_takes_it_away(conn):
    product = "urn:pcfx:product:0042"
    apply_label(conn, record(f"{BUYER}|{product}", encode_model(label(productId=product))))
    assert label_of(conn, BUYER.upper(), "0042").value == "11.202"  # company ids compare without case
    with pytest.raises(ApiError, match="holds no label of"):
        label_of(conn, "urn:pact:other.example:company-id:9", "0042")
    apply_label(conn, record(f"{BUYER}|{product}", None))
    with pytest.raises(ApiError) as missing:
        label_of(conn, BUYER, product)
    assert missing.value.status == 404


def test_every_version_of_a_label_stays_in_the_history_the_web_app_charts(conn):
    product = "urn:pcfx:product:0042"
    for version, value in ((1, "3.5"), (2, "5"), (2, "5")):  # a replayed record is not a new version
        apply_label(conn, record(f"{BUYER}|{product}", encode_model(label(productId=product, version=version, value=value))))
    rows = conn.execute("SELECT version, value FROM label_versions WHERE buyer = ? ORDER BY version", (BUYER.lower(),))
    assert [tuple(row) for row in rows] == [(1, "3.5"), (2, "5")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not JSON"),
        (b'{"productIds": "0042"}', "productIds must be a list"),
        (b'{"productIds": ["0042"], "active": "yes"}', "active must be true or false"),
        (b'{"productIds": ["0042"], "webhookUrl": "mailto:x"}', "webhookUrl = 'mailto:x'"),
    ],
)
def test_a_malformed_api_subscription_is_a_400_that_says_why(body, message):
    with pytest.raises(ApiError) as refused:
        subscription_request(BUYER, body)
    assert refused.value.status == 400 and message in refused.value.message


def test_an_api_subscription_is_for_the_client_company():
    [subscription] = subscription_request(BUYER, b'{"productIds": ["0042"], "webhookUrl": "https://oem.example/h"}')
    assert (subscription.buyer_id, subscription.product_id, subscription.active) == (BUYER, "urn:pcfx:product:0042", True)


def test_a_partner_token_only_goes_to_the_partners_own_host():
    from pcfx.schemas.subscriptions import Partner

    partner = Partner.from_json({"companyId": "urn:pact:frames.example:company-id:1", "baseUrl": "https://pact.frames.example/pact",
                                 "clientId": "pcfx", "clientSecret": "s", "updatedAt": "2026-01-01T00:00:00Z"})
    assert partner.covers("https://PACT.frames.example/pact/3/events")
    assert not partner.covers("http://pact.frames.example/pact/3/events")  # another scheme
    assert not partner.covers("https://pact.frames.example.evil.example/pact/3/events")
    assert not partner.covers("https://pact.frames.example/elsewhere")
    assert not partner.covers("https://pact.frames.example/pactual/3/events")
    assert decode_model(Partner, encode_model(partner)) == partner


def test_values_are_rounded_for_people_and_the_label_keeps_every_digit():
    dqi = {"technologicalDQR": "4.999999999999999", "geographicalDQR": "1.5", "temporalDQR": "2.345"}
    long = label(value="84.35100000000001", previousValue="78.24672", primaryDataShare="52.81234567890123", dqi=dqi)
    _, row = render_table({"0042": long}, NOW).splitlines()
    assert row.split()[3:11] == ["84.35", "1", "piece", "+6.104", "(+7.8", "%)", "52.8", "5/1.5/2.35"]
    assert long.value == "84.35100000000001"  # the label itself, and its JSON, stay exact
    assert [for_people(v) for v in ("123456.7", "0.000123456", "-0.00004", "2", "0")] == ["123457", "0.0001235", "-0.00004", "2", "0"]
