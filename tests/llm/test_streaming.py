"""JsonStreamScanner: exact completion points for top-level values and fields."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from igent.llm import JsonStreamScanner


def feed_chars(scanner: JsonStreamScanner, text: str) -> list[tuple[int, str, Any]]:
    events = []
    for index, char in enumerate(text):
        for name, value in scanner.feed(char):
            events.append((index, name, value))
    return events


def test_string_field_is_delivered_at_its_closing_quote_only() -> None:
    text = '{"supplier_id": "S-\\"7\\"", "n": 12, "nested": {"x": [1, "}"]}, "ok": true}'
    scanner = JsonStreamScanner(watch_fields=("supplier_id", "n", "nested", "ok"))

    events = feed_chars(scanner, text)

    closing_quote = text.index('", "n"')
    assert events[0] == (closing_quote, "supplier_id", 'S-"7"')
    assert events[1] == (text.index(', "nested"'), "n", 12)
    assert events[2] == (text.index('}, "ok"'), "nested", {"x": [1, "}"]})
    assert events[3] == (len(text) - 1, "ok", True)
    assert scanner.done
    assert scanner.value == json.loads(text)


def test_unwatched_fields_are_not_delivered() -> None:
    scanner = JsonStreamScanner(watch_fields=("b",))
    assert scanner.feed('{"a": "x", "b": "y"}') == [("b", "y")]


def test_prose_and_fence_before_the_value_are_skipped() -> None:
    scanner = JsonStreamScanner(watch_fields=("a",), objects_only=True)
    events = scanner.feed("Sure [see docs]:\n```json\n")
    assert not events and not scanner.done
    assert scanner.feed('{"a": 1}\n```') == [("a", 1)]
    assert scanner.done and scanner.value == {"a": 1}


def test_a_bracketed_aside_that_is_not_json_is_passed_over() -> None:
    scanner = JsonStreamScanner()
    scanner.feed("Note [as above] then ")
    assert not scanner.done
    scanner.feed("[1, 2]")
    assert scanner.value == [1, 2]


def test_escape_split_across_chunks_is_handled() -> None:
    scanner = JsonStreamScanner(watch_fields=("a",))
    assert scanner.feed('{"a": "x\\') == []
    assert scanner.feed('"y"') == [("a", 'x"y')]
    scanner.feed("}")
    assert scanner.value == {"a": 'x"y'}


def test_feeding_after_done_changes_nothing() -> None:
    scanner = JsonStreamScanner()
    scanner.feed('{"a": 1} trailing {"b": 2}')
    assert scanner.value == {"a": 1}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    value=st.dictionaries(st.text(max_size=6), json_values, min_size=1, max_size=5),
    cuts=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=50),
    prose=st.sampled_from(["", "Here you go: ", "```json\n"]),
)
def test_any_split_yields_the_value_and_every_field(
    value: dict[str, Any], cuts: list[int], prose: str
) -> None:
    text = prose + json.dumps(value, ensure_ascii=bool(cuts[0] % 2)) + " done"
    scanner = JsonStreamScanner(watch_fields=tuple(value), objects_only=True)
    delivered: dict[str, Any] = {}
    position, turn = 0, 0
    while position < len(text):
        step = cuts[turn % len(cuts)]
        delivered.update(scanner.feed(text[position : position + step]))
        position += step
        turn += 1
    assert scanner.done
    assert scanner.value == value
    assert delivered == value
