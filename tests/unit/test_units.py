"""Recipe quantities become declared units of the input exactly, or not at all."""

import pytest

from pcfx.streams.units import UnknownUnit, declared_unit_code, quantity_unit_code, to_declared_units


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


def test_ton_is_not_a_declared_unit_and_unknown_names_are_refused():
    with pytest.raises(UnknownUnit, match="not a PACT unit"):
        declared_unit_code("ton")
    with pytest.raises(UnknownUnit, match="'pound' is unknown"):
        quantity_unit_code("pound")
