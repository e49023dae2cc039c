"""Campaign files: malformed offers and incentives stop the run with a precise message;
malformed registrations are kept as invalid records."""

from __future__ import annotations

import json

import pytest

from igent.campaign.loader import (
    load_incentives,
    load_offers,
    load_registrations,
    parse_incentives,
    parse_offers,
    parse_registrations,
)
from igent.errors import DataError
from tests.support.factories import make_incentive, make_registration, make_supplier


def _offers_text(*suppliers) -> str:
    return json.dumps({"CampaignID": "C1", "SupplierOffers": list(suppliers)}, indent=2)


# --- offers -------------------------------------------------------------------------------------


def test_offers_file_is_parsed_in_file_order() -> None:
    book = parse_offers(_offers_text(make_supplier("S2"), make_supplier("S1")))

    assert [s.supplier_id for s in book.suppliers] == ["S2", "S1"]
    assert book.campaign_id == "C1"


def test_offers_accept_numbers_written_as_strings() -> None:
    book = parse_offers(_offers_text(make_supplier("S1", capacity="7", interest_rate="4.5")))

    assert book.suppliers[0].capacity == 7
    assert book.suppliers[0].interest_rate == 4.5


def test_offers_bad_json_names_file_and_line() -> None:
    text = '{\n  "SupplierOffers": [\n    {"SupplierID": "S1",}\n  ]\n}'

    with pytest.raises(DataError, match=r"offers\.json: not valid JSON at line 3 column"):
        parse_offers(text, source="offers.json")


def test_offers_bad_capacity_names_file_supplier_path_and_field() -> None:
    text = _offers_text(make_supplier("S1"), make_supplier("S2", capacity="lots"))

    with pytest.raises(DataError) as caught:
        parse_offers(text, source="offers.json")

    message = str(caught.value)
    assert message.startswith("offers.json: ")
    assert "SupplierOffers[1]" in message
    assert "SupplierID 'S2'" in message
    assert "Capacity" in message
    assert "'lots'" in message


@pytest.mark.parametrize(
    ("change", "expected_part"),
    [
        pytest.param(
            {"Capacity": -1}, "SupplierOffers[0] (SupplierID 'S1').Capacity", id="negative-capacity"
        ),
        pytest.param({"SupplierID": ""}, "SupplierOffers[0]", id="empty-supplier-id"),
        pytest.param(
            {"Offers": [{"ProductType": "Wind", "ProductName": "x"}]},
            "Offers[0].ProductType",
            id="unknown-product-type",
        ),
        pytest.param(
            {
                "Offers": [
                    {
                        "ProductType": "Solar",
                        "ProductName": "x",
                        "ProductPrices": [{"Quantity": 1, "CashPrice": "cheap"}],
                    }
                ]
            },
            "ProductPrices[0].CashPrice",
            id="price-not-a-number",
        ),
    ],
)
def test_offers_invalid_value_names_its_path(change, expected_part) -> None:
    text = _offers_text(make_supplier("S1") | change)

    with pytest.raises(DataError, match=r"^offers\.json: ") as caught:
        parse_offers(text, source="offers.json")

    assert expected_part in str(caught.value)


def test_offers_without_supplier_list_says_field_is_missing() -> None:
    with pytest.raises(DataError, match=r"offers\.json: SupplierOffers: field is missing"):
        parse_offers('{"CampaignID": "C1"}', source="offers.json")


def test_load_offers_reads_file_and_names_it_in_errors(tmp_path) -> None:
    path = tmp_path / "offers.json"
    path.write_text(_offers_text(make_supplier("S1", capacity="lots")), encoding="utf-8")

    with pytest.raises(DataError, match="offers.json: SupplierOffers\\[0\\]"):
        load_offers(path)


def test_load_offers_missing_file_is_a_data_error(tmp_path) -> None:
    with pytest.raises(DataError, match="offers file .* does not exist"):
        load_offers(tmp_path / "nope.json")


# --- incentives ---------------------------------------------------------------------------------


def test_incentives_yaml_list_is_parsed() -> None:
    text = (
        "- name: City rebate\n  communities: [55101, '55102']\n  kind: fixed_amount\n"
        "  rate: 500\n  valid_from: 2024-01-01\n"
    )

    book = parse_incentives(text, source="incentives.yaml")

    (incentive,) = book.incentives
    assert incentive.communities == ("55101", "55102")
    assert incentive.valid_from.isoformat() == "2024-01-01"


@pytest.mark.parametrize("text", ["", "incentives: []\n"], ids=["empty-file", "empty-list"])
def test_empty_incentives_file_means_no_incentives(text) -> None:
    assert parse_incentives(text, source="incentives.yaml").incentives == ()


def test_load_incentives_without_path_gives_none() -> None:
    assert load_incentives(None).incentives == ()


