"""The bot over a real gateway protocol: a local fake Gateway (fake_gateway.py) beside the fake
REST. Commands and votes arrive as INTERACTION_CREATE and MESSAGE_REACTION_ADD/REMOVE; dropped
connections resume and get what they missed; an unreachable gateway is retried with backoff, one
line per attempt, until it answers; a final close code leaves Discord down without a crash."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import discord
import pytest
from discord.gateway import DiscordWebSocket
from fake_discord import BOT_ID, CHANNEL_ID, TOKEN, FakeDiscord
from fake_gateway import HEARTBEAT, HELLO, IDENTIFY, RESUME, FakeGateway, unused_port

from conftest import BO, KEY_ARGS, command_payload, reaction_payload
from paperbot.adapters.discord import DiscordAdapter
from paperbot.backoff import Backoff
from paperbot.delivery import Pacer as CorePacer
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.settings import DiscordSettings
from paperbot.testing import make_paper

KEY = ChannelKey(*KEY_ARGS)


def fast() -> Backoff:
    return Backoff(base=0.05, cap=0.2)


@pytest.fixture
def discord_globals() -> Iterator[None]:
    """The adapter sets discord.py's process-wide REST base and gateway URL; put them back."""
    base, gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    fake = FakeGateway(heartbeat_interval_ms=250)
    await fake.start()
    yield fake
    await fake.stop()


class Running:
    """An adapter holding its gateway connection in a task, as `paperbot run` does."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        self.adapter = adapter
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Running:
        self.task = asyncio.create_task(self.adapter.hold())
        return self

    async def connected(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.adapter.link.connected:
            assert time.monotonic() < deadline, f"never connected: {self.adapter.link.describe()}"
            assert self.task is not None and not self.task.done(), "hold() ended"
            await asyncio.sleep(0.02)

    async def stop(self) -> float:
        started = time.monotonic()
        await self.adapter.stop()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)
        return time.monotonic() - started


def make_adapter(
    bot: Paperbot, fake: FakeDiscord, gateway_url: str, **settings: Any
) -> DiscordAdapter:
    bot.delivery.pacer = CorePacer(rules={})
    values: dict[str, Any] = {
        "token": TOKEN,
        "application_id": int(BOT_ID),
        "api_base_url": fake.base_url,
        "gateway_url": gateway_url,
        "seed_reactions": False,
        "channel_post_interval": 0,
    }
    values.update(settings)
    adapter = DiscordAdapter.build(DiscordSettings(**values), bot)
    adapter.link.backoff = fast()
    adapter.client._connection.guild_ready_timeout = 0.1  # READY waits this for GUILD_CREATEs
    return adapter


@pytest.fixture
async def running(
    bot: Paperbot, fake: FakeDiscord, gateway: FakeGateway, discord_globals: None
) -> AsyncIterator[Running]:
    run = await Running(make_adapter(bot, fake, gateway.url)).start()
    await run.connected()
    yield run
    await run.stop()


async def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.02)


async def posted_paper(bot: Paperbot) -> tuple[str, str]:
    await bot.subscribe(KEY, "diffusion", "283704385210257409")
    paper = make_paper("Diffusion over the gateway", "Text.")
    await bot.blocking(bot.ingest_papers, [paper])
    await bot.deliver_digest(KEY)
    [entry] = bot.store.ledger(KEY)
    assert entry.message_id is not None
    return paper.arxiv_id, entry.message_id


def total(bot: Paperbot, paper_id: str) -> int:
    return bot.store.vote_totals(KEY, [paper_id]).get(paper_id, 0)


# --- the protocol ---------------------------------------------------------------------------


async def test_identify_ready_guild_and_heartbeats(running: Running, gateway: FakeGateway) -> None:
    [identify] = gateway.ops(IDENTIFY)
    assert identify.data["token"] == TOKEN
    assert identify.data["intents"] == discord.Intents.default().value  # no message content
    guild = running.adapter.client.get_guild(int(KEY.workspace))
    assert guild is not None and guild.get_channel(int(CHANNEL_ID)) is not None
    await gateway.wait_for(lambda: len(gateway.ops(HEARTBEAT)) >= 3, timeout=5)  # every 250 ms
    assert running.adapter.link.connected


async def test_a_command_arrives_as_an_interaction_and_is_answered(
    running: Running, gateway: FakeGateway, fake: FakeDiscord, bot: Paperbot
) -> None:
    await gateway.dispatch("INTERACTION_CREATE", command_payload("subscribe", {"query": "gan"}))
    await wait_until(lambda: bool(fake.callbacks))
    await wait_until(lambda: bool(bot.store.list_subscriptions(KEY)))
    assert [s.query for s in bot.store.list_subscriptions(KEY)] == ["gan"]


async def test_votes_arrive_as_reaction_events(
    running: Running, gateway: FakeGateway, bot: Paperbot
) -> None:
    paper_id, message_id = await posted_paper(bot)
    await gateway.dispatch("MESSAGE_REACTION_ADD", reaction_payload(message_id, emoji="👍"))
    await wait_until(lambda: total(bot, paper_id) == 1)
    await gateway.dispatch(
        "MESSAGE_REACTION_REMOVE", reaction_payload(message_id, emoji="👍", added=False)
    )
    await wait_until(lambda: total(bot, paper_id) == 0)


# --- disconnects ----------------------------------------------------------------------------


async def test_a_dropped_connection_resumes_and_gets_what_it_missed(
    running: Running, gateway: FakeGateway, bot: Paperbot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    paper_id, message_id = await posted_paper(bot)
    [session] = gateway.live
    await gateway.drop(code=4000)
    # A vote cast while the bot is away: Discord keeps it for the session, RESUME replays it.
    await gateway.dispatch("MESSAGE_REACTION_ADD", reaction_payload(message_id, user_id=BO))
    await gateway.wait_for(lambda: bool(gateway.ops(RESUME)))
    [resume] = gateway.ops(RESUME)
    assert resume.data["session_id"] == session.session_id
    await wait_until(lambda: total(bot, paper_id) == 1)
    await running.connected()
    assert len(gateway.ops(IDENTIFY)) == 1  # resumed, not a new session
    assert not [r for r in caplog.records if r.exc_info]  # no traceback for an outage


async def test_a_heartbeat_that_crosses_the_gateways_close_goes_unanswered(
    gateway: FakeGateway, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake itself: `drop` closes a connection while a heartbeat it has just read waits for
    its answer. The fake answered it on the closing socket, and aiohttp logged that with a
    traceback, which failed the test above now and then under load (heartbeats every 250 ms)."""
    caplog.set_level(logging.INFO)
    note = gateway._note
    heartbeat_read, dropped = asyncio.Event(), asyncio.Event()

    async def noting(received: Any) -> None:
        await note(received)
        if received is not None and received.op == HEARTBEAT:
            heartbeat_read.set()
            await dropped.wait()  # the close goes out while this heartbeat waits

    monkeypatch.setattr(gateway, "_note", noting)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(gateway.url, autoclose=False) as ws,  # answers the close when told
    ):
        assert (await ws.receive_json())["op"] == HELLO
        await ws.send_json({"op": IDENTIFY, "d": {"token": TOKEN, "intents": 0}})
        await gateway.wait_for(lambda: len(gateway.live) == 1)
        await ws.send_json({"op": HEARTBEAT, "d": 2})
        await asyncio.wait_for(heartbeat_read.wait(), 10)
        dropping = asyncio.create_task(gateway.drop(code=4000))
        while (await ws.receive()).type is not aiohttp.WSMsgType.CLOSE:
            pass  # READY and GUILD_CREATE, then the close
        dropped.set()
        await ws.close()
        await asyncio.wait_for(dropping, 10)
    await gateway.wait_for(lambda: not gateway.live)
    assert not [r for r in caplog.records if r.exc_info], caplog.text


