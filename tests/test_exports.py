"""Every package's ``__all__`` lists real names, sorted, and hides nothing public."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "igent",
    "igent.domain",
    "igent.rules",
    "igent.campaign",
    "igent.llm",
    "igent.sim",
    "igent.agents",
    "igent.store",
    "igent.workflows",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)

    assert exported == sorted(exported)
    assert [n for n in exported if not hasattr(module, n)] == []


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_class_and_function_is_exported(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and callable(value)
        and getattr(value, "__module__", "").startswith(name + ".")
    }

    assert public - set(module.__all__) == set()
