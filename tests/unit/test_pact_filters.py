"""ListFootprints / RequestCreatedEvent criteria: parsing, refusals, validity windows."""

from __future__ import annotations

import pytest

from pact_samples import footprint
from pcfx.connectors.pact_api.errors import ApiError
from pcfx.connectors.pact_api.filters import Criteria, criteria_from_event, criteria_from_query, utc_text, validity_window


def test_repeated_parameters_are_collected_and_names_are_case_insensitive():
    criteria = criteria_from_query([("productId", "urn:a"), ("productid", "urn:b"), ("GEOGRAPHY", "DE")])
    assert criteria.productId == ("urn:a", "urn:b")
    assert criteria.geography == ("DE",)


def test_unknown_status_value_is_kept_so_it_matches_nothing_rather_than_failing():
    assert criteria_from_query([("status", "BogusStatus")]).status == ("BogusStatus",)


def test_unknown_parameter_is_refused_with_its_name():
    with pytest.raises(ApiError) as caught:
        criteria_from_query([("$filter", "created ge '2023-01-15T10:15:30Z'")])
    assert caught.value.status == 400 and "$filter" in caught.value.message


def test_unparseable_date_time_is_refused_naming_the_parameter():
    with pytest.raises(ApiError) as caught:
        criteria_from_query([("validOn", "yesterday")])
    assert "validOn='yesterday'" in caught.value.message


def test_empty_value_sets_no_condition():  # the conformance tool sends geography= for a footprint without one
    assert criteria_from_query([("geography", ""), ("classification", " "), ("validOn", "")]).is_empty()


def test_single_valued_criterion_given_twice_is_refused():
    with pytest.raises(ApiError, match="more than once"):
        criteria_from_query([("validOn", "2025-01-01T00:00:00Z"), ("validOn", "2025-02-01T00:00:00Z")])


def test_event_criteria_need_arrays_and_refuse_unknown_keys():
    assert criteria_from_event({"productId": ["urn:a"], "comment": "please"}).productId == ("urn:a",)
    assert criteria_from_event({"status": "Active"}).status == ("Active",)
    with pytest.raises(ApiError, match="data.productId must be a non-empty array"):
        criteria_from_event({"productId": "urn:a"})
    with pytest.raises(ApiError, match="data.pf is not a PACT v3 request criterion"):
        criteria_from_event({"pf": {"productIds": ["urn:a"]}})


def test_to_params_round_trips_through_the_query_parser():
    criteria = Criteria(productId=("urn:a", "urn:b"), validOn="2025-01-01T00:00:00Z", status=("Active",))
    assert criteria_from_query(criteria.to_params()) == criteria


def test_utc_text_sorts_like_time_across_offsets():
    assert utc_text("2025-01-01T01:00:00+01:00") == "2025-01-01T00:00:00.000000"
    assert utc_text("2025-01-01T00:00:00Z") == utc_text("2025-01-01T00:00:00")
    assert utc_text("1900-01-01T00:00:00Z") < utc_text("2099-12-31T23:59:59Z")


def test_validity_defaults_to_three_years_from_reference_period_end():
    start, end = validity_window(footprint())  # referencePeriodEnd 2025-01-01, no validity period
    assert (start, end) == ("2025-01-01T00:00:00.000000", "2028-01-01T00:00:00.000000")


def test_validity_period_fields_win_over_the_default():
    pf = footprint(validityPeriodStart="2025-02-01T00:00:00Z", validityPeriodEnd="2026-02-01T00:00:00Z")
    assert validity_window(pf) == ("2025-02-01T00:00:00.000000", "2026-02-01T00:00:00.000000")


def test_leap_day_reference_end_moves_to_28_february():
    pf = footprint(pcf={"referencePeriodEnd": "2024-02-29T00:00:00Z"})
    assert validity_window(pf)[1] == "2027-02-28T00:00:00.000000"
