"""Hostile or broken input (issue 8, item 9): one-line DataErrors naming file, position or
supplier and field; absurd registrations become NO MATCH invalid_registration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from igent.campaign import iter_registration_records, load_incentives, load_offers
from igent.domain.bounds import MAX_CAPACITY, MAX_PANELS
from igent.errors import DataError
from tests.support.factories import make_engine, make_offers, make_registration, make_supplier

LATIN1 = "Sä".encode("latin-1")  # b"S\xe4": \xe4 starts a 3-byte UTF-8 sequence


def _one_line_error(call) -> str:
    with pytest.raises(DataError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("suffix", [".json", ".ndjson", ".csv"])
def test_registrations_not_utf8_names_file_and_byte_offset(tmp_path: Path, suffix) -> None:
    path = tmp_path / f"regs{suffix}"
    if suffix == ".csv":
        prefix = b"RegistrationNumber,Contact_Zip\nR-1,"
        content = prefix + LATIN1 + b"\n"
    else:
        text = json.dumps(make_registration(RegistrationNumber="R-1"))
        prefix = (b"[" if suffix == ".json" else b"") + text.encode() + b"\n"
        prefix += b'[{"x": "' if suffix == ".json" else b'{"x": "'
        prefix = prefix.replace(b"\n[", b",") if suffix == ".json" else prefix
        content = prefix + LATIN1 + b'"}' + (b"]" if suffix == ".json" else b"\n")
    path.write_bytes(content)
    offset = len(prefix) + 1

    message = _one_line_error(lambda: list(iter_registration_records(path)))

    assert message.startswith(f"{path}: not UTF-8 at byte {offset} (")
    assert "save the file as UTF-8" in message


def test_not_utf8_split_across_read_chunks_names_the_right_byte(tmp_path: Path) -> None:
    path = tmp_path / "regs.json"
    head = b'[{"RegistrationNumber": "' + b"x" * (64 * 1024 - 26)
    path.write_bytes(head + b"\xe2\x82" + b'"}]')  # an unfinished euro sign at the chunk edge

    message = _one_line_error(lambda: list(iter_registration_records(path)))

    assert f"not UTF-8 at byte {len(head)} " in message


@pytest.mark.parametrize("name", ["offers.json", "offers.csv", "incentives.yaml"])
def test_offers_and_incentives_not_utf8_name_file_and_byte_offset(tmp_path: Path, name) -> None:
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + b"abc" + LATIN1)
    load = load_incentives if name.startswith("incentives") else load_offers

    message = _one_line_error(lambda: load(path))

    assert message.startswith(f"{path}: not UTF-8 at byte 7 (")


def _offers_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "offers.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize("capacity", [2**63, 10**30, MAX_CAPACITY + 1])
def test_absurd_capacity_names_file_supplier_field_and_bound(tmp_path: Path, capacity) -> None:
    document = {"SupplierOffers": [make_supplier("S1"), make_supplier("S2", capacity=capacity)]}
    path = _offers_file(tmp_path, json.dumps(document))

    message = _one_line_error(lambda: load_offers(path))

    assert message.startswith(f"{path}: SupplierOffers[1] (SupplierID 'S2').Capacity: ")
    assert f"less than or equal to {MAX_CAPACITY}" in message


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "1e400", '"inf"', '"nan"'])
def test_non_finite_price_is_refused(tmp_path: Path, value) -> None:
    supplier = json.dumps(make_supplier("S1"))
    first_price = supplier.index('"CashPrice": ') + len('"CashPrice": ')
    end = supplier.index(",", first_price)
    text = supplier[:first_price] + value + supplier[end:]
    path = _offers_file(tmp_path, '{"SupplierOffers": [' + text + "]}")

    message = _one_line_error(lambda: load_offers(path))

    assert message.startswith(f"{path}: ")
    assert "finite" in message or "Infinity" in message or "NaN" in message


def test_infinity_in_a_registrations_file_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "regs.json"
    path.write_text('[{"RegistrationNumber": "R-1", "Proposal_OptimalAmountOfPanels": Infinity}]')

    message = _one_line_error(lambda: list(iter_registration_records(path)))

    assert message.startswith(f"{path}: not valid JSON in bytes ")


@pytest.mark.parametrize("panels", [10**9, 1e30, "1e30", MAX_PANELS + 1, 2**64], ids=str)
def test_absurd_panel_count_is_no_match_invalid_registration(tmp_path: Path, panels) -> None:
    path = tmp_path / "regs.ndjson"
    raw = make_registration(RegistrationNumber="R-9", Proposal_OptimalAmountOfPanels=panels)
    path.write_text(json.dumps(raw) + "\n")
    (record,) = iter_registration_records(path)

    decision = make_engine(make_offers(make_supplier("S1"))).match(record, {})

    assert decision.status == "no_match"
    assert decision.reason == "invalid_registration"
    assert decision.message.startswith("registration #0 ('R-9'): ")
    assert f"'Proposal_OptimalAmountOfPanels': expected at most {MAX_PANELS}" in decision.message


def test_absurd_battery_count_is_no_match_invalid_registration() -> None:
    raw = make_registration(Proposal_OptimalAmountOfBatteries=10**6)
    (record,) = iter_registration_records_from(raw)

    assert record.registration is None
    assert "'Proposal_OptimalAmountOfBatteries': expected at most 100" in record.error


def iter_registration_records_from(raw):
    from igent.domain import parse_registration_record

    return [parse_registration_record(raw, 0)]


DEEP = "[" * 100_000 + "]" * 100_000
NESTED_40 = "[" * 40 + "]" * 40


@pytest.mark.parametrize("suffix", [".json", ".ndjson"])
def test_nested_registration_field_is_an_invalid_record(tmp_path: Path, suffix) -> None:
    raw = json.dumps(make_registration(RegistrationNumber="R-1"))
    nested = raw[:-1] + f', "Notes": {NESTED_40}}}'
    path = tmp_path / f"regs{suffix}"
    path.write_text(
        f"[{raw}, {nested}, {NESTED_40}]" if suffix == ".json" else f"{raw}\n{nested}\n"
    )

    good, deep, *bare = iter_registration_records(path)

    assert good.registration is not None
    assert deep.registration is None
    assert "field 'Notes': nested more than 32 levels deep" in deep.error
    assert "Notes" not in deep.raw
    assert json.dumps(dict(deep.raw), allow_nan=False)
    if bare:
        assert bare[0].error == "registration #2: expected a JSON object, got list"


@pytest.mark.parametrize("suffix", [".json", ".ndjson"])
def test_absurdly_nested_registrations_file_is_a_data_error_not_recursion(
    tmp_path: Path, suffix
) -> None:
    raw = json.dumps(make_registration(RegistrationNumber="R-1"))
    path = tmp_path / f"regs{suffix}"
    path.write_text(f"[{raw}, {DEEP}]" if suffix == ".json" else f"{raw}\n{DEEP}\n")

    message = _one_line_error(lambda: list(iter_registration_records(path)))

    if suffix == ".json":
        assert message.startswith(f"{path}: nested more than 256 levels deep in bytes 0-")
    else:
        assert message.startswith(f"{path}: line 2 ")


def test_deeply_nested_offers_are_a_data_error(tmp_path: Path) -> None:
    supplier = make_supplier("S1") | {"Notes": json.loads("[" * 40 + "]" * 40)}
    shallow = _offers_file(tmp_path, json.dumps({"SupplierOffers": [supplier]}))
    assert "nested more than 32 levels" in _one_line_error(lambda: load_offers(shallow))

    deep = _offers_file(tmp_path, '{"SupplierOffers": ' + DEEP + "}")
    assert "nested more than 32 levels" in _one_line_error(lambda: load_offers(deep))


def test_lone_surrogate_in_a_registration_is_an_invalid_record(tmp_path: Path) -> None:
    path = tmp_path / "regs.ndjson"
    path.write_text(json.dumps(make_registration(Contact_Zip="551\ud80001")) + "\n")

    (record,) = iter_registration_records(path)

    assert record.registration is None
    assert "field 'Contact_Zip': not valid text" in record.error
    json.dumps(dict(record.raw), ensure_ascii=False).encode("utf-8")
