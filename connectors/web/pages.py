"""Server-rendered HTML of the web app, in English and Chinese. Pure: data in, text out.

Every value from a label or a request is HTML-escaped here; pages use no framework and load nothing
from outside the host (one small script, ``/web/static/live.js``, follows the live updates). Colours keep
a contrast of at least 4.5:1 on white; every control has a label and is reachable by keyboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from datetime import datetime, timedelta
from decimal import Decimal
from html import escape
from urllib.parse import quote

from pcfx.connectors.label_svg import render_label_svg
from pcfx.connectors.web.explain import Change, Explanation, shown
from pcfx.connectors.watch_cli import change_text
from pcfx.schemas.models import CarbonLabel, to_decimal

EXPIRY_WARNING = timedelta(days=30)  # a label whose validity ends within this is flagged on the board
LANGUAGES = ("en", "zh")
STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "pcfx carbon labels", "sign_in": "Sign in", "client_id": "API client id",
        "client_secret": "API client secret", "sign_out": "Sign out", "bad_credentials": "Wrong client id or secret.",
        "bad_form": "The form expired; please sign in again.", "board": "Your carbon labels",
        "board_intro": "The products your company follows. Values update by themselves when a supplier publishes.",
        "product": "Product", "value": "kgCO₂e", "per": "Per", "change": "Change since last version",
        "valid_until": "Valid until", "flags": "Flags", "expired": "expired", "expires_soon": "expires soon",
        "reverify": "re-verification due", "none": "none", "no_labels": "No labels yet: subscribe to products first.",
        "live": "Live", "forbidden": "Not allowed", "forbidden_text": "Your company may not see this product.",
        "not_found": "Not found", "not_found_text": "No such page.", "history": "Version history",
        "version": "Version", "issued": "Issued", "back": "Back to the board", "label": "Label",
        "quality": "Data quality", "pds": "Primary data share", "dqr": "DQR technological / geographical / temporal",
        "language": "中文", "no_label": "Your company holds no label of this product.",
        "why": "Why the number is what it is", "why_intro": "Direct inputs (one step up the supply chain) and the product's own emissions, kgCO₂e per declared unit.",
        "part": "Input", "supplier": "Supplier", "quantity": "Quantity", "contribution": "Contribution",
        "share": "Share", "own": "Own emissions of this product", "total": "Total", "unknown": "not available",
        "latest_change": "Latest change", "moved": "The total moved by", "from_to": "from {before} to {after}",
        "input_changed": "changed", "no_change": "No contribution moved.", "qr": "QR code linking to this page",
        "not_derived": "This footprint comes straight from its supplier: it has no inputs to explain.",
        "supplier_page": "What your company published", "published": "Published footprints",
        "footprint": "Footprint", "status": "Status", "valid": "Valid", "replaces": "Replaces",
        "nothing_published": "Nothing published yet.", "refused": "Records the exchange refused",
        "refused_intro": "These records were not accepted and are kept 30 days on the dead-letter topic. Fix the field and publish again.",
        "topic": "Topic", "key": "Key", "reason": "Reason", "fields": "Field at fault", "when": "When",
        "nothing_refused": "None of your records was refused.", "ContractError": "breaks a PACT rule",
        "DecodeError": "could not be read: not a record of a known schema", "nav_board": "Labels", "nav_supplier": "Published",
        "requests": "Open requests for your data", "nothing_requested": "No open requests.", "origin": "From",
        "buyer": "a buyer", "exchange": "the exchange (an input it lacks)", "requester": "Requester",
        "asked": "Products asked for", "comment": "Comment",
    },
    "zh": {
        "title": "pcfx 碳标识", "sign_in": "登录", "client_id": "API 客户端 ID", "client_secret": "API 客户端密钥",
        "sign_out": "退出", "bad_credentials": "客户端 ID 或密钥错误。", "bad_form": "表单已过期，请重新登录。",
        "board": "贵公司的碳标识", "board_intro": "贵公司关注的产品。供应商发布数据后，数值会自动更新。",
        "product": "产品", "value": "千克二氧化碳当量", "per": "每", "change": "较上一版本变化",
        "valid_until": "有效期至", "flags": "提示", "expired": "已过期", "expires_soon": "即将过期",
        "reverify": "需重新核查", "none": "无", "no_labels": "暂无碳标识：请先订阅产品。", "live": "实时",
        "forbidden": "无权访问", "forbidden_text": "贵公司无权查看该产品。", "not_found": "未找到",
        "not_found_text": "页面不存在。", "history": "版本历史", "version": "版本", "issued": "签发时间",
        "back": "返回", "label": "碳标识", "quality": "数据质量", "pds": "原始数据占比",
        "dqr": "数据质量评级 技术/地理/时间", "language": "English", "no_label": "贵公司没有该产品的碳标识。",
        "why": "数值从何而来", "why_intro": "直接输入（供应链上一级）与本产品自身排放，单位：每声明单位千克二氧化碳当量。",
        "part": "输入", "supplier": "供应商", "quantity": "用量", "contribution": "贡献", "share": "占比",
        "own": "本产品自身排放", "total": "合计", "unknown": "暂无", "latest_change": "最近一次变化",
        "moved": "合计变化", "from_to": "由 {before} 变为 {after}", "input_changed": "变化",
        "no_change": "各项贡献均未变化。", "qr": "指向本页的二维码", "not_derived": "该足迹由供应商直接提供，没有可分解的输入。",
        "supplier_page": "贵公司发布的数据", "published": "已发布的碳足迹", "footprint": "碳足迹", "status": "状态",
        "valid": "有效期", "replaces": "取代", "nothing_published": "尚未发布任何数据。", "refused": "被拒收的记录",
        "refused_intro": "以下记录未被接受，在死信主题中保留 30 天。请修正出错字段后重新发布。", "topic": "主题",
        "key": "键", "reason": "原因", "fields": "出错字段", "when": "时间", "nothing_refused": "贵公司没有被拒收的记录。",
        "ContractError": "违反 PACT 规则", "DecodeError": "无法读取：不是已知模式的记录", "nav_board": "碳标识",
        "nav_supplier": "已发布",
        "requests": "待处理的数据请求", "nothing_requested": "没有待处理的请求。", "origin": "来源", "buyer": "采购方",
        "exchange": "交换平台（缺少的输入）", "requester": "请求方", "asked": "所请求的产品", "comment": "备注",
    },
}
STYLE = """
body{font-family:'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;margin:0;color:#1a1a1a;background:#fff}
header{background:#14532d;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center}
header a{color:#fff}header button{color:#fff;background:transparent;border:1px solid #fff;border-radius:4px;cursor:pointer}
header form{margin:0}header .grow{flex:1}main{padding:1rem;max-width:70rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #bbb;padding:.4rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}.flag{color:#9a1c14;font-weight:bold}
a{color:#0b4f9c}a:focus,button:focus,input:focus{outline:3px solid #b45309;outline-offset:2px}
header a:focus,header button:focus{outline-color:#fde68a}
form.signin label{display:block;margin:.6rem 0 .2rem}.error{color:#9a1c14}
button{font:inherit;padding:.3rem .8rem}.updated{background:#fef3c7}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
"""


def text(lang: str, key: str) -> str:
    return STRINGS[lang if lang in STRINGS else "en"][key]


def pick_language(query: str | None, accept: str | None) -> str:
    """``?lang=`` wins; else the first of Accept-Language's languages pcfx speaks; else English."""
    if query in LANGUAGES:
        return query  # type: ignore[return-value]
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return "en"


def product_href(product: str, lang: str) -> str:
    return f"/web/products/{quote(product, safe=':')}?lang={lang}"


def page(lang: str, title: str, body: str, *, csrf: str | None = None, live: bool = False, path: str = "/web/") -> str:
    """A whole HTML document: header (language switch, sign-out form), main content, the live script."""
    other = "zh" if lang == "en" else "en"
    sign_out = ""
    if csrf is not None:
        sign_out = (f'<form method="post" action="/web/logout"><input type="hidden" name="csrf" value="{escape(csrf)}">'
                    f'<button type="submit">{text(lang, "sign_out")}</button></form>')
    script = '<script src="/web/static/live.js" defer></script>' if live else ""
    nav = ""
    if csrf is not None:
        nav = (f'<nav aria-label="pcfx"><a href="/web/board?lang={lang}">{text(lang, "nav_board")}</a> · '
               f'<a href="/web/supplier?lang={lang}">{text(lang, "nav_supplier")}</a></nav>')
    return (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
            f'<style>{STYLE}</style>{script}</head><body><header><strong>pcfx</strong>'
            f'{nav}<span class="grow"></span><a href="{escape(path)}?lang={other}" lang="{other}">{text(lang, "language")}</a>'
            f'{sign_out}</header><main id="main">{body}</main></body></html>')


def sign_in_page(lang: str, nonce: str, error: str | None = None) -> str:
    message = f'<p class="error" role="alert">{text(lang, error)}</p>' if error else ""
    body = (f'<h1>{text(lang, "sign_in")}</h1>{message}'
            f'<form class="signin" method="post" action="/web/login?lang={lang}">'
            f'<input type="hidden" name="nonce" value="{escape(nonce)}">'
            f'<label for="client_id">{text(lang, "client_id")}</label>'
            f'<input id="client_id" name="client_id" autocomplete="username" required>'
            f'<label for="client_secret">{text(lang, "client_secret")}</label>'
            f'<input id="client_secret" name="client_secret" type="password" autocomplete="current-password" required>'
            f'<p><button type="submit">{text(lang, "sign_in")}</button></p></form>')
    return page(lang, text(lang, "sign_in"), body, path="/web/login")


def flags(label: CarbonLabel, lang: str, now: datetime) -> list[str]:
    """The board's warnings for a label: expired or expiring within 30 days, re-verification due."""
    found = []
    if label.status == "Expired" or label.validity_period_end <= now:
        found.append(text(lang, "expired"))
    elif label.validity_period_end - now <= EXPIRY_WARNING:
        found.append(text(lang, "expires_soon"))
    if label.reverification_due:
        found.append(text(lang, "reverify"))
    return found


def board_row(label: CarbonLabel, lang: str, now: datetime) -> str:
    """One ``<tr>`` of the board; the live script swaps it whole when the product's label changes."""
    found = flags(label, lang, now)
    flag_cell = f'<span class="flag">{escape(", ".join(found))}</span>' if found else text(lang, "none")
    product = escape(label.product_id)
    return (f'<tr data-product="{product}" data-version="{label.version}">'
            f'<td><a href="{escape(product_href(label.product_id, lang))}">{escape(label.product_name)}</a>'
            f'<br><small>{product}</small></td>'
            f'<td class="num value">{escape(label.value)}</td>'
            f'<td>{escape(label.declared_unit_amount)} {escape(label.declared_unit_of_measurement)}</td>'
            f'<td class="num">{escape(change_text(label))}</td>'
            f'<td>{label.validity_period_end.date().isoformat()}</td><td>{flag_cell}</td></tr>')


def board_page(labels: Sequence[CarbonLabel], lang: str, company: str, csrf: str, now: datetime) -> str:
    rows = "".join(board_row(label, lang, now) for label in sorted(labels, key=lambda l: (l.product_name, l.product_id)))
    empty = "" if labels else f'<p id="empty">{text(lang, "no_labels")}</p>'
    heads = ("product", "value", "per", "change", "valid_until", "flags")
    body = (f'<h1>{text(lang, "board")}</h1><p>{escape(company)} · {text(lang, "board_intro")} '
            f'<span id="live" role="status" aria-live="polite"></span></p>{empty}'
            f'<table id="board" data-lang="{lang}"><caption class="visually-hidden">{text(lang, "board")}</caption><thead><tr>'
            + "".join(f'<th scope="col">{text(lang, h)}</th>' for h in heads)
            + f"</tr></thead><tbody>{rows}</tbody></table>")
    return page(lang, text(lang, "board"), body, csrf=csrf, live=True, path="/web/board")


def history_chart(versions: Sequence[tuple[int, str, str]], lang: str) -> str:
    """The label's versions as an inline SVG line chart (value per version), with a table for screen readers."""
    if not versions:
        return ""
    width, height, pad = 480, 180, 36
    values = [float(to_decimal(value)) for _, value, _ in versions]
    low, high = min(values + [0.0]), max(values)
    span = (high - low) or 1.0
    step = (width - 2 * pad) / max(1, len(versions) - 1)
    points = [(pad + i * step, height - pad - (v - low) / span * (height - 2 * pad)) for i, v in enumerate(values)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#14532d"><title>v{v}: {escape(value)}</title></circle>'
                   f'<text x="{x:.1f}" y="{height - 12}" font-size="11" text-anchor="middle">v{v}</text>'
                   f'<text x="{x:.1f}" y="{y - 8:.1f}" font-size="11" text-anchor="middle">{escape(value)}</text>'
                   for (x, y), (v, value, _) in zip(points, versions))
    svg = (f'<svg id="history-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="history-title"><line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
           f'stroke="#555"/><polyline points="{line}" fill="none" stroke="#14532d" stroke-width="2"/>{dots}</svg>')
    rows = "".join(f"<tr><td>{v}</td><td class=\"num\">{escape(value)}</td><td>{escape(issued)}</td></tr>"
                   for v, value, issued in versions)
    table = (f'<table id="history"><thead><tr><th scope="col">{text(lang, "version")}</th><th scope="col">'
             f'{text(lang, "value")}</th><th scope="col">{text(lang, "issued")}</th></tr></thead><tbody>{rows}</tbody></table>')
    return f'<h2 id="history-title">{text(lang, "history")}</h2>{svg}{table}'


def number(value: Decimal | None, lang: str) -> str:
    return text(lang, "unknown") if value is None else format(shown(value), "f")


def signed(value: Decimal) -> str:
    return ("+" if value >= 0 else "") + format(shown(value), "f")


def explanation_section(explanation: Explanation | None, moves: Sequence[Change] | None, total_before: Decimal | None,
                        lang: str) -> str:
    """The total split into direct inputs and own emissions, and what moved in the latest change."""
    head = f'<h2 id="why">{text(lang, "why")}</h2>'
    if explanation is None:
        return f'{head}<p>{text(lang, "not_derived")}</p>'
    rows = []
    for part in explanation.parts:
        name = escape(part.name) if part.key else text(lang, "own")
        key = f"<br><small>{escape(part.key)}</small>" if part.key else ""
        share = "-"
        if part.contribution is not None and explanation.total:
            share = f"{(part.contribution / explanation.total * 100).quantize(Decimal('0.1'))} %"
        quantity = f"{escape(part.quantity)} {escape(part.unit)}" if part.key else "-"
        rows.append(f'<tr data-part="{escape(part.key or "own")}"><td>{name}{key}</td><td>{escape(part.company)}</td>'
                    f'<td class="num">{quantity}</td><td class="num contribution">{number(part.contribution, lang)}</td>'
                    f'<td class="num">{share}</td></tr>')
    heads = ("part", "supplier", "quantity", "contribution", "share")
    table = (f'<p>{text(lang, "why_intro")}</p><table id="explanation"><thead><tr>'
             + "".join(f'<th scope="col">{text(lang, h)}</th>' for h in heads) + f'</tr></thead><tbody>{"".join(rows)}</tbody>'
             f'<tfoot><tr><th scope="row" colspan="3">{text(lang, "total")}</th>'
             f'<td class="num">{format(explanation.total, "f")}</td><td class="num">100 %</td></tr></tfoot></table>')
    change = ""
    if moves is not None and total_before is not None:
        moved = explanation.total - total_before
        items = "".join(
            f'<li data-part="{escape(m.key or "own")}">{escape(m.name) if m.key else text(lang, "own")}: '
            f'{text(lang, "input_changed")} {signed(m.delta) if m.delta is not None else text(lang, "unknown")} '
            f'({text(lang, "from_to").format(before=number(m.before, lang), after=number(m.after, lang))})</li>'
            for m in moves)
        change = (f'<h3>{text(lang, "latest_change")}</h3><p id="moved">{text(lang, "moved")} {signed(moved)} kgCO₂e '
                  f'({text(lang, "from_to").format(before=format(total_before, "f"), after=format(explanation.total, "f"))})</p>'
                  + (f'<ul id="changes">{items}</ul>' if items else f'<p>{text(lang, "no_change")}</p>'))
    return head + table + change


def product_page(label: CarbonLabel | None, product: str, versions: Sequence[tuple[int, str, str]], lang: str,
                 csrf: str, why: str = "", qr: str = "") -> str:
    """A product's label (the SVG) with its QR code, why its number is what it is, data quality, history."""
    back = f'<p><a href="/web/board?lang={lang}">{text(lang, "back")}</a></p>'
    if label is None:
        body = f'<h1>{escape(product)}</h1>{back}<p>{text(lang, "no_label")}</p>'
        return page(lang, product, body, csrf=csrf, path=f"/web/products/{quote(product, safe=':')}")
    dqi = label.dqi
    dqr = f"{dqi.technological_dqr} / {dqi.geographical_dqr} / {dqi.temporal_dqr}" if dqi else "-"
    quality = (f'<h2>{text(lang, "quality")}</h2><dl><dt>{text(lang, "pds")}</dt>'
               f'<dd>{escape(label.primary_data_share or "-")} %</dd><dt>{text(lang, "dqr")}</dt><dd>{escape(dqr)}</dd></dl>')
    body = (f'<h1>{escape(label.product_name)}</h1>{back}<section aria-label="{text(lang, "label")}" id="label" '
            f'data-product="{escape(label.product_id)}" data-version="{label.version}">{render_label_svg(label)}'
            f'<figure id="qr">{qr}<figcaption>{text(lang, "qr")}</figcaption></figure></section>'
            f'{why}{quality}{history_chart(versions, lang)}')
    return page(lang, label.product_name, body, csrf=csrf, live=True, path=f"/web/products/{quote(product, safe=':')}")


def reason_words(error_type: str, lang: str) -> str:
    return text(lang, error_type) if error_type in STRINGS["en"] else error_type


def requests_section(requests: Sequence[Any], lang: str) -> str:
    if not requests:
        return f'<h2>{text(lang, "requests")}</h2><p>{text(lang, "nothing_requested")}</p>'
    rows = "".join(
        f'<tr data-request="{escape(r.request_id)}"><td>{text(lang, r.origin)}</td><td>{escape(r.requester)}</td>'
        f'<td>{escape(", ".join(r.products)) or "-"}</td><td>{escape(r.comment)}</td><td>{escape(r.created_at)}</td></tr>'
        for r in requests)
    heads = ("origin", "requester", "asked", "comment", "when")
    return (f'<h2>{text(lang, "requests")}</h2><table id="requests"><thead><tr>'
            + "".join(f'<th scope="col">{text(lang, h)}</th>' for h in heads) + f"</tr></thead><tbody>{rows}</tbody></table>")


def supplier_page(published: Sequence[Any], refused: Sequence[Any], company: str, lang: str, csrf: str,
                  requests: Sequence[Any] = ()) -> str:
    """What the company published (status, validity, the version each replaces) and its refused records."""
    rows = "".join(
        f'<tr data-pf="{escape(p.pf_id)}"><td>{escape(p.name)}<br><small>{escape(p.product)}</small></td>'
        f'<td><small>{escape(p.pf_id)}</small></td><td>{escape(p.status)}</td>'
        f'<td class="num">{p.version}</td><td>{escape(p.valid_from)} – {escape(p.valid_to)}</td>'
        f'<td><small>{escape(p.replaces) or "-"}</small></td></tr>'
        for p in published)
    heads = ("product", "footprint", "status", "version", "valid", "replaces")
    published_table = ('<table id="published"><thead><tr>' + "".join(f'<th scope="col">{text(lang, h)}</th>' for h in heads)
                       + f"</tr></thead><tbody>{rows}</tbody></table>" if published else f'<p>{text(lang, "nothing_published")}</p>')
    letters = "".join(
        f'<tr class="refused" data-key="{escape(r.key)}"><td>{escape(r.topic)}</td><td>{escape(r.key)}</td>'
        f'<td><strong class="reason">{escape(reason_words(r.error_type, lang))}</strong><br><small>{escape(r.error)}</small></td>'
        f'<td class="fields">{escape(", ".join(r.fields)) or "-"}</td><td>{escape(r.failed_at)}</td></tr>'
        for r in refused)
    heads = ("topic", "key", "reason", "fields", "when")
    refused_table = (f'<p>{text(lang, "refused_intro")}</p><table id="refused"><thead><tr>'
                     + "".join(f'<th scope="col">{text(lang, h)}</th>' for h in heads) + f"</tr></thead><tbody>{letters}</tbody></table>"
                     if refused else f'<p>{text(lang, "nothing_refused")}</p>')
    body = (f'<h1>{text(lang, "supplier_page")}</h1><p>{escape(company)}</p><h2>{text(lang, "published")}</h2>'
            f'{published_table}{requests_section(requests, lang)}<h2>{text(lang, "refused")}</h2>{refused_table}')
    return page(lang, text(lang, "supplier_page"), body, csrf=csrf, path="/web/supplier")


def error_page(lang: str, status: int, signed_in_csrf: str | None = None) -> str:
    key = "forbidden" if status == 403 else "not_found"
    body = (f'<h1>{status} {text(lang, key)}</h1><p>{text(lang, key + "_text")}</p>'
            f'<p><a href="/web/board?lang={lang}">{text(lang, "back")}</a></p>')
    return page(lang, text(lang, key), body, csrf=signed_in_csrf)
