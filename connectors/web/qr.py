"""The QR code on a product page: it encodes the page's own address, so a printed label leads back to it.

Encoded by segno (pure Python, no dependencies of its own) in byte mode at error-correction level M, as an
inline SVG: nothing is fetched, nothing is rasterised.
"""

from __future__ import annotations

import io

import segno

MAX_VERSION = 10  # 57 x 57 modules; level M holds 213 bytes: far more than a product page's address


def qr_code(url: str):  # noqa: ANN201 (segno.QRCode)
    """The QR code of ``url`` (error level M, the smallest version that fits, at most 10)."""
    return segno.make_qr(url, error="m", boost_error=False, mode="byte", version=None)


def qr_svg(url: str, title: str, scale: int = 3) -> str:
    """The QR code of ``url`` as an SVG element (dark modules on white, a quiet zone of 4 modules)."""
    code = qr_code(url)
    if code.version > MAX_VERSION:  # type: ignore[operator]
        raise ValueError(f"the address is too long for a QR code of version {MAX_VERSION} or less: {url!r}")
    out = io.BytesIO()
    code.save(out, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True, title=title, dark="#000000",
              light="#ffffff", svgclass="qr", lineclass=None)
    return out.getvalue().decode("utf-8")
