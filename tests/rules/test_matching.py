"""Phase 1 rules (1-6): panel count, candidates, eligibility, ranking and NO MATCH reasons."""

from __future__ import annotations

import pytest

from igent.rules import decide_match, eligible_supplier_ids
from tests.support.factories import (
    MISSING,
    make_engine,
    make_offers,
    make_record,
    make_registration,
    make_supplier,
)


def _match(suppliers, registration, capacity_used=None):
    engine = make_engine(make_offers(*suppliers))
    return engine.match(make_record(registration), capacity_used or {})


# --- rule 1: panel and battery counts -------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected_panels"),
    [
        pytest.param(
            {"Product_KnowsAmountOfPanels": "1", "Product_AmountOfPanels": 8},
            8,
            id="knows-flag-string-1",
        ),
        pytest.param(
            {"Product_KnowsAmountOfPanels": 1, "Product_AmountOfPanels": "8"},
            8,
            id="knows-flag-int-1",
        ),
        pytest.param(
            {"Product_KnowsAmountOfPanels": "true", "Product_AmountOfPanels": 8},
            8,
            id="knows-flag-string-true",
        ),
        pytest.param(
            {"Product_KnowsAmountOfPanels": True, "Product_AmountOfPanels": 8},
            8,
            id="knows-flag-bool-true",
        ),
        pytest.param(
            {"Product_KnowsAmountOfPanels": "0", "Product_AmountOfPanels": 8},
            12,
            id="flag-false-ignores-amount",
        ),
        pytest.param(
            {"Product_KnowsAmountOfPanels": MISSING, "Product_AmountOfPanels": 8},
            12,
            id="flag-missing-ignores-amount",
        ),
        pytest.param(
            {"Product_KnowsAmountOfPanels": "1", "Product_AmountOfPanels": 0},
            12,
            id="zero-amount-falls-back-to-optimal",
        ),
        pytest.param(
            {"Product_KnowsAmountOfPanels": "1", "Product_AmountOfPanels": -3},
            12,
            id="negative-amount-falls-back-to-optimal",
        ),
        pytest.param(
            {"Product_KnowsAmountOfPanels": "1", "Product_AmountOfPanels": None},
            12,
            id="null-amount-falls-back-to-optimal",
        ),
        pytest.param(
            {"Product_KnowsAmountOfPanels": "1", "Product_AmountOfPanels": ""},
            12,
            id="empty-amount-falls-back-to-optimal",
        ),
        pytest.param({"Proposal_OptimalAmountOfPanels": "14"}, 14, id="optimal-as-string"),
    ],
)
def test_panel_count_follows_knows_flag_then_optimal(overrides, expected_panels) -> None:
    decision = _match([make_supplier("S1")], make_registration(**overrides))

    assert decision.is_match
    assert decision.num_panels == expected_panels


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(
            {"Product_AmountOfPanels": None, "Proposal_OptimalAmountOfPanels": None},
            id="both-null",
        ),
        pytest.param(
            {
                "Product_KnowsAmountOfPanels": "1",
                "Product_AmountOfPanels": 0,
                "Proposal_OptimalAmountOfPanels": 0,
            },
            id="both-zero",
        ),
        pytest.param(
            {"Product_AmountOfPanels": MISSING, "Proposal_OptimalAmountOfPanels": MISSING},
            id="both-missing",
        ),
        pytest.param(
            {"Product_KnowsAmountOfPanels": "0", "Proposal_OptimalAmountOfPanels": ""},
            id="flag-false-and-optimal-empty",
        ),
    ],
)
def test_no_usable_panel_count_gives_invalid_registration(overrides) -> None:
    decision = _match([make_supplier("S1")], make_registration(**overrides))

    assert not decision.is_match
    assert decision.supplier_id is None
    assert decision.reason == "invalid_registration"
    assert "#0" in decision.message
    assert "'R-1'" in decision.message
    assert "Proposal_OptimalAmountOfPanels" in decision.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(2, 2, id="int"),
        pytest.param("2", 2, id="string"),
        pytest.param(" 2 ", 2, id="padded-string"),
        pytest.param("2.0", 2, id="integral-decimal-string"),
        pytest.param("", 0, id="empty-is-none"),
        pytest.param(None, 0, id="null-is-none"),
        pytest.param(MISSING, 0, id="missing-is-none"),
    ],
)
def test_battery_count_is_read_leniently(value, expected) -> None:
    decision = _match(
        [make_supplier("S1")], make_registration(Proposal_OptimalAmountOfBatteries=value)
    )

    assert decision.is_match
    assert decision.num_batteries == expected


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param(
            {"Proposal_OptimalAmountOfBatteries": "abc"},
            "Proposal_OptimalAmountOfBatteries",
            id="batteries-abc",
        ),
        pytest.param(
            {"Proposal_OptimalAmountOfBatteries": "1.5"},
            "Proposal_OptimalAmountOfBatteries",
            id="batteries-fraction",
        ),
        pytest.param(
            {"Proposal_OptimalAmountOfBatteries": -1},
            "Proposal_OptimalAmountOfBatteries",
            id="batteries-negative",
        ),
        pytest.param({"Contact_Zip": MISSING}, "Contact_Zip", id="zip-missing"),
        pytest.param({"Contact_Zip": "  "}, "Contact_Zip", id="zip-blank"),
        pytest.param({"RegistrationNumber": MISSING}, "RegistrationNumber", id="id-missing"),
        pytest.param({"PaymentType": "Lease"}, "PaymentType", id="unknown-payment-type"),
        pytest.param(
            {"Contact_LowMediumIncome": "maybe"}, "Contact_LowMediumIncome", id="bad-lmi-flag"
        ),
    ],
)
def test_malformed_registration_is_no_match_naming_index_id_and_field(overrides, field) -> None:
    engine = make_engine(make_offers(make_supplier("S1")))
    record = make_record(make_registration(**{"RegistrationNumber": "R-7", **overrides}), index=3)

    decision = engine.match(record, {})

    assert record.registration is None
    assert decision.status == "no_match"
    assert decision.reason == "invalid_registration"
    assert decision.record_index == 3
    assert "#3" in decision.message
    assert field in decision.message
    if "RegistrationNumber" not in overrides:
        assert "R-7" in decision.message
        assert decision.registration_id == "R-7"
    else:
        assert decision.registration_id == "#3"


