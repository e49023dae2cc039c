"""Offers as CSV (issue 8, item 16): one row per supplier x product x price tier."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from igent.campaign import generate_campaign, load_offers
from igent.campaign.offers_csv import PRODUCT_COLUMNS, SUPPLIER_COLUMNS, TIER_COLUMNS
from igent.domain import OfferBook
from igent.errors import DataError

COLUMNS = ("CampaignID", *SUPPLIER_COLUMNS, *PRODUCT_COLUMNS, *TIER_COLUMNS)


def _offers_csv(document: dict) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS)
    writer.writeheader()
    for supplier in document["SupplierOffers"]:
        base = {name: supplier.get(name, "") for name in SUPPLIER_COLUMNS}
        base["ServiceAreas"] = ";".join(str(z) for z in supplier["ServiceAreas"])
        base["CampaignID"] = document.get("CampaignID", "")
        for product in supplier["Offers"]:
            for tier in product["ProductPrices"]:
                writer.writerow(base | {k: product.get(k, "") for k in PRODUCT_COLUMNS} | tier)
    return buffer.getvalue()


def _rules_view(book: OfferBook) -> list[dict]:
    return [
        s.model_dump(include={"supplier_id", "capacity", "interest_rate", "loan_term_months",
                              "service_areas", "offers"})
        for s in book.suppliers
    ]  # fmt: skip


def test_offers_csv_gives_the_same_offers_as_json(tmp_path: Path) -> None:
    document = generate_campaign(num_registrations=1, num_suppliers=6, scenario="diverse").offers
    json_book = OfferBook.model_validate(document)
    path = tmp_path / "offers.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _offers_csv(document).encode("utf-8"))

    csv_book = load_offers(path)

    assert _rules_view(csv_book) == _rules_view(json_book)
    assert csv_book.campaign_id == json_book.campaign_id


def test_offers_csv_supplier_without_products_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "offers.csv"
    path.write_text(
        "SupplierID,Capacity,ServiceAreas,ProductType,ProductName,Quantity,CashPrice\n"
        "S1,10,55101; 55102,Solar,Panel,12,15000\n"
        "S1,10,55101; 55102,Solar,Panel,20,22000\n"
        "S2,5,55101,,,,\n"
    )

    book = load_offers(path)

    s1, s2 = book.suppliers
    assert s1.service_areas == ("55101", "55102")
    assert [t.quantity for t in s1.offers[0].prices] == [12, 20]
    assert s2.offers == ()


def test_offers_csv_supplier_columns_that_disagree_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "offers.csv"
    path.write_text(
        "SupplierID,Capacity,ServiceAreas,ProductType,ProductName,Quantity,CashPrice\n"
        "S1,10,55101,Solar,Panel,12,15000\n"
        "S1,11,55101,Solar,Panel,20,22000\n"
    )

    with pytest.raises(DataError) as caught:
        load_offers(path)

    assert str(caught.value) == (
        f"{path}: line 3: supplier 'S1' column 'Capacity' is '11' but an earlier row says "
        "'10'; supplier columns must repeat the same values on every row"
    )


def test_offers_csv_without_required_columns_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "offers.csv"
    path.write_text("SupplierID,ProductType\nS1,Solar\n")

    with pytest.raises(DataError, match=r"offers CSV header lacks Capacity, ServiceAreas"):
        load_offers(path)


def test_offers_csv_bad_value_names_supplier_and_field(tmp_path: Path) -> None:
    path = tmp_path / "offers.csv"
    path.write_text("SupplierID,Capacity,ServiceAreas\nS1,lots,55101\n")

    with pytest.raises(DataError, match=r"SupplierOffers\[0\] \(SupplierID 'S1'\)\.Capacity"):
        load_offers(path)
