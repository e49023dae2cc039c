"""Sane bounds on campaign numbers (docs/rules.md, "Bounds"); anything beyond is a data error."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# A home or small business installs tens of panels; 1,000 already covers a large barn roof.
MAX_PANELS = 1_000
MAX_BATTERIES = 100
# A price tier's Quantity counts panels or batteries.
MAX_TIER_QUANTITY = 10_000
# Dollars per line, cash or per month; far above any residential package.
MAX_PRICE = 10_000_000.0
# Registrations a supplier can take; far below SQLite's 2**63 integer limit.
MAX_CAPACITY = 10_000_000
MAX_INTEREST_RATE = 100.0
MAX_LOAN_TERM_MONTHS = 1_200
# Registrations and offers are flat or nearly flat documents.
MAX_NESTING = 32


def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """Return how deeply lists and objects nest in ``value``, stopping once past ``limit``."""
    depth = 0
    level = [value]
    while level and depth <= limit:
        children: list[Any] = []
        for node in level:
            if isinstance(node, Mapping):
                children.extend(node.values())
            elif isinstance(node, list | tuple):
                children.extend(node)
        if not children and not any(isinstance(n, Mapping | list | tuple) for n in level):
            break
        depth += 1
        level = children
    return depth


def is_utf8_text(text: str) -> bool:
    """Return True when ``text`` can be written as UTF-8 (no lone surrogate such as \\ud800)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_plain_json(value: Any) -> bool:
    """Return True when ``value`` (nested or not) holds only finite numbers and UTF-8 text."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, float):
            if not math.isfinite(node):
                return False
        elif isinstance(node, str):
            if not (node.isascii() or is_utf8_text(node)):
                return False
        elif isinstance(node, Mapping):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return True
