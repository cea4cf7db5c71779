"""`paperbot run` as a supervisor runs it, in every mode: SIGTERM stops it within 10 s with exit
0; a Discord gateway that cannot be reached leaves the process up (one line per reconnect
attempt, `/healthz` naming Discord as down) while Slack keeps answering; a fatal error exits
non-zero. Every platform is a local fake on port 0; no public host is resolved."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from fake_discord import BOT_ID, TOKEN, FakeDiscord
from fake_gateway import FakeGateway, unused_port
from fake_slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack
from process_harness import Child, child_env, paperbot
from slack_requests import SlackSender

SIGTERM_BUDGET = 10.0  # seconds: what Docker and Kubernetes wait before SIGKILL


@dataclass
class Fakes:
    slack: FakeSlack
    discord: FakeDiscord
    gateway: FakeGateway


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    slack = await FakeSlack().start()
    rest = FakeDiscord()
    await rest.start()
    gateway = FakeGateway(heartbeat_interval_ms=1000)
    await gateway.start()
    yield Fakes(slack, rest, gateway)
    await gateway.stop()
    await rest.stop()
    await slack.close()


def settings_for(mode: str, fakes: Fakes, gateway_url: str | None = None) -> dict[str, str]:
    env: dict[str, str] = {}
    if mode.startswith("slack") or mode.startswith("combined"):
        env.update(
            PAPERBOT_SLACK__BOT_TOKEN=BOT_TOKEN,
            PAPERBOT_SLACK__SIGNING_SECRET=SIGNING_SECRET,
            PAPERBOT_SLACK__API_BASE_URL=fakes.slack.base_url,
        )
    if mode == "slack-socket":
        env["PAPERBOT_SLACK__APP_TOKEN"] = APP_TOKEN
    if mode.startswith("discord") or mode.startswith("combined"):
        env.update(
            PAPERBOT_DISCORD__TOKEN=TOKEN,
            PAPERBOT_DISCORD__APPLICATION_ID=BOT_ID,
            PAPERBOT_DISCORD__API_BASE_URL=fakes.discord.base_url,
            PAPERBOT_DISCORD__GATEWAY_URL=gateway_url or fakes.gateway.url,
        )
    if mode == "discord-shards":
        env["PAPERBOT_DISCORD__SHARD_COUNT"] = "2"
    return env


# What each mode logs once it is fully up (for Discord: the gateway session is ready).
READY = {
    "console": "paperbot console",
    "slack-http": "paperbot running: slack",
    "slack-socket": "paperbot running: slack",
    "discord": "discord: connected as",
    "discord-shards": "discord: shard 1 connected",
    "combined": "discord: connected as",
}


async def start_bot(
    db_url: str, tmp_path: Path, settings: dict[str, str], http_port: int | None = None
) -> Child:
    env = child_env(
        PAPERBOT_DATA_DIR=str(tmp_path / "data"),
        PAPERBOT_DATABASE__URL=db_url,
        PAPERBOT_HTTP__HOST="127.0.0.1",
        PAPERBOT_HTTP__PORT=str(http_port or unused_port()),
        PAPERBOT_SOURCES__HF__ENABLED="false",
        PAPERBOT_SOURCES__ARXIV__ENABLED="false",
        **settings,
    )
    return await paperbot("run", env=env, cwd=tmp_path)


def assert_clean(child: Child) -> None:
    assert not child.matching("Traceback"), child.log
    assert not child.matching(" ERROR "), child.log


@pytest.mark.parametrize("mode", list(READY))
async def test_sigterm_stops_every_mode_within_ten_seconds(
    mode: str, fakes: Fakes, db_url: str, tmp_path: Path
) -> None:
    child = await start_bot(db_url, tmp_path, settings_for(mode, fakes))
    try:
        await child.wait_for_line(READY[mode], timeout=30)
        code, seconds = await child.terminate()
    finally:
        await child.kill()
    print(f"SIGTERM in {mode} mode: {seconds:.2f}s")  # the figure for the note
    assert code == 0, child.log
    assert seconds < SIGTERM_BUDGET, child.log
    assert_clean(child)
    if mode != "console":
        assert child.matching("paperbot stopped"), child.log


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status, json.loads(await response.text())


@pytest.mark.parametrize("mode", ["discord", "discord-shards", "combined"])
async def test_an_unreachable_gateway_leaves_the_process_up(
    mode: str, fakes: Fakes, db_url: str, tmp_path: Path
) -> None:
    nowhere = f"ws://127.0.0.1:{unused_port()}/"
    port = unused_port()
    child = await start_bot(db_url, tmp_path, settings_for(mode, fakes, nowhere), http_port=port)
    try:
        await child.wait_for_line("paperbot running", timeout=30)
        await child.wait_for_line("reconnect attempt 2", timeout=30)
        status, body = await healthz(port)
        assert status == 503
        discord = body["platforms"]["discord"]
        assert discord["connected"] is False and "unreachable" in discord["error"]
        if mode == "combined":
            assert body["platforms"]["slack"] == {"connected": True}
            # Slack goes on: a signed slash command is answered while Discord is down.
            sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", fakes.slack)
            try:
                answer = await sender.ask("subscribe diffusion")
            finally:
                await sender.close()
            assert "subscribed this channel to diffusion" in str(answer)
        assert child.proc.returncode is None  # still running
        code, seconds = await child.terminate()
    finally:
        await child.kill()
    print(f"SIGTERM with the gateway unreachable ({mode}): {seconds:.2f}s")
    assert code == 0 and seconds < SIGTERM_BUDGET, child.log
    attempts = child.matching("reconnect attempt")
    assert all(" WARNING " in line and "\\n" not in line for line in attempts)  # one line each
    assert not child.matching("'NoneType' object has no attribute 'sequence'")
    assert not child.matching("Traceback"), child.log


async def test_a_refused_discord_token_exits_2_with_one_line(
    fakes: Fakes, db_url: str, tmp_path: Path
) -> None:
    settings = settings_for("discord", fakes)
    settings["PAPERBOT_DISCORD__TOKEN"] = "MTI3.not-the-token.xyz"
    child = await start_bot(db_url, tmp_path, settings)
    code = await child.wait(timeout=30)
    assert code == 2, child.log
    assert child.matching("paperbot: setting discord.token: Discord refused it")
    assert not child.matching("Traceback")


async def test_a_fatal_error_exits_non_zero(fakes: Fakes, db_url: str, tmp_path: Path) -> None:
    """The health port is taken: nothing can serve /healthz, so the process must not pretend."""
    taken = web.Application()
    runner = web.AppRunner(taken)
    await runner.setup()
    port = unused_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        child = await start_bot(db_url, tmp_path, settings_for("discord", fakes), http_port=port)
        code = await child.wait(timeout=30)
    finally:
        await runner.cleanup()
    assert code == 1, child.log
    [fatal] = child.matching("paperbot stopped on a fatal error")
    assert " CRITICAL " in fatal


async def test_slack_socket_mode_unreachable_leaves_discord_running(
    fakes: Fakes, db_url: str, tmp_path: Path
) -> None:
    settings = settings_for("combined", fakes)
    settings["PAPERBOT_SLACK__APP_TOKEN"] = APP_TOKEN
    settings["PAPERBOT_SLACK__API_BASE_URL"] = f"http://127.0.0.1:{unused_port()}/api/"
    port = unused_port()
    child = await start_bot(db_url, tmp_path, settings, http_port=port)
    try:
        await child.wait_for_line("discord: connected as", timeout=30)
        await child.wait_for_line("slack: not connected after", timeout=30)
        status, body = await healthz(port)
        assert status == 503
        assert body["platforms"]["discord"] == {"connected": True}
        assert body["platforms"]["slack"]["connected"] is False
        code, seconds = await child.terminate()
    finally:
        await child.kill()
    print(f"SIGTERM with Slack unreachable (Socket Mode) beside Discord: {seconds:.2f}s")
    assert code == 0 and seconds < SIGTERM_BUDGET, child.log
    assert not child.matching("Traceback"), child.log  # slack_sdk's retries: one line each
