"""connectors/label_svg.py: the label as an SVG a buyer can put on a page, in Chinese and English."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from pcfx.connectors.label_svg import render_label_svg
from pcfx.schemas.models import CarbonLabel
from pcfx.schemas.samples import LABEL

SVG_NS = "{http://www.w3.org/2000/svg}"


def text_of(svg: str) -> str:
    """All the text a reader sees, in document order."""
    return " ".join("".join(element.itertext()) for element in ET.fromstring(svg).iter(f"{SVG_NS}text"))


def label(**changes: object) -> CarbonLabel:
    return CarbonLabel.from_json({**LABEL, **changes})


def test_the_label_says_what_it_is_in_both_languages_with_the_exact_value():
    shown = text_of(render_label_svg(label()))
    assert "碳足迹标识" in shown and "Carbon Footprint Label" in shown
    assert "11.202 kgCO₂e" in shown  # the PACT decimal text as the label carries it
    assert "每 1 件 / per 1 piece" in shown
    assert "有效期 Valid: 2025-01-01 – 2028-01-01" in shown
    assert "原始数据占比 Primary data share: 52.8 %" in shown
    assert "认证方案 Scheme: Jiangsu carbon label pilot" in shown


def test_quality_certificates_and_reverification_appear_when_the_label_has_them():
    dqi = {"technologicalDQR": "2", "geographicalDQR": "1.5", "temporalDQR": "1"}
    shown = text_of(render_label_svg(label(dqi=dqi, certificateNumber="CN-JS-0001", reverificationDue=True,
                                           lastVerifiedValue="9.9", status="Expired")))
    assert "2 / 1.5 / 1" in shown and "证书编号 Certificate No.: CN-JS-0001" in shown
    assert "需重新核查 Re-verification due (last verified 9.9 kgCO2e)" in shown
    assert "状态 Status: 已过期 Expired" in shown


def test_text_from_the_label_cannot_break_the_markup():
    svg = render_label_svg(label(productName='Frame <script>"x"</script> & co'))
    assert "<script>" not in svg
    assert 'Frame <script>"x"</script> & co' in text_of(svg)  # escaped, and read back as written


def test_ratings_are_rounded_for_people_and_the_value_stays_exact():
    dqi = {"technologicalDQR": "1.9000000000000001", "geographicalDQR": "4.999999999999999", "temporalDQR": "2.345"}
    shown = text_of(render_label_svg(label(value="84.35100000000001", primaryDataShare="52.81234567890123", dqi=dqi)))
    assert "tech/geo/time: 1.9 / 5 / 2.35" in shown
    assert "Primary data share: 52.8 %" in shown
    assert "84.35100000000001 kgCO₂e" in shown  # the label's own decimal, digit for digit