def test_record_that_is_not_an_object_is_invalid_registration() -> None:
    engine = make_engine(make_offers(make_supplier("S1")))

    decision = engine.match(make_record(["not", "an", "object"], index=5), {})

    assert decision.reason == "invalid_registration"
    assert decision.registration_id == "#5"
    assert "#5" in decision.message


# --- rules 2-5: candidates, eligibility, NO MATCH reasons ------------------------------------


@pytest.mark.parametrize(
    ("suppliers", "capacity_used", "registration", "expected_reason"),
    [
        pytest.param(
            [make_supplier("S1", zips=["55102"])],
            {},
            make_registration(),
            "zip_not_served",
            id="zip-not-served",
        ),
        pytest.param(
            [make_supplier("S1", zips=[])],
            {},
            make_registration(),
            "zip_not_served",
            id="supplier-without-service-areas",
        ),
        pytest.param(
            [make_supplier("S1", capacity=2), make_supplier("S2", capacity=1)],
            {"S1": 2, "S2": 1},
            make_registration(),
            "no_capacity",
            id="all-candidates-full",
        ),
        pytest.param(
            [make_supplier("S1", capacity=0)],
            {},
            make_registration(),
            "no_capacity",
            id="capacity-zero",
        ),
        pytest.param(
            [make_supplier("S1", capacity=3)],
            {"S1": 5},
            make_registration(),
            "no_capacity",
            id="used-beyond-capacity",
        ),
        pytest.param(
            [make_supplier("S1", capacity=1), make_supplier("S2", battery_tiers=None)],
            {"S1": 1},
            make_registration(Proposal_OptimalAmountOfBatteries=1),
            "product_unavailable",
            id="room-left-only-without-battery",
        ),
        pytest.param(
            [make_supplier("S1", battery_tiers=None)],
            {},
            make_registration(Proposal_OptimalAmountOfBatteries=1),
            "product_unavailable",
            id="battery-asked-none-offered",
        ),
        pytest.param(
            [make_supplier("S1", battery_tiers=[])],
            {},
            make_registration(Proposal_OptimalAmountOfBatteries="2"),
            "product_unavailable",
            id="battery-product-without-tiers",
        ),
        pytest.param(
            [make_supplier("S1", solar_tiers=None)],
            {},
            make_registration(),
            "product_unavailable",
            id="no-solar-product",
        ),
        pytest.param(
            [make_supplier("S1", solar_tiers=[])],
            {},
            make_registration(),
            "product_unavailable",
            id="solar-product-without-tiers",
        ),
    ],
)
def test_no_match_reason(suppliers, capacity_used, registration, expected_reason) -> None:
    decision = _match(suppliers, registration, capacity_used)

    assert decision.status == "no_match"
    assert decision.supplier_id is None
    assert decision.reason == expected_reason
    assert decision.message


