"""The index directory on disk: opening it, its state file (schema and watermark), wiping it."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import tantivy

from paperbot.search.analysis import register_analyzers

STATE_FILE = "paperbot-search.json"
_TANTIVY_FILES = (".idx", ".pos", ".term", ".store", ".fast", ".fieldnorm", ".del")


class WriterBusy(RuntimeError):
    """Another process holds this index directory's writer."""


def open_directory(schema: tantivy.Schema, path: Path) -> tantivy.Index:
    return configured(tantivy.Index(schema, str(path), reuse=True))


def configured(index: tantivy.Index) -> tantivy.Index:
    register_analyzers(index)  # tokenizers are not saved in the index
    index.config_reader(reload_policy="Manual")  # we reload after each commit
    return index


def read_state(path: Path) -> dict[str, int]:
    try:
        state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def compatible(path: Path) -> bool:
    try:
        return not tantivy.Index.exists(str(path)) or bool(tantivy.Index.is_compatible(str(path)))
    except OSError:
        return False


def wipe(path: Path) -> None:
    """Remove tantivy's files and our state only, never anything else someone put there."""
    for entry in path.iterdir():
        name = entry.name
        ours = name in ("meta.json", ".managed.json", STATE_FILE) or name.startswith(".tantivy")
        if entry.is_file() and (ours or entry.suffix in _TANTIVY_FILES):
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


def write_state(path: Path, state: dict[str, int]) -> None:
    """Atomically, and durably: the watermark must never claim more than the index holds."""
    target = path / STATE_FILE
    temp = target.with_suffix(".tmp")
    with temp.open("w", encoding="utf-8") as handle:
        json.dump(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, target)
