"""Starting the simulator in a thread, in the foreground and as a subprocess."""

from __future__ import annotations

import threading

import httpx

from igent.sim import SimConfig, SimServer, start_sim_process


def test_server_thread_ends_on_exit():
    before = set(threading.enumerate())
    with SimServer(SimConfig(profile="instant")) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.base_url}/models").status_code == 200
    assert set(threading.enumerate()) <= before


def test_subprocess_prints_its_base_url_and_answers():
    process, base_url = start_sim_process(SimConfig(profile="instant", seed=5))
    try:
        reply = httpx.post(
            f"{base_url}/chat/completions",
            json={"model": "sim", "messages": [{"role": "user", "content": "hello"}]},
        )
        assert reply.status_code == 200
        assert "igent simulator" in reply.json()["choices"][0]["message"]["content"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
