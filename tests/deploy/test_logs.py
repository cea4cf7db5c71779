"""No log line, at any level and in either format, contains a configured secret; every event is
one line; JSON lines parse and carry the channel's platform, workspace and id.

The tokens are set the way a deployment sets them (environment variables), and the code paths
that log are driven for real: an ingest with a failing source, a command, a digest, a vote, a
refused configuration, a post to a channel that is gone, exceptions and a library's debug line
with a token inside.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from deploy_fakes import (
    DATABASE_PASSWORD,
    DISCORD_TOKEN,
    SECRETS,
    SLACK_APP_TOKEN,
    SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET,
)

from paperbot import commands
from paperbot.errors import ChannelUnavailable, ConfigError, SourceError
from paperbot.logs import _NOISY_LIBRARIES, RedactSecrets, configure_logging
from paperbot.models import ChannelKey, CommandContext
from paperbot.service import Paperbot
from paperbot.settings import Settings, load_settings
from paperbot.testing import FakeSource, RecordingPoster, make_paper

DAY = date(2026, 11, 20)
KEY = ChannelKey("slack", "T0001", "C0001")
GONE = ChannelKey("slack", "T0001", "C0GONE")
PLAIN_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: "
)


@pytest.fixture
def secret_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAPERBOT_SLACK__BOT_TOKEN", SLACK_BOT_TOKEN)
    monkeypatch.setenv("PAPERBOT_SLACK__APP_TOKEN", SLACK_APP_TOKEN)
    monkeypatch.setenv("PAPERBOT_SLACK__SIGNING_SECRET", SLACK_SIGNING_SECRET)
    monkeypatch.setenv("PAPERBOT_DISCORD__TOKEN", DISCORD_TOKEN)
    monkeypatch.setenv(
        "PAPERBOT_DATABASE__URL", f"postgresql+psycopg://bot:{DATABASE_PASSWORD}@db/paperbot"
    )
    monkeypatch.setenv("PAPERBOT_LOG__LEVEL", "DEBUG")
    return load_settings()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in _NOISY_LIBRARIES}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


async def drive_everything(bot: Paperbot, settings: Settings) -> None:
    """Every kind of event paperbot logs, with secrets wherever they could slip in."""
    log = logging.getLogger("paperbot.test")
    ctx = CommandContext(KEY, "U1")
    # A command (subscribe logs the channel), then an ingest where one source fails with a
    # reason that quotes a token, as an upstream error body might.
    await commands.handle(bot, ctx, "subscribe diffusion")
    papers = [make_paper(f"Diffusion {n}", "We study diffusion.") for n in range(3)]
    bot.sources = [
        FakeSource("arxiv", {DAY: papers}),
        FakeSource("hf", fail_with=SourceError("hf", f"HTTP 401: bad token {SLACK_BOT_TOKEN}")),
    ]
    await bot.ingest_day(DAY)
    # A digest, then a vote on one of its papers.
    await commands.handle(bot, ctx, "digest")
    poster = bot.posters["slack"]
    assert isinstance(poster, RecordingPoster)
    first = next(p for p in poster.posts if p.kind == "item")
    await bot.record_vote(KEY, first.message_id, "U2", 1)
    await bot.record_vote(KEY, first.message_id, "U2", 1, added=False)
    # A channel that is gone: a warning with the channel key.
    await bot.subscribe(GONE, "diffusion", "U1")
    poster.fail = lambda posted: ChannelUnavailable(f"channel_not_found ({SLACK_BOT_TOKEN})")
    await bot.deliver_digest(GONE)
    poster.fail = None
    # A refused configuration, logged as the runner would.
    try:
        load_settings(http={"port": "not a port"})
    except ConfigError as exc:
        log.error("configuration refused: %s", exc)
    # Exceptions carrying a token, at error and critical level, one with a channel in extra.
    try:
        raise RuntimeError(f"Slack said invalid_auth for {SLACK_BOT_TOKEN}\nsecond line")
    except RuntimeError:
        log.exception("slack: could not post", extra={"channel": KEY})
    try:
        raise PermissionError(f"Authorization: Bot {DISCORD_TOKEN}")
    except PermissionError as exc:
        log.critical("discord: login failed: %s", exc, exc_info=True)
    # A library's debug line quoting headers, and httpx's own request line.
    logging.getLogger("slack_sdk.web").debug(
        "Sending a request - headers: %s",
        {"Authorization": f"Bearer {SLACK_APP_TOKEN}", "X-Secret": SLACK_SIGNING_SECRET},
    )
    logging.getLogger("sqlalchemy.engine").debug("connecting to %s", settings.database.url)
    log.warning("a bare %s in a warning", DISCORD_TOKEN, extra={"platform": "discord"})

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": True})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        await client.post(
            "https://slack.test/api/auth.test",
            headers={"Authorization": f"Bearer {SLACK_BOT_TOKEN}"},
        )


@pytest.mark.parametrize("fmt", ["plain", "json"])
async def test_no_line_at_any_level_contains_a_secret(
    fmt: str,
    secret_settings: Settings,
    deploy_bot: Paperbot,
    restore_logging: None,
) -> None:
    settings = secret_settings.model_copy(update={"log": secret_settings.log.model_copy()})
    settings.log.format = fmt  # type: ignore[assignment]
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    await drive_everything(deploy_bot, settings)

    lines = stream.getvalue().splitlines()
    levels = set()
    for line in lines:
        for secret in SECRETS:
            assert secret not in line, line
        if fmt == "plain":
            found = PLAIN_LINE.match(line)
            assert found, f"not one line per event: {line!r}"
            levels.add(found.group(1))
        else:
            levels.add(json.loads(line)["level"].upper())
    assert levels == {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    text = stream.getvalue()
    assert "[redacted]" in text
    # What had to be logged was logged: the failing source, the digest, the vote, the pause.
    for expected in ("source hf failed", "digest slack:T0001:C0001", "vote +1", "paused digests"):
        assert expected in text


async def test_json_lines_carry_platform_workspace_and_channel(
    secret_settings: Settings, deploy_bot: Paperbot, restore_logging: None
) -> None:
    settings = secret_settings.model_copy(update={"log": secret_settings.log.model_copy()})
    settings.log.format = "json"
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    await drive_everything(deploy_bot, settings)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)

    def one(fragment: str) -> dict[str, str]:
        return next(r for r in records if fragment in r["message"])

    for fragment in ("subscribed", "digest slack:T0001:C0001", "vote +1", "paused digests"):
        record = one(fragment)
        assert record["platform"] == "slack", record
        assert record["workspace"] == "T0001", record
        assert record["channel"].startswith("slack:T0001:C0"), record
    failed = one("could not post")
    assert failed["channel"] == "slack:T0001:C0001"
    assert "RuntimeError" in failed["error"]
    assert "[redacted]" in failed["error"]
    assert one("a bare")["platform"] == "discord"
    assert "platform" not in one("source hf failed")


def test_plain_lines_fold_tracebacks_and_name_the_channel(restore_logging: None) -> None:
    settings = Settings()
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    log = logging.getLogger("paperbot.test")
    try:
        raise ValueError("first\nsecond")
    except ValueError:
        log.exception("it broke", extra={"channel": KEY})
    (line,) = stream.getvalue().splitlines()
    assert PLAIN_LINE.match(line)
    assert "it broke [channel slack:T0001:C0001]" in line
    assert "\\nTraceback (most recent call last):\\n" in line
    assert "ValueError: first\\nsecond" in line


def test_the_filter_survives_bad_log_arguments() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s and %s", ("one",), None)
    assert RedactSecrets([SLACK_BOT_TOKEN]).filter(record)
    assert "%s and %s" in record.getMessage()
