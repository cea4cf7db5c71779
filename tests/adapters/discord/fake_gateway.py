"""A fake Discord Gateway on 127.0.0.1 port 0: the websocket discord.py connects to in tests.

It speaks the gateway protocol as far as the bot uses it (JSON text frames, no compression):
HELLO with a heartbeat interval, heartbeats acknowledged, IDENTIFY answered with READY and one
GUILD_CREATE, dispatches numbered with `s` and kept per session so a RESUME replays what was
missed (then RESUMED), or INVALID_SESSION when the session is unknown. Tests push dispatches
(INTERACTION_CREATE, MESSAGE_REACTION_ADD/REMOVE), drop connections with a close code, ask for
a RECONNECT, invalidate sessions, and can refuse an IDENTIFY with a final code (4004, 4014).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from fake_discord import CHANNEL_ID, GUILD_ID, fixture

Json = dict[str, Any]

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT = 0, 1, 2, 6, 7
INVALID_SESSION, HELLO, HEARTBEAT_ACK = 9, 10, 11


def unused_port() -> int:
    """A local port nothing listens on (bound, then released): an unreachable gateway."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Session:
    session_id: str
    shard: list[int] | None
    events: list[Json] = field(default_factory=list)  # every dispatch, numbered from 1
    socket: web.WebSocketResponse | None = None

    @property
    def sequence(self) -> int:
        return len(self.events)


@dataclass
class Received:
    op: int
    data: Any
    shard: list[int] | None = None


@dataclass
class FakeGateway:
    heartbeat_interval_ms: int = 41250
    port: int = 0
    refuse_identify: int | None = None  # close code to answer IDENTIFY with, e.g. 4004
    received: list[Received] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    connections: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    # --- control -------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/", self._websocket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{self.port}/"
        return self.url

    async def stop(self) -> None:
        for session in self.sessions.values():
            if session.socket is not None and not session.socket.closed:
                await session.socket.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def ops(self, op: int) -> list[Received]:
        return [r for r in self.received if r.op == op]

    @property
    def live(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.socket is not None and not s.socket.closed]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(until(), timeout)

    async def dispatch(self, event: str, data: Json, shard: int | None = None) -> None:
        """Send an event to every session (or to one shard's), kept for replay on RESUME."""
        for session in list(self.sessions.values()):
            if shard is not None and (session.shard or [0])[0] != shard:
                continue
            await self._dispatch(session, event, data)

    async def drop(self, code: int = 4000) -> None:
        """Close every live connection with `code` (4000: unknown error, resumable)."""
        for session in self.live:
            assert session.socket is not None
            await session.socket.close(code=code)

    async def ask_reconnect(self) -> None:
        """Opcode 7: the client should reconnect and resume."""
        for session in self.live:
            assert session.socket is not None
            await session.socket.send_str(json.dumps({"op": RECONNECT, "d": None}))

    async def invalidate(self) -> None:
        """Opcode 9, not resumable: the client must IDENTIFY again."""
        for session in self.live:
            assert session.socket is not None
            self.sessions.pop(session.session_id, None)
            await session.socket.send_str(json.dumps({"op": INVALID_SESSION, "d": False}))

    # --- the protocol --------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        await ws.send_str(
            json.dumps({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        )
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                break
            payload = json.loads(message.data)
            op, data = payload.get("op"), payload.get("d")
            shard = data.get("shard") if isinstance(data, dict) else None
            await self._note(Received(op, data, shard))
            try:
                if op == HEARTBEAT:
                    await ws.send_str(json.dumps({"op": HEARTBEAT_ACK}))
                elif op == IDENTIFY:
                    if self.refuse_identify is not None:
                        await ws.close(code=self.refuse_identify)
                        break
                    await self._ready(ws, shard)
                elif op == RESUME:
                    await self._resume(ws, data)
            except ConnectionResetError:
                # The frame crossed our close (`drop`): aiohttp refuses to answer on a closing
                # socket, and Discord leaves such a frame unanswered too. (Raised, it was logged
                # with a traceback: the rare failure of the gateway tests under load, whose
                # heartbeats come every 250 ms.)
                break
        await self._note(None)
        return ws

    async def _note(self, received: Received | None) -> None:
        async with self._changed:
            if received is not None:
                self.received.append(received)
            self._changed.notify_all()

    async def _ready(self, ws: web.WebSocketResponse, shard: list[int] | None) -> Session:
        session = Session(f"fake-session-{next(self._ids)}", shard, socket=ws)
        self.sessions[session.session_id] = session
        ready: Json = {
            "v": 10,
            "user": fixture("discord_users_me.json"),
            "guilds": [{"id": GUILD_ID, "unavailable": True}],
            "session_id": session.session_id,
            "resume_gateway_url": self.url,
            "application": {"id": fixture("discord_users_me.json")["id"], "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        if shard is not None:
            ready["shard"] = shard
        await self._dispatch(session, "READY", ready)
        if shard is None or guild_on_shard(shard):
            await self._dispatch(session, "GUILD_CREATE", guild_payload())
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: Json) -> Session | None:
        session = self.sessions.get(data.get("session_id", ""))
        if session is None:
            await ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False}))
            return None
        session.socket = ws
        for event in session.events[int(data.get("seq") or 0) :]:
            await ws.send_str(json.dumps(event))
        await self._dispatch(session, "RESUMED", {})
        return session

    async def _dispatch(self, session: Session, event: str, data: Json) -> None:
        frame = {"op": DISPATCH, "t": event, "s": session.sequence + 1, "d": data}
        session.events.append(frame)
        if session.socket is not None and not session.socket.closed:
            with contextlib.suppress(ConnectionResetError):  # kept: a RESUME replays it
                await session.socket.send_str(json.dumps(frame))


def guild_on_shard(shard: list[int]) -> bool:
    """Which shard a guild belongs to: (guild_id >> 22) % shard_count, Discord's formula."""
    return (int(GUILD_ID) >> 22) % shard[1] == shard[0]


def guild_payload() -> Json:
    """GUILD_CREATE for the server the fake REST knows, with its #papers text channel."""
    return {
        "id": GUILD_ID,
        "name": "Research lab",
        "owner_id": "283704385210257409",
        "unavailable": False,
        "member_count": 3,
        "large": False,
        "features": [],
        "emojis": [],
        "stickers": [],
        "roles": [
            {
                "id": GUILD_ID,
                "name": "@everyone",
                "permissions": "311455763521",
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        ],
        "channels": [
            {
                "id": CHANNEL_ID,
                "type": 0,
                "guild_id": GUILD_ID,
                "name": "papers",
                "position": 3,
                "permission_overwrites": [],
                "nsfw": False,
                "topic": "Daily paper digest",
            }
        ],
        "threads": [],
        "members": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "joined_at": "2023-10-09T14:02:11.512000+00:00",
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "system_channel_flags": 0,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "afk_timeout": 300,
    }
