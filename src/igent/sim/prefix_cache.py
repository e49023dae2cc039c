"""A provider-like prompt prefix cache: a long prefix seen recently is prefilled faster.

Modelled on OpenAI's prompt caching: prompts of at least 1,024 tokens are cached in steps of
128 tokens; a request whose prompt starts with a cached prefix reports that prefix as
``usage.prompt_tokens_details.cached_tokens``, and its prefill is faster. Entries are kept
per model in least-recently-used order; "recently" is counted in entries, not in seconds, so
the same sequence of requests always hits the same way.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from igent.sim.profiles import CHARS_PER_TOKEN


class PrefixCache:
    """Remember prompt prefixes (as hashes) and report how much of a new prompt is cached."""

    def __init__(
        self, *, min_tokens: int = 1024, step_tokens: int = 128, max_entries: int = 8192
    ) -> None:
        self.min_tokens = min_tokens
        self.step_tokens = step_tokens
        self.max_entries = max_entries
        self._entries: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def _prefix_keys(self, model: str, prompt: str) -> list[tuple[int, str]]:
        """(tokens, key) of every cacheable prefix of ``prompt``, shortest first."""
        total_tokens = len(prompt) // CHARS_PER_TOKEN
        digest = hashlib.sha256(model.encode() + b"\0")
        keys: list[tuple[int, str]] = []
        done = 0
        tokens = self.min_tokens
        while tokens <= total_tokens:
            end = tokens * CHARS_PER_TOKEN
            digest.update(prompt[done:end].encode())
            done = end
            keys.append((tokens, digest.copy().hexdigest()))
            tokens += self.step_tokens
        return keys

    def lookup_and_store(self, model: str, prompt: str) -> int:
        """Return the cached tokens of ``prompt``'s longest cached prefix, then cache its own."""
        keys = self._prefix_keys(model, prompt)
        cached = 0
        with self._lock:
            for tokens, key in keys:
                if key not in self._entries:
                    break
                cached = tokens
            for _, key in keys:
                self._entries[key] = None
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return cached