@pytest.mark.parametrize(
    ("suppliers", "capacity_used", "registration", "expected_supplier"),
    [
        pytest.param(
            [make_supplier("S1", zips=["55102"]), make_supplier("S2", zips=["55101"])],
            {},
            make_registration(),
            "S2",
            id="only-supplier-serving-zip",
        ),
        pytest.param(
            [make_supplier("S1", zips=["55101 "])],
            {},
            make_registration(Contact_Zip="55101"),
            "S1",
            id="service-area-zip-trimmed",
        ),
        pytest.param(
            [make_supplier("S1", zips=["55101"])],
            {},
            make_registration(Contact_Zip="55101 "),
            "S1",
            id="registration-zip-trimmed",
        ),
        pytest.param(
            [make_supplier("S1", zips=["55101"])],
            {},
            make_registration(Contact_Zip=55101),
            "S1",
            id="registration-zip-numeric",
        ),
        pytest.param(
            [make_supplier("S1", zips=[55101])],
            {},
            make_registration(Contact_Zip="55101"),
            "S1",
            id="service-area-zip-numeric",
        ),
        pytest.param(
            [make_supplier("S1", battery_tiers=None), make_supplier("S2", capacity=100)],
            {"S2": 99},
            make_registration(Proposal_OptimalAmountOfBatteries="2"),
            "S2",
            id="battery-string-skips-supplier-without-battery",
        ),
        pytest.param(
            [make_supplier("S1", battery_tiers=None), make_supplier("S2", capacity=100)],
            {"S2": 99},
            make_registration(Proposal_OptimalAmountOfBatteries=0),
            "S1",
            id="no-battery-asked-battery-product-not-needed",
        ),
        pytest.param(
            [make_supplier("S1", capacity=3), make_supplier("S2", capacity=3)],
            {"S1": 3, "S2": 2},
            make_registration(),
            "S2",
            id="capacity-exactly-full-is-skipped",
        ),
        pytest.param(
            [make_supplier("S1", capacity=3), make_supplier("S2", capacity=3)],
            {"S1": 2, "S2": 2},
            make_registration(),
            "S1",
            id="one-unit-left-still-eligible",
        ),
        pytest.param(
            [make_supplier("S1", capacity=10), make_supplier("S2", capacity=4)],
            {"S1": 5, "S2": 1},
            make_registration(),
            "S2",
            id="lowest-used-pct-not-lowest-used",
        ),
        pytest.param(
            [make_supplier("S1", capacity=3), make_supplier("S2", capacity=100)],
            {"S1": 1, "S2": 33},
            make_registration(),
            "S2",
            id="exact-pct-33-of-100-below-1-of-3",
        ),
        pytest.param(
            [make_supplier("S1", capacity=100), make_supplier("S2", capacity=3)],
            {"S1": 34, "S2": 1},
            make_registration(),
            "S2",
            id="exact-pct-1-of-3-below-34-of-100",
        ),
        pytest.param(
            [make_supplier("S1", capacity=4), make_supplier("S2", capacity=8)],
            {"S1": 2, "S2": 4},
            make_registration(),
            "S2",
            id="tie-on-pct-goes-to-most-remaining",
        ),
        pytest.param(
            [make_supplier("S1", capacity=4), make_supplier("S2", capacity=8)],
            {},
            make_registration(),
            "S2",
            id="tie-at-zero-pct-goes-to-most-remaining",
        ),
        pytest.param(
            [make_supplier("S2", capacity=5), make_supplier("S1", capacity=5)],
            {"S1": 1, "S2": 1},
            make_registration(),
            "S2",
            id="full-tie-goes-to-first-in-file",
        ),
        pytest.param(
            [make_supplier("S1", capacity=2), make_supplier("S2", capacity=1)],
            {"S1": 1},
            make_registration(),
            "S2",
            id="used-missing-from-state-counts-as-zero",
        ),
        pytest.param(
            [make_supplier("S1", capacity=10), make_supplier("S2", capacity=10, solar_tiers=[])],
            {"S1": 9},
            make_registration(),
            "S1",
            id="emptier-supplier-without-priced-solar-is-skipped",
        ),
    ],
)
def test_match_chooses_supplier(suppliers, capacity_used, registration, expected_supplier) -> None:
    decision = _match(suppliers, registration, capacity_used)

    assert decision.status == "matched"
    assert decision.reason is None
    assert decision.supplier_id == expected_supplier


def test_match_does_not_change_the_capacity_state() -> None:
    engine = make_engine(make_offers(make_supplier("S1", capacity=1)))
    capacity_used = {"S1": 0}

    engine.match(make_record(make_registration()), capacity_used)
    engine.answer(make_record(make_registration()), capacity_used)

    assert capacity_used == {"S1": 0}


# --- explanations ---------------------------------------------------------------------------


