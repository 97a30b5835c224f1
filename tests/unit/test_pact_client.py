"""The PACT client's reading of RFC 8288 Link headers (the HTTP calls are tested against the real host)."""

from __future__ import annotations

from pcfx.connectors.pact_client import next_link


def test_next_link_is_found_among_several_relations_in_one_header():
    header = '<https://h/3/footprints?offset=1>; rel="first", <https://h/3/footprints?offset=3&limit=2>; rel="next"'
    assert next_link([header]) == "https://h/3/footprints?offset=3&limit=2"


def test_next_link_accepts_unquoted_and_multi_valued_rel_across_headers():
    assert next_link(["<https://h/a>; rel=prev", "<https://h/b>; title=\"x\"; rel=\"last next\""]) == "https://h/b"


def test_no_next_relation_means_no_more_pages():
    assert next_link([]) is None
    assert next_link(['<https://h/a>; rel="prev"']) is None
