"""The pure parts of benchmarks/real_model*.py: llama.cpp log parsing and transcript reading."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from real_model_report import read_transcript  # noqa: E402
from real_model_server import parse_server_log  # noqa: E402

SERVER_LOG = """\
INFO:     127.0.0.1:1 - "POST /v1/chat/completions HTTP/1.1" 200 OK
Llama.generate: 26 prefix-match hit, remaining 2107 prompt tokens to eval
Disconnected from client (via refresh/close) Address(host='127.0.0.1', port=1)
INFO:     127.0.0.1:2 - "POST /v1/chat/completions HTTP/1.1" 200 OK
llama_perf_context_print: prompt eval time =    2000.00 ms /   400 tokens (5 ms per token)
llama_perf_context_print:        eval time =    1000.00 ms /    20 runs   (50 ms per token)
"""


def test_parse_server_log_counts_requests_cache_hits_and_perf_lines() -> None:
    counts = parse_server_log(SERVER_LOG)
    assert (counts.chat_requests, counts.generations, counts.client_disconnects) == (2, 1, 1)
    assert counts.prompt_tokens == 26 + 400
    assert counts.decode_tokens == 20
    assert counts.prefill_tokens_per_s == pytest.approx(200.0)
    assert counts.decode_tokens_per_s == pytest.approx(20.0)


def test_read_transcript_separates_errors_unparsed_replies_and_usage(tmp_path: Path) -> None:
    messages = [{"role": "user", "content": "match R-1"}]
    records = [
        {"request": {"messages": messages}, "error": {"type": "ModelCallError", "message": "t/o"}},
        {"request": {"messages": messages}, "error": {"type": "ModelOutputError", "message": "x"}},
        {
            "request": {"messages": messages},
            "response": {
                "text": "### SUPPLIERS",
                "parsed": None,
                "usage": {"prompt_tokens": 10, "completion_tokens": 3, "estimated": True},
                "duration_s": 2.0,
                "ttft_s": 0.5,
                "stopped_early": False,
            },
        },
    ]
    path = tmp_path / "transcripts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    stats = read_transcript(path)
    assert (stats.calls, stats.replies, stats.failed, stats.unparseable) == (3, 1, 1, 2)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.estimated_usage) == (10, 3, 1)
    assert stats.duration_s == [2.0] and len(stats.conversations) == 3
