"""Seeded synthetic campaigns: registrations, offers and incentives in the export formats."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from igent.store.atomic import write_json_atomic, write_text_atomic

Scenario = Literal["overlap", "diverse", "no_battery", "scarce"]
SCENARIOS: tuple[Scenario, ...] = ("overlap", "diverse", "no_battery", "scarce")

# Tiers skip quantities on purpose, so picking the closest tier is exercised.
_SOLAR_TIERS = (6, 8, 10, 12, 15, 18, 21, 25, 30)
# Mostly plain watts; the odd unit-suffixed value mirrors real supplier sheets.
_PANEL_WATTS = ("370", "400", "400", "410", "430", "430W", "0.44 kW")
_BATTERY_KWH = ("10", "13.5", "13.5", "16")
_SUPPLIER_NAMES = (
    "TruNorthSolar",
    "iSolar",
    "SunPeak",
    "NorthStarEnergy",
    "PrairieVolt",
    "LakeShoreSolar",
    "GopherSun",
    "TwinCityPower",
    "BoundaryWaters",
    "RedRiver",
)
_STATUSES = ("Registered",) * 18 + ("Cancelled", "Declined")
_UTILITIES = ("Xcel Energy", "Minnesota Power", "Dakota Electric", "Otter Tail Power")
_FEW_ZIPS = 5
_MANY_ZIPS = 24


@dataclass(frozen=True)
class GeneratedCampaign:
    """A generated campaign as raw JSON-ready data."""

    registrations: list[dict[str, Any]]
    offers: dict[str, Any]
    incentives: dict[str, Any]


def _zip_pool(rng: random.Random, size: int) -> list[str]:
    # Minnesota ZIPs (55xxx), distinct and sorted.
    return sorted(f"55{number:03d}" for number in rng.sample(range(100, 1000), size))


def _overlapping_areas(rng: random.Random, zips: list[str], num_suppliers: int) -> list[set[str]]:
    """Each supplier serves most ZIPs; every ZIP has at least two suppliers where possible."""
    areas = [{z for z in zips if rng.random() < 0.7} for _ in range(num_suppliers)]
    for zip_code in zips:
        holders = [i for i, area in enumerate(areas) if zip_code in area]
        missing = min(2, num_suppliers) - len(holders)
        others = [i for i in range(num_suppliers) if i not in holders]
        for index in rng.sample(others, max(0, missing)):
            areas[index].add(zip_code)
    return areas


def _diverse_areas(rng: random.Random, zips: list[str], num_suppliers: int) -> list[set[str]]:
    """Varied overlap: ZIPs with one to all suppliers, and a sixth of them with none."""
    unserved = set(rng.sample(zips, max(1, len(zips) // 6)))
    areas: list[set[str]] = [set() for _ in range(num_suppliers)]
    for zip_code in zips:
        if zip_code in unserved:
            continue
        count = min(num_suppliers, rng.choice((1, 1, 2, 2, 3, num_suppliers)))
        for index in rng.sample(range(num_suppliers), count):
            areas[index].add(zip_code)
    served = sorted(set(zips) - unserved)
    for area in areas:
        if not area:
            area.add(rng.choice(served))
    return areas


def _capacities(
    rng: random.Random, scenario: Scenario, num_suppliers: int, num_registrations: int
) -> list[int]:
    if scenario == "scarce":
        # Half the registrations at most, spread over the suppliers: no_capacity must occur.
        total = num_registrations // 2
        shares = [total // num_suppliers] * num_suppliers
        for index in rng.sample(range(num_suppliers), total % num_suppliers):
            shares[index] += 1
        return shares
    # 1.25x to 2.5x the registrations in all: the cheapest suppliers fill up, most still match.
    low = max(1, math.ceil(num_registrations * 1.25 / num_suppliers))
    high = max(low, math.ceil(num_registrations * 2.5 / num_suppliers))
    return [rng.randint(low, high) for _ in range(num_suppliers)]


def _price_row(cash: float, lmi_factor: float | None) -> dict[str, Any]:
    lmi_cash = round(cash * lmi_factor) if lmi_factor else 0
    return {
        "CashPrice": round(cash),
        "LMICashPrice": lmi_cash,
        "LoanInstallment": round(cash / 150, 2),
        "LMILoanInstallment": round(lmi_cash / 150, 2) if lmi_factor else 0,
    }


def _watts(text: str) -> float:
    lowered = text.lower()
    value = float(lowered.replace("kw", "").replace("w", "").strip())
    return value * 1000 if "kw" in lowered else value


def _solar_product(rng: random.Random, index: int, lmi_factor: float | None) -> dict[str, Any]:
    watts_text = rng.choice(_PANEL_WATTS)
    dollars_per_watt = rng.uniform(2.6, 3.2)
    tiers = sorted(rng.sample(_SOLAR_TIERS, rng.randint(5, len(_SOLAR_TIERS))))
    prices = [
        {"Quantity": quantity}
        | _price_row(dollars_per_watt * _watts(watts_text) * quantity, lmi_factor)
        for quantity in tiers
    ]
    return {
        "ProductType": "Solar",
        "ProductName": f"Panel {chr(65 + index % 26)}{rng.randint(100, 999)}",
        "ProductCapacity": watts_text,
        "ProductPrices": prices,
    }


def _battery_product(rng: random.Random, index: int, lmi_factor: float | None) -> dict[str, Any]:
    unit_price = rng.uniform(12000, 15000)
    prices = [
        # A small volume discount per extra battery.
        {"Quantity": quantity}
        | _price_row(unit_price * quantity * (1 - 0.04 * (quantity - 1)), lmi_factor)
        for quantity in (1, 2, 3)
    ]
    return {
        "ProductType": "Battery",
        "ProductName": f"Battery {chr(65 + index % 26)}{rng.randint(10, 99)}",
        "ProductCapacity": rng.choice(_BATTERY_KWH),
        "ProductPrices": prices,
    }


def _supplier_id(index: int) -> str:
    name = _SUPPLIER_NAMES[index % len(_SUPPLIER_NAMES)]
    return name if index < len(_SUPPLIER_NAMES) else f"{name}{index // len(_SUPPLIER_NAMES) + 1}"


def _offers(
    rng: random.Random,
    scenario: Scenario,
    zips: list[str],
    num_suppliers: int,
    num_registrations: int,
    campaign_id: str,
) -> dict[str, Any]:
    if scenario == "diverse":
        areas = _diverse_areas(rng, zips, num_suppliers)
    else:
        areas = _overlapping_areas(rng, zips, num_suppliers)
    capacities = _capacities(rng, scenario, num_suppliers, num_registrations)
    without_battery = rng.randrange(num_suppliers) if scenario == "no_battery" else -1
    suppliers = []
    for index, (area, capacity) in enumerate(zip(areas, capacities, strict=True)):
        # About a quarter of suppliers offer no LMI prices (0 means "not offered").
        lmi_factor = rng.uniform(0.8, 0.9) if rng.random() < 0.75 else None
        products = [_solar_product(rng, index, lmi_factor)]
        if index != without_battery:
            products.append(_battery_product(rng, index, lmi_factor))
        suppliers.append(
            {
                "SupplierID": _supplier_id(index),
                "Capacity": capacity,
                "InterestRate": round(rng.uniform(4.99, 7.99), 2),
                "LoanTermMonths": rng.choice((120, 180, 240, 240)),
                "ServiceAreas": sorted(area),
                "Offers": products,
            }
        )
    return {"CampaignID": campaign_id, "SupplierOffers": suppliers}


def _make_irregular(rng: random.Random, record: dict[str, Any]) -> None:
    """Apply one export quirk: a type swapped, a null, or an unknown key."""
    kind = rng.randrange(6)
    if kind == 0 and record["Proposal_OptimalAmountOfPanels"] is not None:
        record["Proposal_OptimalAmountOfPanels"] = str(record["Proposal_OptimalAmountOfPanels"])
    elif kind == 1:
        record["Contact_LowMediumIncome"] = str(record["Contact_LowMediumIncome"])
    elif kind == 2:
        record["Marketing_Source"] = rng.choice(("newsletter", "facebook", "neighbour"))
    elif kind == 3:
        record["Product_EstimatedRoofSizeFt"] = None
        record["Product_HomeSize"] = str(record["Product_HomeSize"])
    elif kind == 4:
        record["Product_KnowsAmountOfPanels"] = int(record["Product_KnowsAmountOfPanels"])
    elif "Proposal_OptimalAmountOfBatteries" in record:
        record["Proposal_OptimalAmountOfBatteries"] = int(
            record["Proposal_OptimalAmountOfBatteries"]
        )
    else:
        record["Lead_CreatedBy"] = None


def _make_invalid(rng: random.Random, record: dict[str, Any]) -> None:
    """Leave no usable panel count, in one of the ways real exports do."""
    kind = rng.randrange(3)
    record["Product_KnowsAmountOfPanels"] = "1" if kind == 1 else "0"
    record["Product_AmountOfPanels"] = 0 if kind == 1 else None
    record["Proposal_OptimalAmountOfPanels"] = "" if kind == 2 else None


def _registration(
    rng: random.Random,
    index: int,
    zips: list[str],
    campaign_name: str,
    *,
    loan_rate: float,
) -> dict[str, Any]:
    optimal = rng.randint(6, 30)
    knows = rng.random() < 0.4
    batteries = rng.choice((1, 1, 2)) if rng.random() < 0.35 else 0
    record: dict[str, Any] = {
        "RegistrationNumber": f"R-{index + 1:06d}",
        "CampaignName": campaign_name,
        "RegistrationStatus": rng.choice(_STATUSES),
        "Contact_Zip": rng.choice(zips),
        "Contact_state": "MN",
        "Product_RoofPitch": rng.choice(("Flat", "Low", "Medium", "Steep")),
        "Product_RoofOrientation": rng.choice(("South", "East", "West", "South-East")),
        "Product_KnowsAmountOfPanels": "1" if knows else "0",
        "Product_AmountOfPanels": max(6, optimal + rng.randint(-4, 4)) if knows else None,
        "Product_CanEstimateRoofSurface": rng.choice(("0", "1")),
        "Product_EstimatedRoofSizeFt": rng.randint(300, 1600),
        "Product_HomeSize": rng.randint(900, 4200),
        "Proposal_OptimalAmountOfPanels": optimal,
        "Contact_LowMediumIncome": 1 if rng.random() < 0.25 else 0,
        "Contact_Utility": rng.choice(_UTILITIES),
        "Product_NumberOfStories": rng.choice((1, 1, 2, 2, 3)),
        "Proposal_OptimalAmountOfBatteries": str(batteries),
    }
    if rng.random() < loan_rate:
        record["PaymentType"] = "Loan"
    elif rng.random() < 0.5:
        record["PaymentType"] = "Cash"
    if batteries == 0 and rng.random() < 0.2:
        del record["Proposal_OptimalAmountOfBatteries"]  # exports often omit an empty value
    return record


def _incentives(rng: random.Random, zips: list[str]) -> dict[str, Any]:
    return {
        "incentives": [
            {
                "name": "Federal residential clean energy credit",
                "communities": "ALL",
                "lmi_only": False,
                "valid_from": "2026-01-01",
                "valid_to": "2027-12-31",
                "kind": "percent_of_total",
                "rate": 30.0,
                "cap": None,
            },
            {
                "name": "Solar for All LMI grant",
                "communities": sorted(rng.sample(zips, max(1, len(zips) // 2))),
                "lmi_only": True,
                "valid_from": "2026-01-01",
                "valid_to": "2027-12-31",
                "kind": "fixed_amount",
                "rate": 2500.0,
                "cap": None,
            },
            {
                "name": "City solar rebate",
                "communities": sorted(rng.sample(zips, max(1, len(zips) // 3))),
                "lmi_only": False,
                "valid_from": "2026-01-01",
                "valid_to": "2027-12-31",
                "kind": "per_watt",
                "rate": 0.25,
                "cap": 1500.0,
            },
        ]
    }


def generate_campaign(
    *,
    num_registrations: int,
    num_suppliers: int,
    scenario: Scenario = "overlap",
    seed: int = 0,
    invalid_rate: float = 0.0,
    irregular_rate: float = 0.15,
    loan_rate: float = 0.3,
    campaign_name: str = "Demo Solar 2026",
) -> GeneratedCampaign:
    """Generate a campaign; the same arguments always give the same campaign.

    Raises:
        ValueError: an unknown scenario, no suppliers, or a negative registration count.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario {scenario!r} is unknown; expected one of {SCENARIOS}")
    if num_suppliers < 1:
        raise ValueError(f"num_suppliers {num_suppliers!r}: expected 1 or more")
    if num_registrations < 0:
        raise ValueError(f"num_registrations {num_registrations!r}: expected 0 or more")
    rng = random.Random(seed)
    zips = _zip_pool(rng, _MANY_ZIPS if scenario == "diverse" else _FEW_ZIPS)
    offers = _offers(rng, scenario, zips, num_suppliers, num_registrations, f"CAMP-{seed:04d}")
    registrations = []
    for index in range(num_registrations):
        record = _registration(rng, index, zips, campaign_name, loan_rate=loan_rate)
        if rng.random() < irregular_rate:
            _make_irregular(rng, record)
        if rng.random() < invalid_rate:
            _make_invalid(rng, record)
        registrations.append(record)
    return GeneratedCampaign(registrations, offers, _incentives(rng, zips))


def campaign_paths(directory: Path, name: str) -> dict[str, Path]:
    """Return where a campaign called ``name`` lives in a data directory."""
    return {
        "registrations": directory / "registrations" / f"{name}.json",
        "offers": directory / "offers" / f"{name}.json",
        "incentives": directory / "incentives" / f"{name}.yaml",
    }


def write_campaign_files(campaign: GeneratedCampaign, paths: Mapping[str, Path]) -> None:
    """Write the campaign atomically to ``paths["registrations"|"offers"|"incentives"]``."""
    write_json_atomic(paths["registrations"], campaign.registrations)
    write_json_atomic(paths["offers"], campaign.offers)
    write_text_atomic(
        paths["incentives"],
        yaml.safe_dump(campaign.incentives, sort_keys=False, allow_unicode=True),
    )


def write_campaign(campaign: GeneratedCampaign, directory: Path, name: str) -> dict[str, Path]:
    """Write the campaign's three files by the data-dir convention; return their paths."""
    paths = campaign_paths(directory, name)
    write_campaign_files(campaign, paths)
    return paths
