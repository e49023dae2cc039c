"""The synthetic campaign generator: deterministic, parseable, and true to each scenario."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from igent.campaign.demo import demo_campaign, demo_campaign_paths, write_demo_campaign
from igent.campaign.generator import SCENARIOS, Scenario, generate_campaign, write_campaign
from igent.campaign.loader import load_incentives, load_offers, load_registrations
from igent.domain import IncentiveBook, OfferBook, Registration


def _served_zips(book: OfferBook) -> Counter[str]:
    return Counter(zip_code for s in book.suppliers for zip_code in s.service_areas)


def test_same_seed_gives_the_same_campaign() -> None:
    first = generate_campaign(num_registrations=30, num_suppliers=3, seed=11)
    second = generate_campaign(num_registrations=30, num_suppliers=3, seed=11)

    assert first == second


def test_different_seeds_give_different_campaigns() -> None:
    first = generate_campaign(num_registrations=30, num_suppliers=3, seed=11)
    second = generate_campaign(num_registrations=30, num_suppliers=3, seed=12)

    assert first.registrations != second.registrations
    assert first.offers != second.offers


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_file_parses_and_every_registration_is_usable(scenario: Scenario, seed: int) -> None:
    campaign = generate_campaign(
        num_registrations=40, num_suppliers=4, scenario=scenario, seed=seed
    )

    registrations = [Registration.model_validate(raw) for raw in campaign.registrations]
    book = OfferBook.model_validate(campaign.offers)
    IncentiveBook.model_validate(campaign.incentives)

    assert len(registrations) == 40
    assert len({r.registration_id for r in registrations}) == 40
    assert registrations[0].registration_id == "R-000001"
    assert all(r.num_panels is not None and r.num_panels > 0 for r in registrations)
    assert all(len(r.zip_code) == 5 and r.zip_code.isdigit() for r in registrations)
    assert len(book.suppliers) == 4
    assert all(s.product("Solar") is not None for s in book.suppliers)


def test_overlap_serves_zips_by_several_suppliers_with_room_for_most() -> None:
    campaign = generate_campaign(num_registrations=50, num_suppliers=4, scenario="overlap", seed=3)
    book = OfferBook.model_validate(campaign.offers)
    served = _served_zips(book)

    zips = {raw["Contact_Zip"] for raw in campaign.registrations}
    assert all(served[zip_code] >= 2 for zip_code in zips)
    assert sum(s.capacity for s in book.suppliers) >= 50


def test_diverse_leaves_some_registration_zips_unserved() -> None:
    campaign = generate_campaign(num_registrations=60, num_suppliers=4, scenario="diverse", seed=3)
    served = _served_zips(OfferBook.model_validate(campaign.offers))

    zips = [raw["Contact_Zip"] for raw in campaign.registrations]
    assert any(served[zip_code] == 0 for zip_code in zips)
    assert sum(served[zip_code] > 0 for zip_code in zips) > len(zips) // 2
    assert len(set(served.values())) > 1  # overlap varies from ZIP to ZIP


def test_no_battery_has_exactly_one_supplier_without_a_battery() -> None:
    campaign = generate_campaign(
        num_registrations=20, num_suppliers=4, scenario="no_battery", seed=5
    )
    book = OfferBook.model_validate(campaign.offers)

    assert sum(s.product("Battery") is None for s in book.suppliers) == 1


@pytest.mark.parametrize("num_registrations", [5, 37, 100])
def test_scarce_capacity_is_below_the_number_of_registrations(num_registrations: int) -> None:
    campaign = generate_campaign(
        num_registrations=num_registrations, num_suppliers=4, scenario="scarce", seed=1
    )
    book = OfferBook.model_validate(campaign.offers)

    assert sum(s.capacity for s in book.suppliers) < num_registrations


def test_irregular_records_carry_strings_for_numbers_and_unknown_keys() -> None:
    campaign = generate_campaign(num_registrations=80, num_suppliers=2, seed=2, irregular_rate=0.5)
    raws = campaign.registrations

    assert any(isinstance(r["Proposal_OptimalAmountOfPanels"], str) for r in raws)
    assert any(isinstance(r["Contact_LowMediumIncome"], str) for r in raws)
    assert any(isinstance(r.get("Proposal_OptimalAmountOfBatteries"), int) for r in raws)
    assert any("Marketing_Source" in r for r in raws)
    assert all(isinstance(r["Contact_Zip"], str) for r in raws)
    assert all(Registration.model_validate(r).num_panels for r in raws)


def test_no_irregularities_when_the_rate_is_zero() -> None:
    campaign = generate_campaign(num_registrations=50, num_suppliers=2, seed=2, irregular_rate=0)

    assert not any("Marketing_Source" in r for r in campaign.registrations)
    assert all(isinstance(r["Contact_LowMediumIncome"], int) for r in campaign.registrations)


def test_invalid_rate_leaves_some_registrations_without_a_panel_count() -> None:
    campaign = generate_campaign(num_registrations=60, num_suppliers=2, seed=4, invalid_rate=0.3)
    registrations = [Registration.model_validate(raw) for raw in campaign.registrations]

    invalid = [r for r in registrations if r.num_panels is None]
    assert 0 < len(invalid) < len(registrations)


def test_generated_mix_has_loans_batteries_and_lmi() -> None:
    campaign = generate_campaign(num_registrations=100, num_suppliers=3, seed=8)
    registrations = [Registration.model_validate(raw) for raw in campaign.registrations]

    assert 10 < sum(r.payment_type == "Loan" for r in registrations) < 50
    assert 15 < sum(r.num_batteries > 0 for r in registrations) < 55
    assert 10 < sum(r.low_medium_income for r in registrations) < 45


def test_unknown_scenario_is_rejected() -> None:
    with pytest.raises(ValueError, match="'crowded'"):
        generate_campaign(num_registrations=1, num_suppliers=1, scenario="crowded")  # type: ignore[arg-type]


def test_write_campaign_uses_the_data_dir_convention(tmp_path: Path) -> None:
    campaign = generate_campaign(num_registrations=10, num_suppliers=2, seed=6)

    paths = write_campaign(campaign, tmp_path, "spring")

    assert paths == {
        "registrations": tmp_path / "registrations" / "spring.json",
        "offers": tmp_path / "offers" / "spring.json",
        "incentives": tmp_path / "incentives" / "spring.yaml",
    }
    assert json.loads(paths["registrations"].read_text()) == campaign.registrations
    assert json.loads(paths["offers"].read_text()) == campaign.offers
    assert yaml.safe_load(paths["incentives"].read_text()) == campaign.incentives
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["registrations", "offers", "incentives", "spring.json", "spring.json", "spring.yaml"]
    )


def test_written_campaign_loads_with_the_campaign_loader(tmp_path: Path) -> None:
    campaign = generate_campaign(num_registrations=15, num_suppliers=3, seed=9, invalid_rate=0.2)
    paths = write_campaign(campaign, tmp_path, "c")

    records = load_registrations(paths["registrations"])

    assert all(record.registration is not None for record in records)
    assert len(load_offers(paths["offers"]).suppliers) == 3
    assert len(load_incentives(paths["incentives"]).incentives) == 3


def test_bundled_demo_parses_with_fifty_registrations() -> None:
    paths = demo_campaign_paths()

    records = load_registrations(paths["registrations"])
    book = load_offers(paths["offers"])
    incentives = load_incentives(paths["incentives"])

    assert len(records) == 50
    assert all(r.registration is not None and r.registration.num_panels for r in records)
    assert len(book.suppliers) == 4
    assert {i.kind for i in incentives.incentives} == {
        "percent_of_total",
        "fixed_amount",
        "per_watt",
    }


def test_bundled_demo_matches_its_generator_parameters(tmp_path: Path) -> None:
    expected = write_demo_campaign(tmp_path)
    campaign = demo_campaign()

    for kind, path in demo_campaign_paths().items():
        assert path.read_text() == expected[kind].read_text(), f"regenerate demo {kind}"
    assert json.loads(demo_campaign_paths()["offers"].read_text()) == campaign.offers
