"""Lenient scalar coercions for campaign exports, where numbers arrive as strings and back."""

from __future__ import annotations

import math
from typing import Any

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


def to_optional_int(value: Any) -> int | None:
    """Read an int from an int, an integral float or a numeric string; '' and None give None."""
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number, got {value!r}")
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"expected a whole number, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if number.is_integer():
            return int(number)
        raise ValueError(f"expected a whole number, got {value!r}")
    raise ValueError(f"expected a whole number, got {value!r}")


def to_flag(value: Any) -> bool:
    """Read a yes/no flag from 0/1, booleans and strings such as "1", "true", "no"."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"expected a flag such as 0/1 or true/false, got {value!r}")


def to_number(value: Any) -> float:
    """Read a number from an int, float or string such as "15043", "$15,043.50"."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("$", "").replace("€", "").strip()
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
    else:
        raise ValueError(f"expected a number, got {value!r}")
    # NaN and infinity would be written out as invalid JSON (Infinity, NaN).
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def to_trimmed_str(value: Any) -> str:
    """Read a string, accepting numbers (ZIP 2134 stays '2134'), trimmed."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a string, got {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value.strip()
    raise ValueError(f"expected a string, got {value!r}")
