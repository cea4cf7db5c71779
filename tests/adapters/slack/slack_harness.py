"""Building the adapter under test: settings pointed at the fake Slack, a core that never waits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from pydantic import SecretStr

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
