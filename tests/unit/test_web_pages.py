"""connectors/web/pages.py and access.py: what the board says about a label, the language chosen, escaping,
the history chart, and the one access seam."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from pcfx.connectors.label_api import SCHEMA as LABELS_SCHEMA
from pcfx.connectors.pact_api.readmodel import SCHEMA as READMODEL_SCHEMA
from pcfx.connectors.pact_api.readmodel import ReadModel
from pcfx.connectors.pact_api.store import Store
from pcfx.connectors.web import pages
from pcfx.connectors.web.access import may_see
from pcfx.schemas.models import CarbonLabel
from pcfx.schemas.samples import FOOTPRINT, LABEL

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def label(**changes: object) -> CarbonLabel:
    return CarbonLabel.from_json({**LABEL, **changes})


def test_the_language_comes_from_the_query_then_accept_language_then_english():
    assert pages.pick_language("zh", "en-GB,en") == "zh"
    assert pages.pick_language(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert pages.pick_language(None, "fr-FR,en;q=0.5") == "en"
    assert pages.pick_language("xx", None) == "en"


def test_the_board_flags_expiry_within_30_days_expired_labels_and_reverification():
    assert pages.flags(label(validityPeriodEnd="2028-01-01T00:00:00Z"), "en", NOW) == []
    assert pages.flags(label(validityPeriodEnd="2026-01-20T00:00:00Z"), "en", NOW) == ["expires soon"]
    assert pages.flags(label(status="Expired"), "zh", NOW) == ["已过期"]
    assert pages.flags(label(reverificationDue=True, lastVerifiedValue="9.9"), "en", NOW) == ["re-verification due"]


def test_a_board_row_shows_value_and_change_and_escapes_what_the_label_carries():
    row = pages.board_row(label(productName="<script>x</script>", previousValue="10"), "en", NOW)
    assert "<script>" not in row and "&lt;script&gt;" in row
    assert '<td class="num value">11.202</td>' in row
    assert "+1.202 (+12.0 %)" in row  # (11.202 - 10) / 10


def test_the_history_chart_has_one_point_per_version_highest_value_highest_on_the_page():
    chart = pages.history_chart([(1, "3.5", "2025-01-01"), (2, "5", "2025-02-01")], "en")
    svg = ET.fromstring(chart[chart.index("<svg"):chart.index("</svg>") + 6])
    circles = [(float(c.get("cx")), float(c.get("cy"))) for c in svg.iter("circle")]
    assert len(circles) == 2
    assert circles[0][0] < circles[1][0] and circles[1][1] < circles[0][1]  # SVG y grows downwards
    assert "<td class=\"num\">5</td>" in chart  # the same figures as a table, for screen readers


def test_a_company_sees_products_it_holds_a_label_of_its_own_and_granted_ones_only(tmp_path: Path):
    store = Store(tmp_path / "db.sqlite", (READMODEL_SCHEMA, LABELS_SCHEMA))
    model = ReadModel(store)
    owner, buyer, stranger = "urn:pact:a:company-id:1", "urn:pact:b:company-id:2", "urn:pact:c:company-id:3"
    product, labelled = "urn:pact:a:product-id:p1", "urn:pact:a:product-id:p2"
    with store.transaction() as conn:
        model.put(conn, "footprints", product, {**FOOTPRINT, "companyIds": [owner], "productIds": [product]})
        conn.execute("INSERT INTO labels VALUES (?, ?, ?)", (buyer, labelled, json.dumps(LABEL)))
    assert may_see(store.conn, owner, product)
    assert may_see(store.conn, buyer, labelled) and not may_see(store.conn, buyer, product)
    model.grant(buyer, product)
    assert may_see(store.conn, buyer, product)
    assert not may_see(store.conn, stranger, product) and not may_see(store.conn, stranger, labelled)


def test_a_replaced_supplier_footprint_is_kept_for_explanations_but_no_longer_served(tmp_path: Path):
    store = Store(tmp_path / "db.sqlite", (READMODEL_SCHEMA,))
    model = ReadModel(store)
    product = "urn:pact:a:product-id:p1"
    first = {**FOOTPRINT, "id": "11111111-1111-4111-8111-111111111111", "productIds": [product]}
    second = {**FOOTPRINT, "id": "22222222-2222-4222-8222-222222222222", "productIds": [product]}
    with store.transaction() as conn:
        model.put(conn, "footprints", product, first)
    with store.transaction() as conn:
        model.put(conn, "footprints", product, second)
    assert model.get(first["id"]) is None and model.count() == 1
    assert model.get_any(first["id"])["id"] == first["id"] and model.get_any(second["id"])["id"] == second["id"]
