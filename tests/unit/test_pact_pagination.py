"""Pagination parameters and Link headers."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from pcfx.connectors.pact_api.errors import ApiError
from pcfx.connectors.pact_api.filters import Criteria
from pcfx.connectors.pact_api.pagination import MAX_LIMIT, Page, link_header, next_link, split_page


def test_split_page_separates_pagination_from_criteria():
    page, rest = split_page([("limit", "2"), ("productId", "urn:a"), ("x-pcfx-after", "5"), ("x-pcfx-upto", "9")])
    assert page == Page(limit=2, after=5, upto=9)
    assert rest == [("productId", "urn:a")]


def test_no_limit_serves_pages_of_the_maximum_size():
    page, _ = split_page([])
    assert page.size == MAX_LIMIT and page.limit is None
    assert split_page([("limit", str(MAX_LIMIT * 5))])[0].size == MAX_LIMIT


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "", "١٢"])
def test_limit_must_be_a_positive_whole_number(value):
    with pytest.raises(ApiError, match="limit"):
        split_page([("limit", value)])


def test_after_without_upto_is_a_malformed_link():
    with pytest.raises(ApiError, match="malformed pagination link"):
        split_page([("x-pcfx-after", "3")])
    with pytest.raises(ApiError, match="malformed pagination link"):
        split_page([("x-pcfx-after", "9"), ("x-pcfx-upto", "3")])


def test_next_link_is_absolute_and_repeats_criteria_and_limit():
    criteria = Criteria(companyId=("urn:c1", "urn:c2"))
    url = next_link("https://api.example.com:8443", criteria, Page(limit=10), last_seq=42, upto=99)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "api.example.com:8443", "/3/footprints")
    assert parse_qsl(parts.query) == [("companyId", "urn:c1"), ("companyId", "urn:c2"), ("limit", "10"),
                                      ("x-pcfx-after", "42"), ("x-pcfx-upto", "99")]
    assert link_header(url) == f'<{url}>; rel="next"'
