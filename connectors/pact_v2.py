"""PACT v2.x footprints in, PACT v3 footprints out: the conversion ``pcfx publish`` and the pull connector
apply before validation (PACT FAQ: "it will be possible to transform V2.x PCFs to V3 PCFs").

PACT publishes no field-by-field mapping, so each rule below is reasoned from the 2.3.3 and 3.0.3 data
models and the ADRs behind the changes. Every change lands in the footprint's ``normalisations`` (in PACT
JSON, pcfx's extension), text the v3 model has no field for goes into ``comment``, and what cannot be
converted without guessing is rejected with the v2 field named.

- **Declared unit** (ADR-36). v2 states every value per *one* ``declaredUnit`` and ``unitaryProductAmount``
  says how many the product holds; v3 states them per declared unit = ``declaredUnitAmount`` x
  ``declaredUnitOfMeasurement``. So ``declaredUnitAmount`` = ``unitaryProductAmount`` and every per-unit
  quantity (kgCO2e, kgC, kg) is multiplied by it, exactly. ``productMassPerDeclaredUnit`` (optional in v2,
  mandatory in v3): absent with unit ``kilogram`` it is 1 kg per kilogram; absent otherwise is rejected.
- **Biogenic totals.** v2 ``pCfExcludingBiogenic`` leaves out every biogenic emission; v3
  ``pcfExcludingBiogenicUptake`` keeps them and leaves out only the CO2 taken up into the product. So
  v3 excluding = v2 excluding + ``dLucGhgEmissions`` + ``landManagementGhgEmissions`` +
  ``otherBiogenicGhgEmissions`` when all three are given ("0" when none); else, when v2 gives
  ``pCfIncludingBiogenic`` (everything, uptake included) and ``biogenicCarbonWithdrawal`` (the uptake),
  v3 excluding = v2 including - withdrawal. v3 including = v3 excluding + withdrawal (the uptake is 0 when
  the product holds no biogenic carbon), else v2 including, which means the same. Anything else is
  unknown and rejected. When v2 gives both totals and they disagree with the parts, the parts win and a
  finding says so.
- **Renamed:** ``dLucGhgEmissions`` -> ``landUseChangeGhgEmissions``, ``biogenicCarbonWithdrawal`` ->
  ``biogenicCO2Uptake``, ``otherBiogenicGhgEmissions`` -> ``biogenicNonCO2Emissions`` (its nearest v3
  field, noted), ``iLucGhgEmissions`` -> ``landCarbonLeakage`` (v3's iLUC placeholder, noted).
  ``landManagementGhgEmissions`` has no single v3 field (v3 splits it by origin): it counts in the total
  only, noted. ``productCategoryCpc`` -> ``productClassifications``
  ``urn:pact:productclassification:un-cpc:<code>`` (ADR-37). ``characterizationFactors`` and
  ``ipccCharacterizationFactorsSources`` -> ``ipccCharacterizationFactors``. ``crossSectoralStandardsUsed``
  and ``crossSectoralStandards`` -> ``crossSectoralStandards`` in v3 spelling (ADR-32).
- **Assurance -> verification** (ADR-44): only an assurance with ``assurance: true`` is a verification;
  coverage ``product level`` stays, ``PCF system`` becomes ``PCF calculation model``, the corporate-level
  and product-line coverages have no v3 value and are dropped (noted); ``level`` and ``boundary`` move
  into the verification's ``comments``.
- **Dropped, noted:** ``dqi`` (v2 rates five indicators on 1..3, v3 three on 1..5; no official mapping,
  and pcfx invents no scale); ``version``, ``updated``, ``statusComment``, ``biogenicAccountingMethodology``,
  ``uncertaintyAssessmentDescription`` (text into ``comment``). JSON numbers of v2 (``primaryDataShare``,
  ``exemptedEmissionsPercent``) become decimal strings. The id is kept: v3 ids are UUIDs too.
"""

from __future__ import annotations

from decimal import Context, Decimal, Inexact
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pcfx.schemas.errors import MISSING, ContractError, Problem
from pcfx.schemas.models import ProductFootprint, format_decimal
from pcfx.schemas.pact_types import DECIMAL_TEXT
from pcfx.streams.derive import SPEC_VERSION

