"""Fuzz the input layer (issue 8, item 9): whatever registrations, offers or raw bytes arrive,
reading them raises nothing but a one-line DataError, and every output the rules engine then
writes is valid JSON in UTF-8 (no NaN, no Infinity, no lone surrogate)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igent.campaign import iter_registration_records, load_incentives, load_offers
from igent.domain import IncentiveBook, OfferBook
from igent.errors import DataError
from igent.rules import RulesEngine
from tests.support.factories import make_incentive, make_registration, make_supplier

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DATE = dt.date(2026, 6, 1)

REGISTRATION_KEYS = (
    "RegistrationNumber", "Contact_Zip", "Product_KnowsAmountOfPanels", "Product_AmountOfPanels",
    "Proposal_OptimalAmountOfPanels", "Proposal_OptimalAmountOfBatteries",
    "Contact_LowMediumIncome", "PaymentType", "CampaignName", "Notes",
)  # fmt: skip
SUPPLIER_KEYS = ("SupplierID", "Capacity", "InterestRate", "LoanTermMonths", "ServiceAreas")
TIER_KEYS = ("Quantity", "CashPrice", "LMICashPrice", "LoanInstallment", "LMILoanInstallment")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["", " 12 ", "1e30", "NaN", "Infinity", "-1", "0", "55101", "$1,000", "loan", "\ud800"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
# A placeholder the JSON encoders below expand into nested lists (as text: building them as
# Python lists would hit the test's own recursion limit).
deep_values = st.integers(min_value=30, max_value=3000).map(lambda depth: f"__DEEP_{depth}__")
_DEEP = re.compile(r'"__DEEP_(\d+)__"')


def _expand_deep(text: str) -> str:
    return _DEEP.sub(lambda m: "[" * int(m.group(1)) + "]" * int(m.group(1)), text)


@st.composite
def registrations(draw: st.DrawFn) -> list[Any]:
    """A list of registrations, most sane, some with hostile values, some not objects."""
    records: list[Any] = []
    for index in range(draw(st.integers(min_value=0, max_value=5))):
        raw = make_registration(RegistrationNumber=f"R-{index}")
        overrides = draw(
            st.dictionaries(
                st.sampled_from(REGISTRATION_KEYS) | st.text(max_size=6),
                values | deep_values,
                max_size=3,
            )
        )
        records.append(draw(st.just(raw | overrides) | st.just(raw) | scalars))
    return records


@st.composite
def offers_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid two-supplier offers document with a few hostile values put in."""
    suppliers = [make_supplier("S1", zips=("55101",)), make_supplier("S2", zips=("55101",))]
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        supplier = draw(st.sampled_from(suppliers))
        value = draw(values | deep_values)
        if draw(st.booleans()):
            supplier[draw(st.sampled_from(SUPPLIER_KEYS) | st.text(max_size=6))] = value
        else:
            product = draw(st.sampled_from(supplier["Offers"]))
            tier = draw(st.sampled_from(product["ProductPrices"]))
            tier[draw(st.sampled_from(TIER_KEYS))] = value
    return {"CampaignID": "C-1", "SupplierOffers": suppliers}


@contextmanager
def _file(name: str, content: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(content)
        yield path


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _registrations_bytes(records: list[Any], suffix: str) -> bytes:
    if suffix == ".json":
        text = _expand_deep(json.dumps(records))  # allow_nan: hostile files carry Infinity, NaN
    elif suffix == ".ndjson":
        text = "".join(_expand_deep(json.dumps(r)) + "\n" for r in records)
    else:
        keys = list(dict.fromkeys(k for r in records if isinstance(r, dict) for k in r))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(keys)
        for r in records:
            writer.writerow([_text(r.get(k)) for k in keys] if isinstance(r, dict) else [_text(r)])
        text = buffer.getvalue()
    return text.encode("utf-8", "surrogatepass")


def _offers_bytes(document: dict[str, Any], suffix: str) -> bytes:
    if suffix == ".json":
        return _expand_deep(json.dumps(document)).encode("utf-8", "surrogatepass")
    buffer = io.StringIO()
    columns = ("CampaignID", *SUPPLIER_KEYS, "ProductType", "ProductName", *TIER_KEYS)
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for supplier in document["SupplierOffers"]:
        areas = supplier.get("ServiceAreas")
        zips = ";".join(map(_text, areas)) if isinstance(areas, list) else _text(areas)
        head = [document["CampaignID"], *(_text(supplier.get(k)) for k in SUPPLIER_KEYS[:-1])]
        for product in supplier["Offers"]:
            for tier in product["ProductPrices"]:
                prices = [_text(tier.get(k)) for k in TIER_KEYS]
                writer.writerow([*head, zips, product["ProductType"], "P", *prices])
    return buffer.getvalue().encode("utf-8", "surrogatepass")


def _assert_writable(value: Any) -> None:
    """Encode as the writer does, but strictly: NaN, Infinity or a lone surrogate fail here."""
    json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _assert_one_line(error: DataError, path: Path) -> None:
    message = str(error)
    assert "\n" not in message, message
    assert str(path) in message, message


ENGINE = RulesEngine(
    OfferBook.model_validate({"SupplierOffers": [make_supplier("S1"), make_supplier("S2")]}),
    IncentiveBook.model_validate({"incentives": [make_incentive()]}),
    DATE,
)


def _answer_all(engine: RulesEngine, path: Path) -> None:
    try:
        records = list(iter_registration_records(path))
    except DataError as exc:
        _assert_one_line(exc, path)
        return
    used: dict[str, int] = {}
    for record in records:
        _assert_writable(dict(record.raw))
        outcome = engine.answer(record, used)
        _assert_writable(asdict(outcome.decision))
        if outcome.purchase_order is not None:
            _assert_writable(outcome.purchase_order.model_dump(mode="json"))


@FUZZ
@given(registrations(), st.sampled_from([".json", ".ndjson", ".csv"]))
def test_any_registrations_document_reads_or_fails_with_one_line(records, suffix) -> None:
    with _file(f"regs{suffix}", _registrations_bytes(records, suffix)) as path:
        _answer_all(ENGINE, path)


@FUZZ
@given(offers_documents(), st.sampled_from([".json", ".csv"]))
def test_any_offers_document_loads_or_fails_with_one_line(document, suffix) -> None:
    with _file(f"offers{suffix}", _offers_bytes(document, suffix)) as path:
        try:
            book = load_offers(path)
        except DataError as exc:
            _assert_one_line(exc, path)
            return
    _assert_writable(book.model_dump(mode="json", by_alias=True))
    engine = RulesEngine(
        book, IncentiveBook.model_validate({"incentives": [make_incentive()]}), DATE
    )
    for raw in (
        make_registration(),
        make_registration(PaymentType="Loan", Proposal_OptimalAmountOfBatteries=1),
    ):
        with _file("regs.json", json.dumps([raw]).encode()) as path:
            _answer_all(engine, path)


@FUZZ
@given(
    st.binary(max_size=300) | st.sampled_from([b"\xef\xbb\xbf[", b"[" * 5000, b"{" * 5000]),
    st.sampled_from(
        ["regs.json", "regs.ndjson", "regs.csv", "offers.json", "offers.csv", "inc.yaml"]
    ),
)
def test_any_bytes_read_or_fail_with_one_line(content, name) -> None:
    with _file(name, content) as path:
        if name.startswith("regs"):
            _answer_all(ENGINE, path)
            return
        load = load_offers if name.startswith("offers") else load_incentives
        try:
            loaded = load(path)
        except DataError as exc:
            _assert_one_line(exc, path)
            return
        _assert_writable(loaded.model_dump(mode="json"))
