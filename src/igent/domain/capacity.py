"""Capacity arithmetic shared by the rules engine and the capacity store."""

from __future__ import annotations

from fractions import Fraction


def used_pct(used: int, capacity: int) -> Fraction:
    """Return used / capacity exactly; a supplier with capacity 0 counts as full."""
    if capacity <= 0:
        return Fraction(1)
    return Fraction(used, capacity)


def has_room(used: int, capacity: int) -> bool:
    """Return True when one more registration fits."""
    return used < capacity
