"""A console session driven by a test: the real `run_console`, fed lines, its output read back."""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable

from rich.console import Console

from paperbot.runner import run_console
from paperbot.settings import Settings


async def session(settings: Settings, lines: list[str | Callable[[], Awaitable[str]]]) -> str:
    """One console session fed `lines` (a callable is awaited for its line), then `quit`."""
    out = io.StringIO()
    console = Console(file=out, width=160, color_system=None, force_terminal=False)
    feed = iter([*lines, "quit"])

    async def read_line() -> str | None:
        line = next(feed, None)
        return await line() if callable(line) else line

    before = logging.getLogger().level
    try:
        await run_console(settings, sample=True, console=console, read_line=read_line)
    finally:
        logging.getLogger().setLevel(before)
    return out.getvalue()