CPC_URN = "urn:pact:productclassification:un-cpc:"
EXACT = Context(prec=1000, traps=[Inexact])  # products of PACT decimals are exact; anything else is a bug
RENAMED = {  # v2 pcf field -> v3 field; per-declared-unit quantities, scaled by unitaryProductAmount
    "fossilGhgEmissions": "fossilGhgEmissions",
    "fossilCarbonContent": "fossilCarbonContent",
    "biogenicCarbonContent": "biogenicCarbonContent",
    "dLucGhgEmissions": "landUseChangeGhgEmissions",
    "iLucGhgEmissions": "landCarbonLeakage",
    "otherBiogenicGhgEmissions": "biogenicNonCO2Emissions",
    "biogenicCarbonWithdrawal": "biogenicCO2Uptake",
    "aircraftGhgEmissions": "aircraftGhgEmissions",
    "packagingGhgEmissions": "packagingGhgEmissions",
    "productMassPerDeclaredUnit": "productMassPerDeclaredUnit",
}
APPROXIMATE = {
    "otherBiogenicGhgEmissions": "its nearest v3 field; the v2 figure is not restricted to non-CO2 gases",
    "iLucGhgEmissions": "v3's placeholder for indirect land-use change",
}
BIOGENIC_PARTS = ("dLucGhgEmissions", "landManagementGhgEmissions", "otherBiogenicGhgEmissions")
STANDARDS = {  # v2 spellings (crossSectoralStandardsUsed, early crossSectoralStandards) -> v3
    "GHG Protocol Product standard": "GHGP-Product",
    "GHGP Product": "GHGP-Product",
    "ISO Standard 14067": "ISO14067",
    "ISO Standard 14044": "ISO14040-44",
    "PACT Framework v1": "PACT-1.0",
    "PACT Framework v2": "PACT-2.0",
    "PACT Methodology 1.0": "PACT-1.0",
    "PACT Methodology 2.0": "PACT-2.0",
    "PACT Methodology 3.0": "PACT-3.0",
}
# kg per unit where PACT's data model defines it: 1 per kilogram; 0 for energy and transport ("not relevant")
MASS_BY_UNIT = {"kilogram": Decimal(1), "kilowatt hour": Decimal(0), "megajoule": Decimal(0), "ton kilometer": Decimal(0)}
COVERAGE = {"product level": "product level", "PCF system": "PCF calculation model"}
TOP_LEVEL_DROPPED = ("version", "updated", "statusComment", "productCategoryCpc", "specVersion", "pcf")
TEXT_TO_COMMENT = ("biogenicAccountingMethodology", "uncertaintyAssessmentDescription")
NUMBERS = ("primaryDataShare", "exemptedEmissionsPercent")  # JSON numbers in v2, decimal strings in v3


def spec_major(document: Any) -> str | None:
    """The major version of a footprint's ``specVersion`` ("2" for "2.3.0"), or None if it has none."""
    version = document.get("specVersion") if isinstance(document, dict) else None
    return version.split(".", 1)[0] if isinstance(version, str) and version else None


def is_v2(document: Any) -> bool:
    """True for a PACT v2.x footprint (``specVersion`` 2.x)."""
    return spec_major(document) == "2"


def footprint_from_pact(document: dict[str, Any], masses: Mapping[str, str] | None = None) -> ProductFootprint:
    """A validated v3 footprint from PACT v3 JSON, or from PACT v2.x JSON converted first; raises
    ``ContractError`` naming the field (for a converted footprint, the v2 field beside the v3 one).

    ``masses`` maps footprint ids to kg per v2 declared unit, for v2 footprints that leave out
    ``productMassPerDeclaredUnit`` where PACT cannot supply it (e.g. the density of a product per liter)."""
    major = spec_major(document)
    if major == "1":
        label = ProductFootprint.record_label(document)
        raise ContractError(label, [Problem("specVersion", document["specVersion"], "PACT v1 is not accepted "
                                            "(deprecated since 1 Oct 2024); send PACT v2.x or v3")])
    if major != "2":
        return ProductFootprint.from_json(document)
    try:
        return ProductFootprint.from_json(v3_from_v2(document, (masses or {}).get(str(document.get("id")).lower())))
    except ContractError as error:
        raise ContractError(error.record, [_with_v2_name(p) for p in error.problems]) from None


