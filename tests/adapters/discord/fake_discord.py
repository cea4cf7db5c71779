"""A fake Discord REST API on 127.0.0.1 port 0: what paperbot's Discord adapter talks to in tests.

It answers the routes discord.py uses for login, command sync, posting, threads, reactions,
history, interaction callbacks and webhook follow-ups with payloads shaped like Discord's
(templates in tests/fixtures/discord_*.json), records every request, and on demand answers
429 (with `Via` and a JSON `retry_after`, as Discord does) or 403/404 for a channel.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

FIXTURES = Path(__file__).parents[2] / "fixtures"
API = "/api/v10"
DISCORD_EPOCH_MS = 1420070400000
HAS_THREAD = 1 << 5
EPHEMERAL = 1 << 6

TOKEN = "MTI3ODM5NDg1NjEwNDQ1MjEyNg.GfAkE0.fake-token-for-tests-only"
BOT_ID = "1278394856104452126"
GUILD_ID = "1161092364598304849"
CHANNEL_ID = "1161092365244223519"

Json = dict[str, Any]
BODY = web.RequestKey("body", object)


def fixture(name: str) -> Json:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class Failure:
    status: int
    code: int
    message: str


KNOWN_FAILURES = {
    400: Failure(400, 50035, "Invalid Form Body"),
    403: Failure(403, 50001, "Missing Access"),
    404: Failure(404, 10003, "Unknown Channel"),
    503: Failure(503, 0, "upstream connect error or disconnect/reset before headers"),
}


@dataclass
class RateLimit:
    """Answer 429 to the `count` matching requests that come after `skip` matching ones."""

    method: str
    path_contains: str
    skip: int
    count: int
    retry_after: float
    seen: int = 0
    sent: int = 0


@dataclass
class Fault:
    """A failure played on Create Message attempts (1-based, every channel): `reset` drops the
    connection after reading the body, `5xx` answers 503, `slow` answers after `delay` seconds.
    `applied`: Discord created the message before failing to answer (the ambiguous case)."""

    attempts: set[int]
    kind: str
    applied: bool = False
    delay: float = 0.0


@dataclass
class FakeDiscord:
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    requests: list[Request] = field(default_factory=list)
    messages: dict[str, list[Json]] = field(default_factory=dict)
    sent: dict[str, list[Json]] = field(default_factory=dict)  # request bodies, as received
    threads: dict[str, Json] = field(default_factory=dict)
    reactions: list[tuple[str, str, str]] = field(default_factory=list)
    callbacks: list[Json] = field(default_factory=list)
    followups: list[Json] = field(default_factory=list)
    attachments: list[tuple[str, bytes]] = field(default_factory=list)  # (filename, content)
    synced: list[tuple[str | None, list[Json]]] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    rate_limits: list[RateLimit] = field(default_factory=list)
    rate_limited: list[Request] = field(default_factory=list)
    thread_failure: Failure | None = None
    faults: list[Fault] = field(default_factory=list)
    refused_windows: list[tuple[float, float]] = field(default_factory=list)
    duplicates_refused: int = 0  # Create Message calls answered from an earlier nonce
    expired_tokens: set[str] = field(default_factory=set)  # interaction tokens past 15 minutes
    keep_nonces: bool = True  # False: every resend comes after Discord's nonce window
    edits: list[tuple[str, str, Json]] = field(default_factory=list)  # channel, message, body
    sync_faults: list[str] = field(default_factory=list)  # next syncs: "not-json" or "reset"
    base_url: str = ""
    _create_attempts: int = 0
    _nonces: dict[tuple[str, str], Json] = field(default_factory=dict)
    _port: int = 0
    _site: web.TCPSite | None = None
    _reopening: asyncio.Task[None] | None = None
    _runner: web.AppRunner | None = None
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    # --- control -------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(
            [
                web.get(f"{API}/users/@me", self._me),
                web.get(f"{API}/oauth2/applications/@me", self._application),
                web.put(f"{API}/applications/{{app}}/commands", self._sync),
                web.put(f"{API}/applications/{{app}}/guilds/{{guild}}/commands", self._sync),
                web.get(f"{API}/channels/{{channel}}", self._get_channel),
                web.post(f"{API}/channels/{{channel}}/messages", self._create_message),
                web.get(f"{API}/channels/{{channel}}/messages", self._history),
                web.patch(f"{API}/channels/{{channel}}/messages/{{message}}", self._edit_message),
                web.post(
                    f"{API}/channels/{{channel}}/messages/{{message}}/threads", self._create_thread
                ),
                web.put(
                    f"{API}/channels/{{channel}}/messages/{{message}}/reactions/{{emoji}}/@me",
                    self._react,
                ),
                web.post(f"{API}/interactions/{{id}}/{{token}}/callback", self._callback),
                web.post(f"{API}/webhooks/{{app}}/{{token}}", self._followup),
                web.patch(f"{API}/webhooks/{{app}}/{{token}}/messages/@original", self._edit),
            ]
        )
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._site = site
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{self._port}{API}"
        return self.base_url

    async def refuse_connections(self, seconds: float) -> None:
        """Stop listening for `seconds`: connection attempts are refused by the OS meanwhile
        (every answer says `Connection: close`, so no pooled connection outlives the window)."""
        assert self._runner is not None and self._site is not None
        await self._site.stop()
        started = time.monotonic()
        self.refused_windows.append((started, started + seconds))
        runner = self._runner

        async def reopen() -> None:
            await asyncio.sleep(seconds)
            site = web.TCPSite(runner, "127.0.0.1", self._port)
            await site.start()
            self._site = site

        self._reopening = asyncio.create_task(reopen())

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_channel(self, channel_id: str, status: int = 403) -> None:
        """Every request about this channel (or its threads) fails as Discord answers it."""
        self.failures[channel_id] = KNOWN_FAILURES[status]

    def rate_limit(
        self, path_contains: str, skip: int, count: int = 1, retry_after: float = 0.05
    ) -> None:
        self.rate_limits.append(RateLimit("POST", path_contains, skip, count, retry_after))

    # --- what tests look at ----------------------------------------------------------------

    def posted(self, channel_id: str) -> list[Json]:
        return self.messages.get(channel_id, [])

    def all_posted(self) -> list[Json]:
        return [m for messages in self.messages.values() for m in messages]

    def requests_to(self, method: str, contains: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and contains in r.path]

    # --- plumbing ----------------------------------------------------------------------------

    def snowflake(self) -> str:
        ms = int(self.clock().timestamp() * 1000) - DISCORD_EPOCH_MS
        return str((ms << 22) | (next(self._counter) & 0x3FFFFF))

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        body: Any = None
        if request.content_type.startswith("multipart/"):
            body = await self._read_multipart(request)
        elif request.can_read_body:
            text = await request.text()
            body = json.loads(text) if text else None
        recorded = Request(
            request.method, request.path, dict(request.query), body, dict(request.headers)
        )
        self.requests.append(recorded)
        request[BODY] = body
        needs_auth = not request.path.startswith((f"{API}/interactions/", f"{API}/webhooks/"))
        if needs_auth and request.headers.get("Authorization") != f"Bot {TOKEN}":
            return _error(401, 0, "401: Unauthorized")
        for limit in self.rate_limits:
            if request.method == limit.method and limit.path_contains in request.path:
                limit.seen += 1
                if limit.seen > limit.skip and limit.sent < limit.count:
                    limit.sent += 1
                    self.rate_limited.append(recorded)
                    return _too_many_requests(limit.retry_after)
        channel = request.match_info.get("channel")
        if channel is not None:
            failure = self.failures.get(channel) or self.failures.get(
                str(self.threads.get(channel, {}).get("parent_id"))
            )
            if failure is not None:
                return _error(failure.status, failure.code, failure.message)
        response: web.StreamResponse = await handler(request)
        response.force_close()
        return response

    async def _read_multipart(self, request: web.Request) -> Any:
        """A message with attachments: JSON in `payload_json`, each file in its own part."""
        body: Any = None
        async for part in await request.multipart():
            if not isinstance(part, aiohttp.BodyPartReader):
                continue
            if part.name == "payload_json":
                body = json.loads(await part.text())
            else:
                self.attachments.append((part.filename or "", await part.read()))
        return body

    def posted_papers(self) -> list[str]:
        """Paper ids of every paper message held, in any channel or thread (the embed links to
        the paper)."""
        return [
            str(embed["url"]).rsplit("/", 1)[-1]
            for message in self.all_posted()
            for embed in message.get("embeds") or []
            if "/abs/" in str(embed.get("url", ""))
        ]

    def post_as_user(self, channel_id: str, footer: str) -> Json:
        """A person's message in the channel (an embed with `footer`), not the bot's."""
        message = self._message(
            channel_id, {"embeds": [{"title": "quote", "footer": {"text": footer}}]}
        )
        message["author"] = {**message["author"], "id": "283704385210257409", "bot": False}
        self.messages.setdefault(channel_id, []).append(message)
        return message

    def _message(self, channel_id: str, body: Json, **extra: Any) -> Json:
        message = fixture("discord_message_created.json")
        message.update(
            id=self.snowflake(),
            channel_id=channel_id,
            timestamp=self.clock().isoformat(),
            content=body.get("content") or "",
            embeds=[_as_received(e) for e in body.get("embeds") or []],
            flags=body.get("flags") or 0,
        )
        message.update(extra)
        return message

    async def _me(self, request: web.Request) -> web.Response:
        return _json(fixture("discord_users_me.json"))

    async def _application(self, request: web.Request) -> web.Response:
        return _json(fixture("discord_application_me.json"))

    async def _sync(self, request: web.Request) -> web.Response:
        if self.sync_faults:
            fault = self.sync_faults.pop(0)
            if fault == "reset" and request.transport is not None:
                request.transport.close()  # the connection drops mid-request
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        commands = copy.deepcopy(request[BODY] or [])
        for command in commands:
            command.update(id=self.snowflake(), application_id=BOT_ID, version=self.snowflake())
            if "guild" in request.match_info:
                command["guild_id"] = request.match_info["guild"]
        self.synced.append((request.match_info.get("guild"), commands))
        return _json(commands)

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        if channel in self.threads:
            return _json(self.threads[channel])
        text = fixture("discord_interaction_command.json")["channel"]
        text.update(id=channel, guild_id=GUILD_ID)
        return _json(text)

    async def _create_message(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        body = request[BODY] or {}
        self._create_attempts += 1
        fault = next((f for f in self.faults if self._create_attempts in f.attempts), None)
        if fault is not None and not fault.applied:
            return await self._fail(request, fault)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce") and (channel, nonce) in self._nonces:
            # Discord: the same nonce within minutes returns the message already created.
            self.duplicates_refused += 1
            message = self._nonces[(channel, nonce)]
        else:
            message = self._message(channel, body, nonce=nonce)
            self.messages.setdefault(channel, []).append(message)
            self.sent.setdefault(channel, []).append(body)
            if nonce is not None and self.keep_nonces:
                self._nonces[(channel, nonce)] = message
        if fault is not None:
            return await self._fail(request, fault)
        return _json(message)

    async def _fail(self, request: web.Request, fault: Fault) -> web.Response:
        if fault.kind == "reset":
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("fake Discord dropped the connection")
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
        return _error(503, 0, "upstream connect error or disconnect/reset before headers")

    async def _edit_message(self, request: web.Request) -> web.Response:
        channel, message_id = request.match_info["channel"], request.match_info["message"]
        body: Json = request[BODY] or {}
        message = next((m for m in self.posted(channel) if m["id"] == message_id), None)
        if message is None:
            return _error(404, 10008, "Unknown Message")
        message.update(
            content=body.get("content", message["content"]),
            embeds=[_as_received(e) for e in body.get("embeds") or []],
            edited_timestamp=self.clock().isoformat(),
        )
        self.edits.append((channel, message_id, body))
        return _json(message)

    async def _history(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        limit = int(request.query.get("limit", "50"))
        after = int(request.query.get("after", "0"))
        before = int(request.query.get("before", str(1 << 63)))
        found = [m for m in self.posted(channel) if after < int(m["id"]) < before]
        found.sort(key=lambda m: int(m["id"]), reverse=True)  # Discord: newest first
        if "after" in request.query and "before" not in request.query:
            found = found[-limit:]  # the oldest `limit` after the cursor
        return _json(found[:limit])

    async def _create_thread(self, request: web.Request) -> web.Response:
        channel, message_id = request.match_info["channel"], request.match_info["message"]
        if self.thread_failure is not None:
            f = self.thread_failure
            return _error(f.status, f.code, f.message)
        if message_id in self.threads:
            return _error(400, 160004, "A thread has already been created for this message")
        header = next((m for m in self.posted(channel) if m["id"] == message_id), None)
        if header is None:
            return _error(404, 10008, "Unknown Message")
        header["flags"] |= HAS_THREAD
        thread = fixture("discord_thread_created.json")
        thread.update(id=message_id, parent_id=channel, name=(request[BODY] or {})["name"])
        self.threads[message_id] = thread
        return _json(thread, status=201)

    async def _react(self, request: web.Request) -> web.Response:
        info = request.match_info
        self.reactions.append((info["channel"], info["message"], info["emoji"]))
        return web.Response(status=204)

    async def _callback(self, request: web.Request) -> web.Response:
        body: Json = request[BODY] or {}
        self.callbacks.append(body)
        data = body.get("data") or {}
        interaction = {
            "id": request.match_info["id"],
            "type": body.get("type"),
            "response_message_loading": body.get("type") == 5,
            "response_message_ephemeral": bool((data.get("flags") or 0) & EPHEMERAL),
        }
        if body.get("type") in (4, 5):
            message = self._message(CHANNEL_ID, data)
            interaction["response_message_id"] = message["id"]
            return _json(
                {"interaction": interaction, "resource": {"type": body["type"], "message": message}}
            )
        return _json({"interaction": interaction})

    async def _followup(self, request: web.Request) -> web.Response:
        body: Json = request[BODY] or {}
        self.followups.append(body)
        return _json(self._message(CHANNEL_ID, body, webhook_id=BOT_ID))

    async def _edit(self, request: web.Request) -> web.Response:
        if request.match_info["token"] in self.expired_tokens:
            return _error(401, 50027, "Invalid Webhook Token")
        body: Json = request[BODY] or {}
        self.followups.append(body)
        return _json(self._message(CHANNEL_ID, body, webhook_id=BOT_ID))


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Exactly `application/json`, as Discord sends it (discord.py compares the header as is)."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _as_received(embed: Json) -> Json:
    received = dict(embed)
    received.setdefault("type", "rich")
    return received


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status=status)


def _too_many_requests(retry_after: float) -> web.Response:
    """Discord's own 429: `Via` marks it as coming from Discord, not a Cloudflare ban."""
    return _json(
        {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
        status=429,
        headers={
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Scope": "user",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "80c17d2f203122d936070c88c8d10f33",
        },
    )