async def test_a_reconnect_request_resumes(running: Running, gateway: FakeGateway) -> None:
    await gateway.ask_reconnect()
    await gateway.wait_for(lambda: bool(gateway.ops(RESUME)))
    await running.connected()
    assert gateway.connections == 2 and len(gateway.ops(IDENTIFY)) == 1


async def test_an_invalidated_session_identifies_again(
    running: Running, gateway: FakeGateway
) -> None:
    await gateway.invalidate()
    await gateway.wait_for(lambda: len(gateway.ops(IDENTIFY)) == 2)
    await running.connected()


async def test_an_unreachable_gateway_is_retried_until_it_answers(
    bot: Paperbot, fake: FakeDiscord, discord_globals: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = unused_port()
    run = await Running(make_adapter(bot, fake, f"ws://127.0.0.1:{port}/")).start()
    try:
        await wait_until(lambda: len(attempts(caplog)) >= 3)
        assert not run.adapter.link.connected
        assert "unreachable" in (run.adapter.link.describe() or "")
        late = FakeGateway(heartbeat_interval_ms=1000, port=port)
        await late.start()
        try:
            await run.connected()
        finally:
            await run.stop()
            await late.stop()
    finally:
        if not run.adapter._stopping:
            await run.stop()
    lines = attempts(caplog)
    numbers = [int(line.split("reconnect attempt ")[1].split()[0]) for line in lines]
    assert numbers == list(range(1, len(lines) + 1))  # one line per attempt
    assert all(r.exc_info is None for r in caplog.records)  # and no traceback
    assert not [r for r in caplog.records if "sequence" in r.getMessage()]


def attempts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "reconnect attempt" in r.getMessage()]


