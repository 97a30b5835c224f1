"""A carbon label as an SVG image with Chinese and English text, for a buyer to put on a page.

Pure text in, text out: no fonts are embedded (the viewer's CJK sans-serif renders the Chinese), no QR
code, no scripts. Every value from the label is XML-escaped. The value is printed exactly as the label
carries it (PACT decimal text, kgCO2e per declared unit); the primary data share and the data-quality ratings
are rounded for people (0.1 % and 0.01), as their float roll-up may carry 16 digits (``4.999999999999999``).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from pcfx.connectors.display import for_people
from pcfx.schemas.models import CarbonLabel

WIDTH = 400  # px
LINE = 20  # px between text lines
FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
UNIT_ZH = {
    "liter": "升", "kilogram": "千克", "cubic meter": "立方米", "kilowatt hour": "千瓦时", "megajoule": "兆焦",
    "ton kilometer": "吨公里", "square meter": "平方米", "piece": "件", "hour": "小时", "megabit second": "兆比特秒",
}
STATUS_ZH = {"Active": "有效", "Deprecated": "已废止", "Expired": "已过期"}
STATUS_COLOUR = {"Active": "#1b7f3b", "Deprecated": "#8a6d00", "Expired": "#b3261e"}
CERTIFICATION = (
    ("category_rule_id", "产品种类规则 Category rule"),
    ("certification_scheme", "认证方案 Scheme"),
    ("certification_body", "认证机构 Certification body"),
    ("certificate_number", "证书编号 Certificate No."),
)


def render_label_svg(label: CarbonLabel) -> str:
    """The label as a standalone SVG document (UTF-8 text)."""
    lines = _detail_lines(label)
    height = 150 + LINE * len(lines) + 30
    colour = STATUS_COLOUR[label.status]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'font-family="{FONT}" role="img" aria-label="{_text(_summary(label))}">',
        f"<title>{_text(_summary(label))}</title>",
        f'<rect x="1" y="1" width="{WIDTH - 2}" height="{height - 2}" rx="10" fill="#ffffff" '
        f'stroke="{colour}" stroke-width="2"/>',
        f'<rect x="1" y="1" width="{WIDTH - 2}" height="36" rx="10" fill="{colour}"/>',
        '<text x="16" y="25" font-size="16" font-weight="bold" fill="#ffffff">碳足迹标识 Carbon Footprint Label</text>',
        f'<text x="16" y="58" font-size="13" fill="#333333">'
        f"{_text(label.product_name)} · {_text(label.company_name)}</text>",
        f'<text x="16" y="100" font-size="34" font-weight="bold" fill="#111111">{_text(label.value)}'
        '<tspan font-size="16" font-weight="normal"> kgCO₂e</tspan></text>',
        f'<text x="16" y="124" font-size="13" fill="#333333">{_text(_per_unit(label))}</text>',
    ]
    y = 150
    for line in lines:
        parts.append(f'<text x="16" y="{y}" font-size="12" fill="#333333">{_text(line)}</text>')
        y += LINE
    ids = f"{label.label_id} v{label.version} · {label.pf_id}"
    parts.append(f'<text x="16" y="{y + 4}" font-size="9" fill="#777777">{_text(ids)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _summary(label: CarbonLabel) -> str:
    return f"碳足迹 Carbon footprint of {label.product_name}: {label.value} kgCO2e {_per_unit(label)}"


def _per_unit(label: CarbonLabel) -> str:
    unit = label.declared_unit_of_measurement
    chinese = UNIT_ZH.get(unit, unit)  # a unit PACT lacks is shown as the recipe gives it
    return f"每 {label.declared_unit_amount} {chinese} / per {label.declared_unit_amount} {unit}"


def _detail_lines(label: CarbonLabel) -> list[str]:
    lines = [
        f"状态 Status: {STATUS_ZH[label.status]} {label.status}",
        f"有效期 Valid: {label.validity_period_start.date()} – {label.validity_period_end.date()}",
    ]
    if label.primary_data_share is not None:
        lines.append(f"原始数据占比 Primary data share: {for_people(label.primary_data_share, decimals=1)} %")
    if label.dqi is not None:
        dqi = label.dqi
        lines.append(
            "数据质量 DQR 技术/地理/时间 tech/geo/time: "
            + " / ".join(for_people(rating, decimals=2) for rating in (dqi.technological_dqr, dqi.geographical_dqr, dqi.temporal_dqr))
        )
    for name, caption in CERTIFICATION:
        value = getattr(label, name)
        if value:
            lines.append(f"{caption}: {value}")
    if label.reverification_due:
        lines.append(f"需重新核查 Re-verification due (last verified {label.last_verified_value} kgCO2e)")
    return lines


def _text(value: str) -> str:
    """Text safe inside an element or a double-quoted attribute."""
    return escape(value, {'"': "&quot;"})
