"""Fixtures for the deployment tests: a clean environment and a core on a SQLite file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperbot.delivery import Pacer
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.store.store import Store
from paperbot.testing import FixedClock, RecordingPoster


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PAPERBOT_ variable of the machine leaks into a test's settings, and no config.toml."""
    for name in list(os.environ):
        if name.startswith("PAPERBOT_") and name != "PAPERBOT_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def deploy_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'paperbot.sqlite'}", clock=FixedClock())
    yield store
    store.close()


@pytest.fixture
def deploy_bot(deploy_store: Store) -> Iterator[Paperbot]:
    index = SearchIndex.open(None)
    poster = RecordingPoster(platform="slack")
    bot = Paperbot(deploy_store, index, posters={"slack": poster}, clock=deploy_store.clock)
    bot.delivery.pacer = Pacer(rules={})  # no pacing: a test never waits out Slack's 1 s gap
    yield bot
    index.close()
