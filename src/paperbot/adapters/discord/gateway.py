"""Holding the Discord gateway connection through outages, with our own reconnect loop.

discord.py's `Client.connect` ends with `'NoneType' object has no attribute 'sequence'` when the
very first connection fails (it reads the last socket's sequence, and there is none), logs a
traceback per attempt, and a sharded client retries a shard every 5 s forever, closed or not.
Here every attempt waits a capped exponential backoff with jitter and logs one line; a close code
that no retry can fix (a refused token, intents not enabled) raises `GatewayRefused` instead.
Only the websocket part of discord.py is used (`DiscordWebSocket.from_client`, `poll_event`):
the protocol itself (HELLO, IDENTIFY, RESUME, heartbeats) stays discord.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
from discord.gateway import DiscordWebSocket, ReconnectWebSocket

from paperbot.backoff import Backoff
from paperbot.logs import OneLineRetries

log = logging.getLogger(__name__)

# Close codes after which reconnecting cannot help (Discord's gateway documentation).
FATAL_CLOSE_CODES = {
    4004: "authentication failed: Discord refused discord.token",
    4010: "invalid shard: check discord.shard_ids",
    4011: "sharding required: set discord.shard_count",
    4012: "invalid API version",
    4013: "invalid intents",
    4014: "disallowed intents: enable them for the bot in the Discord developer portal",
}
# What a failed or dropped connection looks like; anything else is a bug and propagates.
TRANSIENT = (
    OSError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    discord.ConnectionClosed,
    discord.GatewayNotFound,
    discord.HTTPException,
)
# A connection that ends sooner than this after opening counts as a failed attempt (backoff),
# so a gateway that accepts and drops at once is not hammered.
STABLE_AFTER = 10.0


def quiet_library_reconnects() -> None:
    """Once a shard has connected, discord.py's own Shard reconnects it, logging an ERROR with a
    traceback per attempt: make those one WARNING line each."""
    for name in ("discord.shard", "discord.client"):
        OneLineRetries.install(name, "Attempting a reconnect", prefix="discord: ")


class GatewayRefused(Exception):
    """The gateway closed with a code that no reconnect can fix."""


@dataclass
class GatewayLink:
    """The state of our gateway connection(s), for `/healthz` and the log."""

    url: str
    backoff: Backoff = field(default_factory=Backoff)
    connect_timeout: float = 30.0
    expected_shards: int = 1
    ready: set[int | None] = field(default_factory=set)
    error: str | None = "not connected yet"
    refused: str | None = None
    closing: asyncio.Event = field(default_factory=asyncio.Event)  # set by stop: no more waits

    @property
    def connected(self) -> bool:
        return self.refused is None and len(self.ready) >= self.expected_shards

    def up(self, shard_id: int | None) -> None:
        self.ready.add(shard_id)
        if self.connected:
            self.error = None

    def down(self, shard_id: int | None, reason: str) -> None:
        self.ready.discard(shard_id)
        self.error = reason

    def describe(self) -> str | None:
        """Why Discord is down, for `/healthz`; None while connected."""
        return None if self.connected else (self.refused or self.error)

    async def retry_after(self, what: str, exc: BaseException | str, shard: int | None) -> None:
        """Log one line for this attempt and wait its backoff."""
        reason = exc if isinstance(exc, str) else describe_error(exc)
        self.down(shard, f"{what}: {reason}")
        delay = self.backoff.next()
        where = "" if shard is None else f" (shard {shard})"
        log.warning(
            "discord: %s%s: %s; reconnect attempt %d in %.1fs",
            what,
            where,
            reason,
            self.backoff.attempts,
            delay,
        )
        await self.pause(delay)

    async def pause(self, seconds: float) -> None:
        """Sleep, or return as soon as the client is being stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)


def describe_error(exc: BaseException) -> str:
    """One line for a connection failure: the exception's kind and text, no traceback."""
    if isinstance(exc, discord.ConnectionClosed):
        return f"closed with code {exc.code}"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


def refusal(exc: BaseException) -> str | None:
    """The reason a close is final, or None when a reconnect may help."""
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return FATAL_CLOSE_CODES[4014]
    if isinstance(exc, discord.ConnectionClosed):
        return FATAL_CLOSE_CODES.get(exc.code)
    return None


async def hold(client: discord.Client, link: GatewayLink) -> None:
    """Connect and read events until the client is closed; reconnect through any outage.

    Resumes the session when there is one (Discord replays what was missed), else identifies
    afresh. Raises GatewayRefused on a final close code.
    """
    params: dict[str, Any] = {"initial": True, "shard_id": client.shard_id}
    while not client.is_closed():
        opened = time.monotonic()
        try:
            socket = DiscordWebSocket.from_client(client, **params)
            client.ws = await asyncio.wait_for(socket, timeout=link.connect_timeout)
            params["initial"] = False
            while True:
                await client.ws.poll_event()
        except ReconnectWebSocket as exc:
            client.dispatch("disconnect")
            params.update(_session(client.ws, resume=exc.resume))
            if time.monotonic() - opened >= STABLE_AFTER:
                link.backoff.reset()
                link.down(None, f"reconnecting to {exc.op}")
                log.info("discord: gateway connection ended; reconnecting to %s", exc.op)
            else:
                await link.retry_after("gateway connection ended at once", f"to {exc.op}", None)
        except TRANSIENT as exc:
            client.dispatch("disconnect")
            if client.is_closed():
                return
            final = refusal(exc)
            if final is not None:
                link.refused = final
                raise GatewayRefused(final) from None
            if time.monotonic() - opened >= STABLE_AFTER:
                link.backoff.reset()
            await link.retry_after(f"gateway {link.url} unreachable", exc, None)
            # Try to resume: if the session is gone the gateway says so and we identify again.
            params.update(_session(client.ws, resume=True))


def _session(ws: DiscordWebSocket | None, resume: bool) -> dict[str, Any]:
    if ws is None or ws.session_id is None or not resume:
        return {"resume": False, "session": None, "sequence": None, "gateway": None}
    return {
        "resume": True,
        "session": ws.session_id,
        "sequence": ws.sequence,
        "gateway": ws.gateway,
    }


async def open_shard(
    client: discord.AutoShardedClient, link: GatewayLink, shard_id: int, initial: bool
) -> DiscordWebSocket | None:
    """A shard's first connection, retried with backoff until it opens or the client closes
    (discord.py's own retries every 5 s forever, past `close()`). None once closed."""
    gateway = DiscordWebSocket.DEFAULT_GATEWAY
    while not client.is_closed():
        try:
            socket = DiscordWebSocket.from_client(
                client, initial=initial, gateway=gateway, shard_id=shard_id
            )
            return await asyncio.wait_for(socket, timeout=link.connect_timeout)
        except TRANSIENT as exc:
            final = refusal(exc)
            if final is not None:
                link.refused = final
                raise GatewayRefused(final) from None
            if client.is_closed():
                return None
            await link.retry_after(f"gateway {link.url} unreachable", exc, shard_id)
    return None