def v3_from_v2(document: dict[str, Any], mass: str | None = None) -> dict[str, Any]:
    """PACT v3 JSON for a PACT v2.x footprint (see the module text); raises ``ContractError`` naming the
    v2 fields that cannot be converted without guessing. ``mass`` (kg per v2 declared unit, decimal text)
    stands in for an absent ``productMassPerDeclaredUnit``."""
    conversion = _Conversion(document, None if mass is None else parse_mass(mass))
    converted = conversion.footprint()
    if conversion.problems:
        raise ContractError(ProductFootprint.record_label(document), conversion.problems)
    return converted


class _Conversion:
    """One footprint's conversion: the v3 document, the notes it leaves and the problems it finds."""

    def __init__(self, document: dict[str, Any], mass: Decimal | None = None) -> None:
        self.v2 = document
        self.mass = mass
        self.source = document.get("pcf") if isinstance(document.get("pcf"), dict) else {}
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.findings: list[str] = []
        self.comments: list[str] = []
        self.amount = Decimal(1)
        self._values: dict[str, Decimal | None] = {}

    def footprint(self) -> dict[str, Any]:
        if not self.source:
            self.problems.append(Problem("pcf", self.v2.get("pcf", MISSING), "missing or not an object"))
        converted = {key: value for key, value in self.v2.items() if key not in TOP_LEVEL_DROPPED}
        converted["specVersion"] = SPEC_VERSION
        self._classifications(converted)
        pcf = self.pcf()
        self._history()
        converted["comment"] = "\n".join(part for part in [self.v2.get("comment") or "", *self.comments] if part)
        converted["pcf"] = pcf
        converted["normalisations"] = self.notes
        converted["findings"] = self.findings
        return converted

    # -- ProductFootprint ---------------------------------------------------------------------------------

    def _classifications(self, converted: dict[str, Any]) -> None:
        code = self.v2.get("productCategoryCpc")
        if code is None:
            return
        if not isinstance(code, str) or not code.strip():
            self.problems.append(Problem("productCategoryCpc", code, "not a UN CPC code"))
            return
        urn = CPC_URN + quote(code.strip(), safe=".-")
        known = list(converted.get("productClassifications") or [])
        converted["productClassifications"] = known + ([urn] if urn not in known else [])
        self.notes.append(f"productCategoryCpc {code!r} written as productClassifications {urn!r} (PACT v3, ADR-37)")

    def _history(self) -> None:
        """v3 footprints are immutable (ADR-41): the v2 minor-version fields become a line of ``comment``."""
        origin = [f"version {self.v2['version']}"] if "version" in self.v2 else []
        origin += [f"updated {self.v2['updated']}"] if self.v2.get("updated") else []
        suffix = f" ({', '.join(origin)})" if origin else ""
        self.comments.insert(0, f"Converted by pcfx from PACT {self.v2.get('specVersion')}{suffix}.")
        if self.v2.get("statusComment"):
            self.comments.append(f"v2 statusComment: {self.v2['statusComment']}")
        self.notes.append("specVersion, version, updated and statusComment of PACT v2 recorded in comment "
                          "(PACT v3 footprints are immutable, ADR-41)")

    # -- CarbonFootprint ----------------------------------------------------------------------------------

    def pcf(self) -> dict[str, Any]:
        handled = {"declaredUnit", "unitaryProductAmount", "pCfExcludingBiogenic", "pCfIncludingBiogenic",
                   "landManagementGhgEmissions", "characterizationFactors", "ipccCharacterizationFactorsSources",
                   "crossSectoralStandardsUsed", "crossSectoralStandards", "assurance", "dqi",
                   *RENAMED, *TEXT_TO_COMMENT, *NUMBERS}
        pcf = {key: value for key, value in self.source.items() if key not in handled}
        pcf["declaredUnitOfMeasurement"] = self.source.get("declaredUnit")
        pcf["declaredUnitAmount"] = self._unit_amount()
        pcf.update(self._scaled())
        pcf.update(self._totals())
        pcf.update(self._numbers())
        pcf["ipccCharacterizationFactors"] = self._ipcc()
        pcf["crossSectoralStandards"] = self._standards()
        pcf.update(self._verification())
        if pcf.get("productOrSectorSpecificRules") == []:
            del pcf["productOrSectorSpecificRules"]  # v2: empty when none were used; v3: undefined
        self._dropped_dqi()
        for name in TEXT_TO_COMMENT:
            if self.source.get(name):
                self.comments.append(f"v2 {name}: {self.source[name]}")
                self.notes.append(f"pcf.{name} recorded in comment (not in PACT v3)")
        return {key: value for key, value in pcf.items() if value is not None}

    def _unit_amount(self) -> Any:
        text = self.source.get("unitaryProductAmount")
        amount = self._decimal("unitaryProductAmount", required=True)
        if amount is not None and amount > 0:
            self.amount = amount
        if self.amount != 1:
            self.notes.append(f"per-declared-unit values multiplied by unitaryProductAmount {text!r}: PACT v2 "
                              "states them per one declaredUnit, v3 per declaredUnitAmount x "
                              "declaredUnitOfMeasurement (ADR-36)")
        return text

    def _scaled(self) -> dict[str, str]:
        """The renamed per-declared-unit quantities, multiplied by the declared unit amount."""
        values = {}
        for v2_name, v3_name in RENAMED.items():
            value = self._decimal(v2_name)
            if value is not None:
                values[v3_name] = self._per_declared_unit(v2_name, value)
                if v2_name in APPROXIMATE:
                    self.notes.append(f"pcf.{v2_name} written as {v3_name}, {APPROXIMATE[v2_name]}")
        if "productMassPerDeclaredUnit" not in values:
            values.update(self._default_mass())
        if self.source.get("landManagementGhgEmissions") is not None:
            self.notes.append("pcf.landManagementGhgEmissions counted in pcfExcludingBiogenicUptake but not "
                              "kept as a field: PACT v3 splits it by origin (fossil, biogenic CO2 emissions, "
                              "removals) and v2 does not say how it divides")
        return values

    def _default_mass(self) -> dict[str, str]:
        """Mass per declared unit when v2 gives none: the caller's figure, else what PACT defines (1 kg per
        kilogram; 0 for energy and transport, whose mass "is not relevant", v2.3 data model), else a problem."""
        unit = self.source.get("declaredUnit")
        if self.mass is not None:
            mass, why = self.mass, "given by the publisher"
        elif unit in MASS_BY_UNIT:
            mass, why = MASS_BY_UNIT[unit], f"PACT's value for the declared unit {unit!r}"
        else:
            self.problems.append(Problem("pcf.productMassPerDeclaredUnit", MISSING, "missing: PACT v3 requires the "
                                         f"product mass per declared unit, and for {unit!r} it cannot be known "
                                         "without being told (`pcfx publish --v2-mass ID=KG`)"))
            return {}
        self.notes.append(f"pcf.productMassPerDeclaredUnit absent in PACT v2: {format_decimal(mass)} kg per "
                          f"{unit}, {why} (PACT v3 requires it)")
        return {"productMassPerDeclaredUnit": self._per_declared_unit("productMassPerDeclaredUnit", mass)}

    def _totals(self) -> dict[str, str]:
        """``pcfExcludingBiogenicUptake`` and ``pcfIncludingBiogenicUptake``, see the module text."""
        known_problems = len(self.problems)
        excluding_v2 = self._decimal("pCfExcludingBiogenic", required=True)
        including_v2 = self._decimal("pCfIncludingBiogenic")
        withdrawal = self._decimal("biogenicCarbonWithdrawal")
        parts = [self._decimal(name) for name in BIOGENIC_PARTS]
        if excluding_v2 is None or len(self.problems) > known_problems:
            return {}  # an unreadable value is reported already; a total built without it would mislead
        if all(part is not None for part in parts):
            excluding = excluding_v2 + sum(parts, Decimal(0))
        elif including_v2 is not None and withdrawal is not None:
            excluding = including_v2 - withdrawal
            self.notes.append("pcfExcludingBiogenicUptake = pCfIncludingBiogenic - biogenicCarbonWithdrawal "
                              "(v2 gives not every biogenic emission, but both totals)")
        else:
            missing = next(name for name, part in zip(BIOGENIC_PARTS, parts) if part is None)
            self.problems.append(Problem(f"pcf.{missing}", MISSING, "missing: PACT v3 pcfExcludingBiogenicUptake "
                                         "includes the land-use-change, land-management and other biogenic "
                                         "emissions that v2 pCfExcludingBiogenic leaves out; give "
                                         f"{', '.join(BIOGENIC_PARTS)} ('0' when there are none), or "
                                         "pCfIncludingBiogenic and biogenicCarbonWithdrawal"))
            return {}
        including = self._including(excluding, including_v2, withdrawal)
        if including is None:
            return {}
        if excluding != excluding_v2:
            self.notes.append(f"pCfExcludingBiogenic {self.source['pCfExcludingBiogenic']!r} (v2: without biogenic "
                              f"emissions) written as pcfExcludingBiogenicUptake {format_decimal(excluding)!r} per "
                              "v2 declared unit, with them (PACT v3 semantics)")
        return {
            "pcfExcludingBiogenicUptake": self._per_declared_unit("pCfExcludingBiogenic", excluding),
            "pcfIncludingBiogenicUptake": self._per_declared_unit("pCfIncludingBiogenic", including),
        }

    def _including(self, excluding: Decimal, including_v2: Decimal | None, withdrawal: Decimal | None) -> Decimal | None:
        if withdrawal is None and self._decimal("biogenicCarbonContent") == 0:
            withdrawal = Decimal(0)
            self.notes.append("biogenicCarbonWithdrawal absent and biogenicCarbonContent 0: no biogenic CO2 "
                              "uptake in the product")
        if withdrawal is None:
            if including_v2 is None:
                self.problems.append(Problem("pcf.biogenicCarbonWithdrawal", MISSING, "missing: the biogenic CO2 "
                                             "uptake is unknown, so pcfIncludingBiogenicUptake is; give it, or "
                                             "pCfIncludingBiogenic"))
            return including_v2
        including = excluding + withdrawal
        if including_v2 is not None and including_v2 != including:
            self.findings.append(
                f"pcf.pCfIncludingBiogenic = {self.source['pCfIncludingBiogenic']!r} (PACT v2) disagrees with "
                f"pCfExcludingBiogenic + {' + '.join(BIOGENIC_PARTS)} + biogenicCarbonWithdrawal = "
                f"{format_decimal(including)}; pcfx converted the parts (PACT v2 -> v3 conversion)")
        return including

    def _numbers(self) -> dict[str, str]:
        """v2 JSON numbers as PACT decimal strings (ADR-39); floats keep their shortest exact digits."""
        values = {}
        for name in NUMBERS:
            value = self.source.get(name)
            if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
                values[name] = format_decimal(value)
            elif value is not None:
                values[name] = value  # a string already: the v3 model checks it
        if "exemptedEmissionsPercent" not in values:
            self.problems.append(Problem("pcf.exemptedEmissionsPercent", MISSING, "missing (a required field)"))
        return values

    def _ipcc(self) -> list[str] | None:
        reports = list(self.source.get("ipccCharacterizationFactorsSources") or [])
        single = self.source.get("characterizationFactors")
        if isinstance(single, str) and single not in reports:
            reports.append(single)
        if not reports:
            self.problems.append(Problem("pcf.ipccCharacterizationFactorsSources", MISSING, "missing, and no "
                                         "characterizationFactors either (PACT v3 requires the IPCC reports used)"))
        return reports or None

    def _standards(self) -> list[str] | None:
        given = list(self.source.get("crossSectoralStandards") or []) + list(self.source.get("crossSectoralStandardsUsed") or [])
        standards: list[str] = []
        for name in given:
            v3_name = STANDARDS.get(name, name)  # unknown values pass: PACT hosts MUST accept them
            if v3_name not in standards:
                standards.append(v3_name)
        if standards != given:
            self.notes.append(f"crossSectoralStandardsUsed/crossSectoralStandards {given!r} written as "
                              f"crossSectoralStandards {standards!r} (PACT v3 spelling, ADR-32)")
        if not standards:
            self.problems.append(Problem("pcf.crossSectoralStandardsUsed", MISSING, "missing (PACT v3 requires "
                                         "the cross-sectoral standards used)"))
        return standards or None

    def _verification(self) -> dict[str, Any]:
        assurance = self.source.get("assurance")
        if assurance is None:
            return {}
        if not isinstance(assurance, dict):
            self.problems.append(Problem("pcf.assurance", assurance, "not an object"))
            return {}
        if assurance.get("assurance") is not True:
            self.notes.append("pcf.assurance dropped: it says the PCF was not assured, and a v3 verification's "
                              "presence means verified (ADR-44)")
            return {}
        verification = {key: assurance[key] for key in ("completedAt", "standardName") if assurance.get(key)}
        if assurance.get("providerName"):
            verification["providerName"] = assurance["providerName"]
        coverage = assurance.get("coverage")
        if coverage in COVERAGE:
            verification["coverage"] = COVERAGE[coverage]
        elif coverage is not None:
            self.notes.append(f"pcf.assurance.coverage {coverage!r} dropped: PACT v3 verification coverage has no "
                              f"such value (only {', '.join(sorted(set(COVERAGE.values())))} map)")
        details = [f"v2 assurance {key}: {assurance[key]}" for key in ("level", "boundary") if assurance.get(key)]
        comments = "; ".join([*([assurance["comments"]] if assurance.get("comments") else []), *details])
        if comments:
            verification["comments"] = comments
        self.notes.append("pcf.assurance written as pcf.verification (PACT v3, ADR-44)")
        return {"verification": verification}

    def _dropped_dqi(self) -> None:
        dqi = self.source.get("dqi")
        if dqi is not None:
            self.notes.append(f"pcf.dqi {dqi!r} dropped: PACT v2 rates five indicators on 1..3 and v3 three on "
                              "1..5, with no official mapping between the scales")

    # -- values ---------------------------------------------------------------------------------------------

    def _decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        """The exact value of ``pcf.<name>`` (a PACT decimal string), None if absent or unreadable; each
        problem is reported once however often the value is read."""
        if name not in self._values:
            self._values[name] = self._read_decimal(name, required)
        return self._values[name]

    def _read_decimal(self, name: str, required: bool) -> Decimal | None:
        value = self.source.get(name)
        if value is None:
            if required:
                self.problems.append(Problem(f"pcf.{name}", MISSING, "missing (a required field of PACT v2)"))
            return None
        if not isinstance(value, str) or not DECIMAL_TEXT.fullmatch(value):
            self.problems.append(Problem(f"pcf.{name}", value, "not a PACT decimal string (PACT v2.3 Decimal)"))
            return None
        return Decimal(value)

    def _per_declared_unit(self, name: str, value: Decimal) -> str:
        """PACT text of a per-unit quantity for v3's declared unit; the v2 text itself when nothing changes."""
        text = self.source.get(name)
        if self.amount == 1 and isinstance(text, str) and Decimal(text) == value:
            return text
        return format_decimal(EXACT.multiply(value, self.amount) if self.amount != 1 else value)


