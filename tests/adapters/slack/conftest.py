"""Slack fixtures: the fake Slack on a local port, and the adapter in HTTP mode pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender
from pydantic import SecretStr

from paperbot.adapters.slack import ChannelPacer, SlackAdapter
from paperbot.delivery import Pacer
from paperbot.service import Paperbot
from paperbot.settings import HttpSettings, Settings, SlackSettings


async def no_sleep(seconds: float) -> None:
    return None


def slack_settings(fake: FakeSlack, data_dir: Path, **slack: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": SecretStr(BOT_TOKEN),
        "signing_secret": SecretStr(SIGNING_SECRET),
        "api_base_url": fake.base_url,
        "rate_limit_retries": 3,
    }
    values.update(slack)
    return Settings(
        data_dir=data_dir,
        slack=SlackSettings(**values),
        http=HttpSettings(host="127.0.0.1", port=0),
    )


def fast(bot: Paperbot) -> Paperbot:
    """Tests do not wait out the core's real-time pacing or retry backoff."""
    bot.delivery.pacer = Pacer(rules={})
    bot.delivery.sleep = no_sleep
    return bot


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
