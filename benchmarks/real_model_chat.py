"""Run inside .venv-real: llama-cpp-python's server, or its prompt rendering, with Gemma 3's turns.

Usage: .venv-real/bin/python benchmarks/real_model_chat.py serve SERVER_ARGS...
       .venv-real/bin/python benchmarks/real_model_chat.py format CHAT_FORMAT < conversations.json

The GGUF of Gemma 3 270M carries no chat template. llama-cpp-python then falls back to Llama 2's
``[INST] <<SYS>>`` format, and its built-in ``gemma`` format drops system messages altogether,
so igent's rules and answer format would never reach the model. Gemma 3's own template folds
the system message into the first user turn; this module registers that as ``gemma-system``
before handing over to the server. Imports llama_cpp, so it runs with .venv-real's python only.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from llama_cpp import llama_chat_format as chat_format

GEMMA_SYSTEM = "gemma-system"


@chat_format.register_chat_format(GEMMA_SYSTEM)
def format_gemma_system(messages: list[dict[str, Any]], **_: Any) -> Any:
    """Render Gemma 3 turns with the system message at the head of the first user turn."""
    system = "\n\n".join(str(m.get("content") or "") for m in messages if m["role"] == "system")
    turns = []
    for message in (m for m in messages if m["role"] != "system"):
        role = "model" if message["role"] == "assistant" else "user"
        content = str(message.get("content") or "")
        if system and role == "user":
            content, system = f"{system}\n\n{content}", ""
        turns.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    prompt = "".join(turns) + "<start_of_turn>model\n"
    return chat_format.ChatFormatterResponse(prompt=prompt, stop="<end_of_turn>")


def render(name: str, conversations: list[list[dict[str, Any]]]) -> list[str]:
    """Return each conversation's prompt as the named chat format renders it."""
    if name == GEMMA_SYSTEM:
        formatter = format_gemma_system
    else:
        formatter = getattr(chat_format, "format_" + name.replace("-", "").replace(".", "_"))
    return [str(formatter(messages=messages).prompt) for messages in conversations]


def main() -> None:
    """Dispatch ``serve`` or ``format``."""
    command, args = sys.argv[1], sys.argv[2:]
    if command == "format":
        print(json.dumps(render(args[0], json.load(sys.stdin))))
        return
    from llama_cpp.server.__main__ import main as serve

    sys.argv = ["llama_cpp.server", *args]
    serve()


if __name__ == "__main__":
    main()
