"""Recipe quantities become declared units of the input exactly, or not at all."""

import pytest

from decimal import Decimal
from pathlib import Path

from pcfx.streams.units import (
    UnknownUnit,
    canonical,
    markdown_table,
    declared_unit_code,
    pact_declared_unit,
    quantity_unit_code,
    to_declared_units,
)


def test_quantity_in_the_declared_unit_is_divided_by_the_declared_amount():
    # a paint footprint is given per 12.5 liter; a recipe uses 5 liter
    assert to_declared_units(5.0, None, "liter", 12.5, 13.0) == 5.0 / 12.5
    assert to_declared_units(5.0, "liter", "liter", 12.5, 13.0) == 5.0 / 12.5


def test_kilogram_converts_through_the_mass_of_a_declared_unit():
    # a car door is declared per piece and weighs 80 kg; 40 kg of doors is half a door
    assert to_declared_units(40.0, "kilogram", "piece", 1.0, 80.0) == 40.0 / 80.0


def test_ton_is_1000_kilogram():
    assert to_declared_units(2.0, "ton", "kilogram", 1.0, 1.0) == 2000.0
    assert to_declared_units(0.5, "ton", "piece", 1.0, 250.0) == 500.0 / 250.0


def test_fixed_ratios_within_a_dimension():
    assert to_declared_units(1.0, "cubic meter", "liter", 1.0, None) == pytest.approx(1000.0)
    assert to_declared_units(1.0, "kilowatt hour", "megajoule", 1.0, 0.0) == pytest.approx(3.6)


def test_pieces_of_an_input_declared_per_kilogram_have_no_conversion():
    with pytest.raises(ValueError, match="different things"):
        to_declared_units(4.0, "piece", "kilogram", 1.0, 1.0)


def test_mass_needs_a_known_positive_mass_per_unit():
    with pytest.raises(ValueError, match="productMassPerDeclaredUnit is unknown"):
        to_declared_units(4.0, "kilogram", "piece", 1.0, None)
    with pytest.raises(ValueError, match="productMassPerDeclaredUnit is 0.0 kg"):
        to_declared_units(4.0, "kilogram", "kilowatt hour", 1.0, 0.0)


def test_aliases_are_case_and_whitespace_insensitive_in_english_and_chinese():
    assert canonical("  PCS ") == canonical("件") == canonical("unit") == canonical("台") == "piece"
    assert canonical("Kilowatt  Hour") == canonical("kWh") == canonical("千瓦时") == "kilowatt hour"
    assert canonical("t") == canonical("Tonne") == canonical("吨") == "ton"
    assert canonical("KM") == canonical("公里") == "kilometer"
    assert canonical("ｋｇ") == canonical("㎏") == "kilogram"  # full-width, as Chinese input methods type it
    assert canonical("m³") == "cubic meter"


def test_tonne_is_1000_kilogram_in_pact_and_a_length_has_no_pact_unit():
    assert pact_declared_unit("吨", Decimal("2")) == ("kilogram", Decimal("2000"))
    assert pact_declared_unit("MWh", Decimal("1.5")) == ("kilowatt hour", Decimal("1500.0"))
    assert pact_declared_unit("pcs", Decimal("1")) == ("piece", Decimal("1"))
    assert pact_declared_unit("kilometer", Decimal("1")) is None
    assert pact_declared_unit("USD (2013, producer price)", Decimal("1")) is None


def test_lengths_convert_within_their_dimension():
    assert to_declared_units(2.0, "米", "km", 1.0, None) == 2.0 * 1.0 / 1000.0
    assert to_declared_units(3.0, "kilometer", "m", 1.0, None) == 3000.0


def test_opaque_units_convert_only_to_the_same_normalised_name():
    assert to_declared_units(2.5, " usd (2013,  producer price)", "USD (2013, producer price)", 1.0, None) == 2.5
    assert to_declared_units(2.5, "Mill USD", "mill usd", 2.0, None) == 1.25
    with pytest.raises(ValueError, match="different things"):
        to_declared_units(1.0, "Mill USD", "USD (2013, producer price)", 1.0, None)
    with pytest.raises(ValueError, match="different things"):
        to_declared_units(1.0, "piece", "Mill USD", 1.0, None)


def test_empty_or_control_character_names_are_refused():
    with pytest.raises(UnknownUnit, match="empty"):
        declared_unit_code("  ")
    with pytest.raises(UnknownUnit, match="control character"):
        quantity_unit_code("kg\x00")


def test_docs_units_shows_the_table_in_force():
    page = (Path(__file__).parents[2] / "docs" / "units.md").read_text(encoding="utf-8")
    assert markdown_table() in page