def test_the_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    low = Backoff(base=1, cap=8, rand=lambda: 0.0)
    assert [low.next() for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]
    high = Backoff(base=1, cap=8, rand=lambda: 1.0)
    assert [high.next() for _ in range(5)] == [1, 2, 4, 8, 8]
    high.reset()
    assert high.next() == 1


async def test_a_refused_token_leaves_discord_down_and_says_so_once(
    bot: Paperbot, fake: FakeDiscord, discord_globals: None, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = FakeGateway(refuse_identify=4004)
    await gateway.start()
    try:
        run = await Running(make_adapter(bot, fake, gateway.url)).start()
        assert run.task is not None
        await asyncio.wait_for(run.task, 10)  # hold() returns: nothing to retry
        assert not run.adapter.link.connected
        assert "authentication failed" in (run.adapter.link.describe() or "")
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "Discord stays down" in errors[0]
        await run.stop()
    finally:
        await gateway.stop()


async def test_stop_ends_the_retries_at_once(
    bot: Paperbot, fake: FakeDiscord, discord_globals: None
) -> None:
    run = await Running(make_adapter(bot, fake, f"ws://127.0.0.1:{unused_port()}/")).start()
    run.adapter.link.backoff = Backoff(base=30, cap=60)  # in the middle of a long wait
    await asyncio.sleep(0.3)
    assert await run.stop() < 10  # not the 15-30 s backoff it was waiting out


# --- shards ---------------------------------------------------------------------------------


async def test_shards_connect_once_the_gateway_answers(
    bot: Paperbot, fake: FakeDiscord, discord_globals: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = unused_port()
    run = await Running(make_adapter(bot, fake, f"ws://127.0.0.1:{port}/", shard_count=2)).start()
    gateway = FakeGateway(heartbeat_interval_ms=1000, port=port)
    try:
        await wait_until(lambda: len(attempts(caplog)) >= 2)
        assert all("shard 0" in line for line in attempts(caplog))  # one shard at a time
        await gateway.start()
        await run.connected()
        assert sorted(tuple(r.shard or ()) for r in gateway.ops(IDENTIFY)) == [(0, 2), (1, 2)]
        assert all(r.exc_info is None for r in caplog.records)
    finally:
        assert await run.stop() < 10
        await gateway.stop()


async def test_a_connected_shard_that_loses_the_gateway_reconnects_quietly(
    bot: Paperbot, fake: FakeDiscord, discord_globals: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    gateway = FakeGateway(heartbeat_interval_ms=1000)
    await gateway.start()
    port = gateway.port
    run = await Running(make_adapter(bot, fake, gateway.url, shard_count=1)).start()
    back = FakeGateway(heartbeat_interval_ms=1000, port=port)
    try:
        await run.connected()
        await gateway.stop()  # the gateway goes away under a connected shard
        await wait_until(lambda: not run.adapter.link.connected)
        assert "disconnected" in (run.adapter.link.describe() or "")
        await wait_until(lambda: bool(library_reconnects(caplog)), timeout=15)
        await back.start()
        await run.connected(timeout=30)
        for record in library_reconnects(caplog):
            assert record.levelno == logging.WARNING and record.exc_info is None
    finally:
        await run.stop()
        await back.stop()


def library_reconnects(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "Attempting a reconnect" in r.getMessage()]


async def test_a_sharded_client_stops_while_the_gateway_is_unreachable(
    bot: Paperbot, fake: FakeDiscord, discord_globals: None
) -> None:
    run = await Running(
        make_adapter(bot, fake, f"ws://127.0.0.1:{unused_port()}/", shard_count=2)
    ).start()
    await asyncio.sleep(0.3)
    assert await run.stop() < 10  # discord.py's own shard retries ignored close()


# --- command sync ---------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["not-json", "reset"])
async def test_a_failed_command_sync_is_logged_and_retried_later(
    bot: Paperbot,
    fake: FakeDiscord,
    gateway: FakeGateway,
    discord_globals: None,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    """Any kind of failure (not only an HTTP error status) is one log line, never fatal."""
    caplog.set_level(logging.INFO)
    fake.sync_faults = [fault, fault]
    adapter = make_adapter(bot, fake, gateway.url)
    adapter.sync_retry = fast()
    run = await Running(adapter).start()
    try:
        await run.connected()  # the bot came up all the same
        await wait_until(lambda: bool(fake.synced))  # third attempt
        failures = [r for r in caplog.records if "could not sync" in r.getMessage()]
        # aiohttp itself resends an idempotent PUT once after a dropped connection.
        assert 1 <= len(failures) <= 2 and all(r.exc_info is None for r in failures)
        assert [r for r in caplog.records if "synced 1 command(s)" in r.getMessage()]
    finally:
        await run.stop()
