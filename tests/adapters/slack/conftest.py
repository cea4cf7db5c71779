"""Slack fixtures: the fake Slack on a local port, and the adapter in HTTP mode pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_slack import FakeSlack
from slack_harness import fast, slack_settings
from slack_requests import SlackSender

from paperbot.adapters.slack import ChannelPacer, SlackAdapter
from paperbot.service import Paperbot


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    yield fake
    await fake.close()


@pytest.fixture
async def adapter(
    bot: Paperbot, fake_slack: FakeSlack, tmp_path: Path
) -> AsyncIterator[SlackAdapter]:
    built = SlackAdapter.build(
        slack_settings(fake_slack, tmp_path), fast(bot), pacer=ChannelPacer(0)
    )
    await built.start()
    yield built
    await built.stop()


@pytest.fixture
async def slack(adapter: SlackAdapter, fake_slack: FakeSlack) -> AsyncIterator[SlackSender]:
    sender = SlackSender(f"http://127.0.0.1:{adapter.port}/slack/events", fake_slack)
    yield sender
    await sender.close()
