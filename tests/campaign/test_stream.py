"""Streaming registrations (issue 9) and CSV input (issue 8, item 16): the same records from a
JSON list, NDJSON and CSV; bad records stay invalid records; bad files are one-line errors."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest

from igent.campaign import (
    generate_campaign,
    iter_registration_records,
    load_registrations,
    parse_registrations,
)
from igent.campaign.depth import JsonDepthGuard
from igent.errors import DataError
from tests.support.factories import make_registration


def _as_csv(raws: list[dict], *, bom: bool = False) -> bytes:
    keys = list(dict.fromkeys(k for raw in raws for k in raw))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, keys, lineterminator="\r\n")
    writer.writeheader()
    for raw in raws:
        writer.writerow({k: "" if v is None else v for k, v in raw.items()})
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8")


def _summary(records) -> list[tuple]:
    return [
        (
            r.record_index,
            r.registration_id,
            None if r.registration is None else r.registration.num_panels,
            None if r.registration is None else r.registration.num_batteries,
            None if r.registration is None else r.registration.effective_payment_type,
            None if r.registration is None else r.registration.low_medium_income,
            None if r.registration is None else r.registration.zip_code,
            r.error is None,
        )
        for r in records
    ]


def test_json_ndjson_and_csv_give_the_same_records(tmp_path: Path) -> None:
    raws = generate_campaign(
        num_registrations=200, num_suppliers=4, scenario="diverse", seed=5, invalid_rate=0.1
    ).registrations
    bad = make_registration(RegistrationNumber="R-bad", Proposal_OptimalAmountOfBatteries="x")
    raws.append(bad)
    raws.append(dict(raws[0]))
    (tmp_path / "r.json").write_text(json.dumps(raws), encoding="utf-8")
    (tmp_path / "r.ndjson").write_text("".join(json.dumps(r) + "\n" for r in raws))
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in raws))
    (tmp_path / "r.csv").write_bytes(_as_csv(raws, bom=True))

    expected = _summary(load_registrations(tmp_path / "r.json"))

    assert len(expected) == 202
    assert any(not ok for *_, ok in expected)
    for name in ("r.ndjson", "r.jsonl", "r.csv"):
        assert _summary(iter_registration_records(tmp_path / name)) == expected, name
    in_memory = parse_registrations((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [(r.raw, r.registration, r.error) for r in in_memory] == [
        (r.raw, r.registration, r.error) for r in iter_registration_records(tmp_path / "r.json")
    ]


def test_streamed_json_yields_records_before_reading_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "regs.json"
    good = json.dumps([make_registration(RegistrationNumber=f"R-{i}") for i in range(3000)])
    path.write_text(good[:-1] + ', {"RegistrationNumber": "R-tail", "Contact_Zip": "551')

    records = iter_registration_records(path)
    first = next(records)

    assert first.registration_id == "R-0"
    with pytest.raises(DataError) as caught:
        list(records)
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid JSON in bytes ")
    assert "premature EOF" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"", "the file is empty", id="empty"),
        pytest.param(b"hello world", "expected a JSON list of registrations, got 'hel", id="text"),
        pytest.param(b'[{"a": 1}, xyz]', "not valid JSON in bytes 0-15: lexical error", id="junk"),
        pytest.param(b'[{"a": 1}] [', "trailing garbage", id="trailing"),
        pytest.param(b'{"other": []}', "'registrations' list, got keys ['other']", id="wrapper"),
    ],
)
def test_malformed_json_file_is_one_line_data_error(tmp_path: Path, content, expected) -> None:
    path = tmp_path / "regs.json"
    path.write_bytes(content)

    with pytest.raises(DataError) as caught:
        list(iter_registration_records(path))

    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_wrapped_registrations_object_is_read(tmp_path: Path) -> None:
    path = tmp_path / "regs.json"
    path.write_text(json.dumps({"registrations": [make_registration()]}))

    (record,) = iter_registration_records(path)

    assert record.registration is not None


def test_bad_record_in_a_stream_is_an_invalid_record_naming_index_id_and_field(
    tmp_path: Path,
) -> None:
    raws = [
        make_registration(RegistrationNumber="R-0"),
        make_registration(RegistrationNumber="R-1", Proposal_OptimalAmountOfBatteries="two"),
        make_registration(RegistrationNumber="R-0"),
    ]
    path = tmp_path / "regs.ndjson"
    path.write_text("\n\n".join(json.dumps(r) for r in raws) + "\n")

    records = list(iter_registration_records(path))

    assert [r.record_index for r in records] == [0, 1, 2]
    assert records[0].error is None
    assert records[1].error.startswith("registration #1 ('R-1'): ")
    assert "field 'Proposal_OptimalAmountOfBatteries'" in records[1].error
    assert "repeats record #0" in records[2].error


def test_ndjson_line_that_is_not_json_names_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "regs.ndjson"
    first = json.dumps(make_registration()) + "\n"
    path.write_text(first + '{"RegistrationNumber": "R-2", \n')

    with pytest.raises(DataError) as caught:
        list(iter_registration_records(path))

    assert str(caught.value).startswith(f"{path}: line 2 column ")
    assert f"(byte {len(first)})" in str(caught.value)


def test_registrations_csv_with_bom_is_read_with_numbers_as_text(tmp_path: Path) -> None:
    path = tmp_path / "regs.csv"
    raws = [
        make_registration(RegistrationNumber="R-1", Proposal_OptimalAmountOfBatteries=2),
        make_registration(RegistrationNumber="R-2", PaymentType="loan", Contact_Zip=55101),
    ]
    path.write_bytes(_as_csv(raws, bom=True))

    first, second = iter_registration_records(path)

    assert first.registration.registration_id == "R-1"
    assert first.registration.num_panels == 12
    assert first.registration.num_batteries == 2
    assert second.registration.effective_payment_type == "Loan"
    assert second.registration.zip_code == "55101"


def test_csv_row_with_too_many_cells_is_an_invalid_record(tmp_path: Path) -> None:
    path = tmp_path / "regs.csv"
    path.write_text(
        "RegistrationNumber,Contact_Zip,Proposal_OptimalAmountOfPanels\n"
        "R-1,55101,12\n"
        "R-2,55101,12,surplus\n"
        "R-3,55101,12\n"
    )

    records = list(iter_registration_records(path))

    assert [r.registration is not None for r in records] == [True, False, True]
    assert records[1].error == (
        "registration #1: line 3 has 4 cells but the header has 3; quote cells that contain commas"
    )


def test_empty_csv_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "regs.csv"
    path.write_text("")

    with pytest.raises(DataError, match="the file is empty; expected a CSV header row"):
        list(iter_registration_records(path))


class _RegexOnlyGuard(JsonDepthGuard):
    """The guard with its escape-aware regex on every chunk (the reference)."""

    def _strip_strings(self, text: bytes) -> bytes:
        return self._outside_strings(text)


def _follow(guard: JsonDepthGuard, chunks: list[bytes]) -> list[object]:
    seen: list[object] = []
    for offset, chunk in enumerate(chunks):
        try:
            guard.feed(chunk, offset)
        except DataError as exc:
            return [*seen, str(exc)]
        seen.append((guard._in_string, guard._open))
    return seen


def test_depth_guard_without_escapes_agrees_with_its_regex_on_random_streams() -> None:
    rng = random.Random(20261202)
    for _ in range(3000):
        size = rng.randint(0, 60)
        data = bytes(rng.choice(b'"\\[]{}a') for _ in range(size))
        cuts = sorted(rng.sample(range(size + 1), min(size + 1, rng.randint(0, 5))))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, size], strict=True)]
        limit = rng.randint(1, 6)
        assert _follow(JsonDepthGuard("f", limit), chunks) == _follow(
            _RegexOnlyGuard("f", limit), chunks
        ), (chunks, limit)
