"""extract_json: bare JSON, prose, fences, and clear failures."""

from __future__ import annotations

import pytest

from igent.errors import ModelOutputError
from igent.llm import extract_json


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('{"a": 1}', {"a": 1}, id="bare-object"),
        pytest.param("  [1, 2]\n", [1, 2], id="bare-array"),
        pytest.param(
            'Sure, here it is: {"a": {"b": "}"}} hope that helps', {"a": {"b": "}"}}, id="prose"
        ),
        pytest.param('```json\n{"a": 1}\n```', {"a": 1}, id="fence"),
        pytest.param('Answer:\n```\n{"a": 2}\n```\nBye', {"a": 2}, id="bare-fence"),
        pytest.param('Use {braces} wisely. {"a": 3}', {"a": 3}, id="brace-in-prose"),
    ],
)
def test_extract_json_finds_the_value(text: str, expected: object) -> None:
    assert extract_json(text) == expected


def test_extract_json_prefers_objects_over_bracketed_prose() -> None:
    text = 'See [1] for details. {"supplier_id": "S1"}'
    assert extract_json(text) == [1]
    assert extract_json(text, prefer="object") == {"supplier_id": "S1"}


def test_extract_json_raises_with_excerpt_when_no_json() -> None:
    with pytest.raises(ModelOutputError, match=r"reply starts 'I cannot help") as info:
        extract_json("I cannot help with that " + "x" * 500)
    assert info.value.raw_excerpt.startswith("I cannot help")
    assert len(info.value.raw_excerpt) <= 203
