"""`paperbot run` with a platform configured: Slack in HTTP mode, the health endpoint on the same
port, the scheduler, all in one process, against the local fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from fake_slack import FakeSlack
from slack_harness import fast, slack_settings
from slack_requests import SlackSender

from paperbot.runner import BotProcess
from paperbot.settings import ScheduleSettings, SourcesSettings


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    yield fake
    await fake.close()


async def test_run_serves_commands_health_and_digests(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    settings = slack_settings(fake_slack, tmp_path / "data", post_interval_seconds=0).model_copy(
        update={
            "sources": SourcesSettings.model_validate(
                {"sample": True, "hf": {"enabled": False}, "arxiv": {"enabled": False}}
            ),
            "schedule": ScheduleSettings(enabled=True),
        }
    )
    process = BotProcess(settings)
    fast(process.core.bot)
    await process.start()
    try:
        assert process.slack is not None
        port = process.slack.port
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                body = await response.json()
                assert response.status == 200, body
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert "papers_ingested_total" in await response.text()
        assert "slack" in process.core.bot.posters

        await process.core.bot.ingest_day(process.core.bot.clock().date())
        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", fake_slack)
        try:
            answer = await sender.ask("subscribe language")
            assert "subscribed this channel to language" in str(answer)
            digest = await sender.ask("digest")
            assert "Posted" in str(digest), digest
            assert fake_slack.posted_papers()
        finally:
            await sender.close()
    finally:
        await process.stop()