@pytest.mark.parametrize(
    ("incentive", "expected_parts"),
    [
        pytest.param(
            make_incentive(kind="per_panel"),
            ["incentives[0].kind", "'per_panel'"],
            id="unknown-kind",
        ),
        pytest.param(
            {k: v for k, v in make_incentive().items() if k != "rate"} | {"rat": 10},
            ["incentives[0].rat", "incentives[0].rate: field is missing"],
            id="misspelt-key",
        ),
        pytest.param(make_incentive(rate=-5), ["incentives[0].rate"], id="negative-rate"),
        pytest.param(
            make_incentive(communities="all"), ["incentives[0].communities"], id="lowercase-all"
        ),
        pytest.param(
            make_incentive(valid_from="2024-06-02", valid_to="2024-06-01"),
            ["incentives[0]", "swap them"],
            id="dates-reversed",
        ),
    ],
)
def test_malformed_incentive_is_a_data_error_naming_file_and_field(
    incentive, expected_parts
) -> None:
    text = json.dumps({"incentives": [incentive]})

    with pytest.raises(DataError, match=r"^incentives\.json: ") as caught:
        parse_incentives(text, source="incentives.json")

    for part in expected_parts:
        assert part in str(caught.value)


def test_incentives_bad_yaml_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"incentives\.yaml: not valid YAML"):
        parse_incentives("- name: [unclosed\n", source="incentives.yaml")


# --- registrations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        pytest.param({"RegistrationNumber": "R-1"}, "dict", id="object"),
        pytest.param("registrations", "str", id="string"),
        pytest.param(None, "NoneType", id="null"),
    ],
)
def test_registrations_file_that_is_not_a_list_is_a_data_error(document, kind) -> None:
    with pytest.raises(DataError, match=rf"regs\.json: expected a JSON list .*got {kind}"):
        parse_registrations(json.dumps(document), source="regs.json")


def test_registrations_wrapped_in_an_object_are_read() -> None:
    text = json.dumps({"registrations": [make_registration()]})

    (record,) = parse_registrations(text)

    assert record.registration is not None


def test_bad_record_is_kept_as_invalid_while_others_parse() -> None:
    raws = [
        make_registration(RegistrationNumber="R-0"),
        make_registration(RegistrationNumber="R-1", Proposal_OptimalAmountOfBatteries="abc"),
        "not a registration",
        make_registration(RegistrationNumber="R-3", Contact_Zip=55101),
    ]

    records = parse_registrations(json.dumps(raws), source="regs.json")

    assert [r.record_index for r in records] == [0, 1, 2, 3]
    assert [r.registration is not None for r in records] == [True, False, False, True]
    assert [r.registration_id for r in records] == ["R-0", "R-1", "#2", "R-3"]
    bad = records[1].error
    assert bad.startswith("registration #1 ('R-1'): ")
    assert "field 'Proposal_OptimalAmountOfBatteries'" in bad
    assert "'abc'" in bad
    assert records[2].error == "registration #2: expected a JSON object, got str"
    assert records[0].error is None


def test_record_missing_field_says_it_is_missing() -> None:
    (record,) = parse_registrations(json.dumps([make_registration(Contact_Zip=None)]))

    assert record.registration is None
    assert "field 'Contact_Zip'" in record.error


def test_unknown_registration_keys_are_kept() -> None:
    raw = make_registration(Contact_City="Saint Paul", Roof_Orientation="South")

    (record,) = parse_registrations(json.dumps([raw]))

    assert record.registration.model_extra == {
        "Contact_City": "Saint Paul",
        "Roof_Orientation": "South",
    }
    assert record.raw == raw


def test_load_registrations_reads_file(tmp_path) -> None:
    path = tmp_path / "registrations.json"
    path.write_text(json.dumps([make_registration(), {"Contact_Zip": "1"}]), encoding="utf-8")

    records = load_registrations(path)

    assert [r.registration is not None for r in records] == [True, False]
    assert "RegistrationNumber" in records[1].error


def test_offers_with_repeated_supplier_id_are_a_data_error() -> None:
    text = _offers_text(make_supplier("S1"), make_supplier("S2"), make_supplier("S1"))

    with pytest.raises(DataError, match=r"^offers\.json: ") as caught:
        parse_offers(text, source="offers.json")

    assert "SupplierID 'S1' is used by SupplierOffers[0] and [2]" in str(caught.value)


def test_incentives_with_repeated_name_are_a_data_error() -> None:
    text = json.dumps([make_incentive(name="Bonus"), make_incentive(name="Bonus", rate=5)])

    with pytest.raises(DataError, match=r"^incentives\.json: ") as caught:
        parse_incentives(text, source="incentives.json")

    assert "incentive name 'Bonus' is used by incentives[0] and [1]" in str(caught.value)
