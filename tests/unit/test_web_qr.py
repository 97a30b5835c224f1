"""connectors/web/qr.py: a product page's address as a QR code of level M, small enough to print."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pcfx.connectors.web.qr import qr_code, qr_svg

URL = "https://exchange.example:8443/web/products/urn:pcfx:product:steel-1"


def finder_at(matrix: list[list[int]], row: int, col: int) -> bool:
    """Is there a 7x7 finder pattern (dark ring, light ring, dark 3x3 centre) with its corner at (row, col)?"""
    for r in range(7):
        for c in range(7):
            ring = max(abs(r - 3), abs(c - 3))
            if bool(matrix[row + r][col + c]) != (ring != 2):
                return False
    return True


def test_the_code_is_byte_mode_level_m_and_has_the_size_and_finders_of_its_version():
    code = qr_code(URL)
    assert code.error == "M" and code.mode == "byte"
    assert len(URL) == 67 and code.version == 5  # byte capacity at level M: version 4 holds 62, version 5 84
    matrix = [list(row) for row in code.matrix]
    size = 17 + 4 * code.version
    assert len(matrix) == size and all(len(row) == size for row in matrix)
    assert finder_at(matrix, 0, 0) and finder_at(matrix, 0, size - 7) and finder_at(matrix, size - 7, 0)
    assert not finder_at(matrix, size - 7, size - 7)


def test_the_svg_is_standalone_with_a_title_and_a_quiet_zone():
    svg = ET.fromstring(qr_svg(URL, "QR: this page"))
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.tag == f"{ns}svg" and svg.find(f"{ns}title").text == "QR: this page"
    assert int(svg.get("width")) == (17 + 4 * qr_code(URL).version + 8) * 3


def test_an_address_too_long_for_version_10_is_refused():
    with pytest.raises(ValueError, match="too long"):
        qr_svg("https://x.example/" + "a" * 300, "too long")
