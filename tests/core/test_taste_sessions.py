"""Taste across processes that run no scheduler: a console session learns the votes a previous
session left unlearned, and a one-shot `paperbot ingest` waits for the retrains it started."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from pathlib import Path

import pytest
from console_sessions import session

from paperbot.adapters.console import CONSOLE_CHANNEL
from paperbot.cli import _ingest
from paperbot.models import ChannelKey
from paperbot.settings import Settings, load_settings
from paperbot.store.store import Store
from paperbot.store.taste import TasteStore


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("PAPERBOT_CONFIG", raising=False)
    # The bundled sample only: these tests never reach a real source.
    return load_settings(
        data_dir=tmp_path / "data",
        sources={"hf": {"enabled": False}, "arxiv": {"enabled": False}},
    )


def stale(settings: Settings) -> list[ChannelKey]:
    store = Store.open(settings.database_url)
    try:
        return TasteStore(store).stale()
    finally:
        store.close()


async def votes_left_unlearned(settings: Settings) -> None:
    """A session votes 👍 on five papers and quits before the retrain its votes asked for."""
    shown = await session(
        settings, ["/papers subscribe diffusion", "/papers settings size 5", "/papers digest"]
    )
    ids = re.findall(r"\[(m\d+)\]", shown)
    assert len(ids) == 5
    voted = await session(settings, [f"+{message}" for message in ids])
    assert voted.count("voted up") == 5
    assert stale(settings) == [CONSOLE_CHANNEL]  # quit cancelled the debounced retrain


async def test_a_console_session_learns_the_votes_a_previous_one_left(
    settings: Settings,
) -> None:
    await votes_left_unlearned(settings)

    async def once_learned() -> str:
        # The start-up retrain runs in the background; wait for it (bounded), then ask.
        for _ in range(400):
            if not await asyncio.to_thread(stale, settings):
                break
            await asyncio.sleep(0.05)
        return "/papers taste"

    reply = await session(settings, [once_learned])
    assert stale(settings) == []
    assert "Learned from 5 voted papers" in reply, reply


async def test_a_one_shot_ingest_waits_for_the_retrain_it_started(settings: Settings) -> None:
    await votes_left_unlearned(settings)
    assert await _ingest(settings, date.today(), 1, sample=True) == 0
    assert stale(settings) == []
    store = Store.open(settings.database_url)
    try:
        stored = TasteStore(store).load(CONSOLE_CHANNEL)
    finally:
        store.close()
    assert stored is not None and stored.model and stored.up_votes == 5