def parse_mass(text: str) -> Decimal:
    """A product mass in kg (decimal text, >= 0); raises ValueError saying what is wrong."""
    if not DECIMAL_TEXT.fullmatch(text) or Decimal(text) < 0:
        raise ValueError(f"mass {text!r} is not a decimal number of kg >= 0")
    return Decimal(text)


def _with_v2_name(problem: Problem) -> Problem:
    """Name the v2 field beside the v3 one in a problem found after conversion."""
    renamed = {f"pcf.{v3}": f"pcf.{v2}" for v2, v3 in RENAMED.items() if v2 != v3}
    renamed.update({"pcf.declaredUnitOfMeasurement": "pcf.declaredUnit", "pcf.declaredUnitAmount": "pcf.unitaryProductAmount",
                    "pcf.pcfExcludingBiogenicUptake": "pcf.pCfExcludingBiogenic",
                    "pcf.pcfIncludingBiogenicUptake": "pcf.pCfIncludingBiogenic", "pcf.verification": "pcf.assurance"})
    for v3_path, v2_path in renamed.items():
        if problem.path == v3_path or problem.path.startswith(v3_path + "."):
            return Problem(f"{problem.path} (v2 {v2_path + problem.path[len(v3_path):]})", problem.value, problem.reason)
    return problem
