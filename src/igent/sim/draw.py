"""Per-request randomness that depends only on the seed and the request, never on timing."""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Mapping
from typing import Any


def request_digest(body: Mapping[str, Any]) -> str:
    """Return the sha256 of the request body as canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class RequestLedger:
    """Count identical requests so a retry draws anew, deterministically."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def draw(self, body: Mapping[str, Any]) -> tuple[str, int, random.Random]:
        """Return the request's digest, how often it was seen before, and its generator."""
        digest = request_digest(body)
        with self._lock:
            seen = self._seen.get(digest, 0)
            self._seen[digest] = seen + 1
        # A str seed is hashed with sha512 by random.Random, independent of PYTHONHASHSEED.
        return digest, seen, random.Random(f"{self.seed}:{digest}:{seen}")