def test_decision_explains_outcome_of_every_candidate_with_used_and_capacity() -> None:
    suppliers = [
        make_supplier("S1", capacity=4),
        make_supplier("S2", capacity=2),
        make_supplier("S3", capacity=10, battery_tiers=None),
        make_supplier("S4", capacity=10),
        make_supplier("S5", capacity=9, zips=["55102"]),
    ]
    decision = _match(
        suppliers,
        make_registration(Proposal_OptimalAmountOfBatteries=1),
        {"S1": 1, "S2": 2, "S4": 5},
    )

    assert decision.supplier_id == "S1"
    table = {c.supplier_id: c for c in decision.candidates}
    assert list(table) == ["S1", "S2", "S3", "S4"]
    assert {s: c.outcome for s, c in table.items()} == {
        "S1": "chosen",
        "S2": "no_capacity",
        "S3": "product_unavailable",
        "S4": "ranked_lower",
    }
    assert [(c.used, c.capacity, c.used_pct) for c in decision.candidates] == [
        (1, 4, 0.25),
        (2, 2, 1.0),
        (0, 10, 0.0),
        (5, 10, 0.5),
    ]
    assert table["S2"].reason == "no capacity left: used 2 of 2"
    assert "Battery" in table["S3"].reason
    assert "'S1'" in table["S4"].reason
    assert "0.5000" in table["S4"].reason
    assert "0.2500" in table["S4"].reason


@pytest.mark.parametrize(
    ("capacities", "capacity_used", "expected_reason_part"),
    [
        pytest.param((4, 8), {"S1": 2, "S2": 4}, "2 left vs 4", id="ranked-lower-on-remaining"),
        pytest.param((5, 5), {}, "comes first in the offers file", id="ranked-lower-on-file-order"),
    ],
)
def test_ranked_lower_reason_names_the_tie_break(
    capacities, capacity_used, expected_reason_part
) -> None:
    suppliers = [make_supplier(f"S{i}", capacity=c) for i, c in enumerate(capacities, 1)]

    decision = _match(suppliers, make_registration(), capacity_used)

    loser = next(c for c in decision.candidates if c.outcome == "ranked_lower")
    assert expected_reason_part in loser.reason


def test_no_capacity_decision_lists_full_candidates() -> None:
    decision = _match([make_supplier("S1", capacity=2)], make_registration(), {"S1": 2})

    assert decision.reason == "no_capacity"
    assert [(c.supplier_id, c.outcome, c.used, c.capacity) for c in decision.candidates] == [
        ("S1", "no_capacity", 2, 2)
    ]


def test_zip_not_served_decision_has_no_candidates() -> None:
    decision = _match([make_supplier("S1", zips=["55102"])], make_registration())

    assert decision.candidates == ()
    assert "55101" in decision.message


def test_eligible_supplier_ids_lists_eligible_in_file_order() -> None:
    engine = make_engine(
        make_offers(
            make_supplier("S3"),
            make_supplier("S1", capacity=1),
            make_supplier("S2", battery_tiers=None),
            make_supplier("S4", zips=["55102"]),
        )
    )
    registration = make_record(make_registration(Proposal_OptimalAmountOfBatteries=1))

    ids = eligible_supplier_ids(registration.registration, engine.index, {"S1": 1})

    assert list(ids) == ["S3"]


def test_decide_match_reports_the_record_index() -> None:
    engine = make_engine(make_offers(make_supplier("S1")))
    registration = make_record(make_registration()).registration

    decision = decide_match(registration, engine.index, {}, record_index=4)

    assert decision.record_index == 4
    assert decision.zip_code == "55101"


# --- rule 6: a run reserves capacity --------------------------------------------------------


def test_run_reserves_one_unit_per_match_and_spreads_by_used_pct() -> None:
    engine = make_engine(
        make_offers(make_supplier("S1", capacity=2), make_supplier("S2", capacity=1))
    )
    records = [
        make_record(make_registration(RegistrationNumber=f"R-{i}"), index=i) for i in range(4)
    ]

    run = engine.run(records, {})

    assert [o.decision.supplier_id for o in run.outcomes] == ["S1", "S2", "S1", None]
    assert run.outcomes[-1].decision.reason == "no_capacity"
    assert run.capacity_used == {"S1": 2, "S2": 1}


def test_run_starts_from_given_capacity_and_leaves_it_untouched() -> None:
    engine = make_engine(make_offers(make_supplier("S1", capacity=2)))
    start = {"S1": 1}

    run = engine.run([make_record(make_registration())], start)

    assert run.capacity_used == {"S1": 2}
    assert start == {"S1": 1}


def test_run_skips_invalid_and_unmatched_records_without_reserving() -> None:
    engine = make_engine(make_offers(make_supplier("S1", capacity=5)))
    records = [
        make_record(make_registration(Proposal_OptimalAmountOfBatteries="abc"), index=0),
        make_record(make_registration(Contact_Zip="99999"), index=1),
        make_record(make_registration(), index=2),
    ]

    run = engine.run(records)

    assert [o.decision.reason for o in run.outcomes] == [
        "invalid_registration",
        "zip_not_served",
        None,
    ]
    assert [o.purchase_order is None for o in run.outcomes] == [True, True, False]
    assert run.capacity_used == {"S1": 1}
