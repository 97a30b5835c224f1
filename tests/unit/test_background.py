"""Background databases: CSV rows become footprints owned by the database, and an import plans what to
publish against what Kafka already holds (same version: nothing; new version: deprecate, then publish)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import pytest

from pcfx.connectors.background import DATASET_NAMESPACE, Database, dataset_product_id, plan_import, read_datasets
from pcfx.connectors.csv_io import CsvError

NOW = datetime(2025, 3, 1, tzinfo=timezone.utc)
SAMPLE = Path(str(resources.files("pcfx.connectors").joinpath("data/background-sample.csv")))
V1 = Database("Jiangsu PCF database", "2024.1")
V2 = Database("Jiangsu PCF database", "2025.1")
HEADER = "dataset_id,name,declared_unit,value_kgco2e,reference_period_start,reference_period_end"
PERIOD = "2023-01-01T00:00:00Z,2024-01-01T00:00:00Z"


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "db.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def failure(path: Path) -> str:
    with pytest.raises(CsvError) as caught:
        read_datasets(path, V1, NOW)
    return str(caught.value)


def test_the_sample_database_becomes_footprints_owned_by_the_database():
    footprints = read_datasets(SAMPLE, V1, NOW)
    grid = footprints[0].to_json()
    assert len(footprints) == 6 and all("SAMPLE" in f.product_name_company for f in footprints)
    assert grid["id"] == str(uuid.uuid5(DATASET_NAMESPACE, "Jiangsu PCF database|2024.1|CN-JS-grid-electricity"))
    assert grid["companyName"] == "Jiangsu PCF database"
    assert grid["companyIds"] == ["urn:pcfx:database:Jiangsu%20PCF%20database"]
    assert grid["productIds"] == [dataset_product_id("CN-JS-grid-electricity")] == ["urn:pcfx:product:CN-JS-grid-electricity"]
    pcf = grid["pcf"]
    assert (pcf["declaredUnitOfMeasurement"], pcf["declaredUnitAmount"], pcf["pcfExcludingBiogenicUptake"]) == ("kilowatt hour", "1", "0.652")
    assert pcf["productMassPerDeclaredUnit"] == "0"  # energy: mass not relevant (PACT)
    assert pcf["geographyCountrySubdivision"] == "CN-JS"
    assert pcf["primaryDataShare"] == "0"
    assert pcf["dqi"] == {"technologicalDQR": "2", "geographicalDQR": "1", "temporalDQR": "1"}
    assert pcf["secondaryEmissionFactorSources"] == [{"name": "Jiangsu PCF database", "version": "2024.1"}]
    assert footprints[4].pcf.geography_country == "CN" and footprints[4].pcf.product_mass_per_declared_unit == "1"


def test_the_cell_text_is_the_value_and_optional_columns_fill_in(tmp_path):
    path = csv_file(tmp_path, f"steel,Steel,kilogram,2.0500,{PERIOD},1000,Eastern Asia,1.9",
                    header=HEADER + ",declared_amount,geography,fossil_kgco2e")
    pcf = read_datasets(path, V1, NOW)[0].to_json()["pcf"]
    assert (pcf["pcfExcludingBiogenicUptake"], pcf["fossilGhgEmissions"]) == ("2.0500", "1.9")
    assert pcf["productMassPerDeclaredUnit"] == "1000"  # 1 kg per kilogram x 1000 kilogram
    assert pcf["geographyRegionOrSubregion"] == "Eastern Asia" and "dqi" not in pcf


def test_the_same_version_gives_the_same_ids_and_a_new_version_new_ones():
    first, again, newer = (read_datasets(SAMPLE, db, NOW) for db in (V1, V1, V2))
    assert [f.id for f in first] == [f.id for f in again]
    assert not {f.id for f in first} & {f.id for f in newer}
    assert [f.product_ids for f in first] == [f.product_ids for f in newer]  # recipes keep their inputs


def test_an_import_publishes_what_kafka_does_not_hold_yet():
    datasets = read_datasets(SAMPLE, V1, NOW)
    plan = plan_import(datasets, {}, V1)
    assert (plan.new, plan.deprecated, plan.unchanged, plan.problems) == (6, 0, 0, [])
    assert plan.publish == datasets


def test_importing_the_same_version_again_publishes_nothing():
    datasets = read_datasets(SAMPLE, V1, NOW)
    current = {f.product_ids[0]: f for f in datasets}
    plan = plan_import(read_datasets(SAMPLE, V1, NOW), current, V1)
    assert (plan.publish, plan.unchanged) == ([], 6)


def test_a_new_version_deprecates_each_previous_footprint_before_publishing_its_successor():
    old = read_datasets(SAMPLE, V1, NOW)
    new = read_datasets(SAMPLE, V2, NOW)
    plan = plan_import(new, {f.product_ids[0]: f for f in old}, V2)
    assert (plan.new, plan.deprecated) == (6, 6)
    assert [(f.id, f.status) for f in plan.publish[:2]] == [(old[0].id, "Deprecated"), (new[0].id, "Active")]


def test_a_product_id_of_another_company_or_a_deprecated_version_is_refused():
    supplier = read_datasets(SAMPLE, Database("A steel mill", "1"), NOW)[3]
    plan = plan_import(read_datasets(SAMPLE, V1, NOW), {supplier.product_ids[0]: supplier}, V1)
    assert len(plan.problems) == 1 and "already carries a footprint of 'A steel mill'" in plan.problems[0]
    retired = read_datasets(SAMPLE, V1, NOW)[0]
    retired = retired.model_copy(update={"status": "Deprecated"})
    plan = plan_import(read_datasets(SAMPLE, V1, NOW), {retired.product_ids[0]: retired}, V1)
    assert "cannot return to Active" in plan.problems[0]


def test_missing_and_unknown_columns_are_named(tmp_path):
    message = failure(csv_file(tmp_path, header="dataset_id,name,declared_unit,value,reference_period_start,reference_period_end"))
    assert "missing column(s) value_kgco2e" in message and "unknown column(s) value" in message


def test_a_bad_cell_is_named_by_file_line_and_column(tmp_path):
    path = csv_file(tmp_path, f"grid,Grid,kilowatt hour,0.65,{PERIOD}", f"steel,Steel,kilogram,2.1e0,{PERIOD}")
    assert failure(path) == f"{path} line 3: column 'value_kgco2e': '2.1e0' is not a decimal number (digits, optional sign and fraction)"


def test_a_rule_of_the_contract_names_the_line_dataset_and_field(tmp_path):
    path = csv_file(tmp_path, f"steel,Steel,kilogram,2.1,{PERIOD},7,2,2", header=HEADER + ",dqr_technological,dqr_geographical,dqr_temporal")
    assert "line 2: dataset 'steel': pcf.dqi.technologicalDQR = '7': outside 1..5" in failure(path)


@pytest.mark.parametrize(("row", "header", "expected"), [
    (f"water,Water,liter,0.3,{PERIOD}", HEADER, "column 'mass_per_unit': is empty; PACT v3 needs the mass"),
    (f"steel,Steel,kilogram,2.1,{PERIOD},Jiangsu", HEADER + ",geography", "column 'geography': 'Jiangsu' is neither"),
    (f"steel,Steel,kilogram,2.1,{PERIOD},2", HEADER + ",dqr_technological,dqr_geographical",
     "column 'dqr_geographical': is empty; give all three DQRs or none"),
    (f",Steel,kilogram,2.1,{PERIOD}", HEADER, "column 'dataset_id': is empty"),
])
def test_cells_pcfx_cannot_use_without_guessing_are_refused(tmp_path, row, header, expected):
    assert expected in failure(csv_file(tmp_path, row, header=header))


def test_a_dataset_listed_twice_is_refused(tmp_path):
    path = csv_file(tmp_path, f"steel,Steel,kilogram,2.1,{PERIOD}", f"steel,Steel again,kilogram,2.2,{PERIOD}")
    assert "line 3: column 'dataset_id': 'steel' appears twice" in failure(path)
