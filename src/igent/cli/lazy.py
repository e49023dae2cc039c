"""A command group that imports a command's module only when that command is used.

``igent --help`` must answer in well under a second; the command modules pull in the runner,
the OpenAI SDK, FastAPI and numpy, so the top-level group lists placeholders with the commands'
short help and imports a module only to parse or run its own command.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (``module:attribute``) and its one-line help for listings."""

    target: str
    help: str

    def load(self, name: str) -> Any:
        """Import the module and build the command (a function or a ``typer.Typer`` group)."""
        module_name, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module_name), attribute)
        command: Any
        if isinstance(found, typer.Typer):
            command = typer.main.get_group(found)  # a group even with one subcommand
        else:
            wrapper = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            wrapper.command(name)(found)  # its docstring is its help
            command = typer.main.get_command(wrapper)
        command.name = name
        return command


def lazy_group(commands: Mapping[str, LazyCommand]) -> type[TyperGroup]:
    """Return a ``TyperGroup`` class whose subcommands are the lazily imported ``commands``."""

    class LazyGroup(TyperGroup):
        """Lists placeholders for help; loads the real command when it is resolved."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._pending = dict(commands)
            self._listing = False
            for name, spec in commands.items():
                # Placeholders keep list order, the help listing and typo suggestions working.
                self.commands[name] = TyperCommand(name=name, help=spec.help)

        def get_command(self, ctx: Any, cmd_name: str) -> Any:
            spec = self._pending.get(cmd_name)
            if spec is not None and not self._listing:
                self.commands[cmd_name] = spec.load(cmd_name)
                del self._pending[cmd_name]
            return super().get_command(ctx, cmd_name)

        def format_help(self, ctx: Any, formatter: Any) -> None:
            self._listing = True
            try:
                super().format_help(ctx, formatter)
            finally:
                self._listing = False

    return LazyGroup
