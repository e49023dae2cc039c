"""Incentive rules: which incentives a registration gets and how much (rule 9)."""

from __future__ import annotations

import datetime as dt
import re

from igent.domain import Incentive, IncentiveAmount, IncentiveBook, Product

_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def product_watts(product: Product) -> float:
    """Read a solar panel's watts from ProductCapacity such as "400", "400W", "0.4 kW"."""
    text = product.product_capacity.strip().lower()
    found = _NUMBER.search(text)
    if found is None:
        return 0.0
    value = float(found.group().replace(",", "."))
    return value * 1000 if "kw" in text else value


def solar_watts(product: Product, num_panels: int) -> float:
    """Installed solar watts: panels times the panel's watts."""
    return product_watts(product) * num_panels


def incentive_amount(incentive: Incentive, total_price: float, installed_watts: float) -> float:
    """Compute one incentive's amount before the net-price floor, capped and rounded to cents."""
    if incentive.kind == "percent_of_total":
        amount = total_price * incentive.rate / 100
    elif incentive.kind == "fixed_amount":
        amount = incentive.rate
    else:
        amount = installed_watts * incentive.rate
    if incentive.cap is not None:
        amount = min(amount, incentive.cap)
    return round(amount + 0.0, 2)


def grant_incentives(
    book: IncentiveBook,
    *,
    zip_code: str,
    low_medium_income: bool,
    campaign_date: dt.date,
    total_price: float,
    installed_watts: float,
) -> list[IncentiveAmount]:
    """Return every incentive that applies, in file order, with its amount."""
    return [
        IncentiveAmount(
            name=incentive.name,
            amount=incentive_amount(incentive, total_price, installed_watts),
        )
        for incentive in book.incentives
        if incentive.applies_to(zip_code, low_medium_income, campaign_date)
    ]


_AMOUNT_CACHE_LIMIT = 10_000


def _zip_set(incentive: Incentive) -> frozenset[str] | None:
    return None if incentive.communities == "ALL" else frozenset(incentive.communities)


class IncentivePlan:
    """The incentives valid on one campaign date, with ZIP sets, built once per rules engine.

    Equivalent to ``grant_incentives`` with that date; the date filter, the ZIP lookups and
    the amount objects are not redone for every registration.
    """

    def __init__(self, book: IncentiveBook, campaign_date: dt.date) -> None:
        self._entries = [
            (
                incentive,
                None if incentive.communities == "ALL" else frozenset(incentive.communities),
            )
            for incentive in book.incentives
            if incentive.is_valid_on(campaign_date)
        ]
        self._amounts: dict[tuple[int, float], IncentiveAmount] = {}
        self._zip_keys: dict[str, tuple[int, ...]] = {}

    def zip_key(self, zip_code: str) -> tuple[int, ...]:
        """Return the positions of the ZIP-limited incentives ``zip_code`` is in.

        Two ZIPs with the same key get the same incentives for the same order: it stands for
        the ZIP in the engine's price cache.
        """
        found = self._zip_keys.get(zip_code)
        if found is None:
            stripped = zip_code.strip()
            found = tuple(
                position
                for position, (_, communities) in enumerate(self._entries)
                if communities is not None and stripped in communities
            )
            if len(self._zip_keys) < _AMOUNT_CACHE_LIMIT:
                self._zip_keys[zip_code] = found
        return found

    def grant(
        self, *, zip_code: str, low_medium_income: bool, total_price: float, installed_watts: float
    ) -> list[IncentiveAmount]:
        """Return every incentive that applies, in file order, with its amount."""
        zip_code = zip_code.strip()
        granted: list[IncentiveAmount] = []
        for position, (incentive, communities) in enumerate(self._entries):
            if communities is not None and zip_code not in communities:
                continue
            if incentive.lmi_only and not low_medium_income:
                continue
            amount = incentive_amount(incentive, total_price, installed_watts)
            found = self._amounts.get((position, amount))
            if found is None:
                found = IncentiveAmount(name=incentive.name, amount=amount)
                if len(self._amounts) < _AMOUNT_CACHE_LIMIT:
                    self._amounts[(position, amount)] = found
            granted.append(found)
        return granted
