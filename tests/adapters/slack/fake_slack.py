"""A fake Slack, good enough to run the adapter against at the protocol level.

The Web API the bot calls (`/api/<method>` on 127.0.0.1, any port) records every call and
keeps the channels' messages so history and threads can be read back (fake_slack_history.py);
it also serves `response_url` and, for Socket Mode, the websocket that apps.connections.open
points to. Slack's other side, the signed slash commands and events Slack sends the app, is
in slack_requests.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from fake_slack_distribution import DistributionAPI, Workspace
from fake_slack_history import HistoryAPI, public

FIXTURES = Path(__file__).parents[2] / "fixtures"
BOT_TOKEN = "xoxb-1234567890-0987654321-paperbotTESTtoken"
APP_TOKEN = "xapp-1-A0PAPERBOT-1234567890-paperbotAPPtoken"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0PAPERS1"
BOT_USER = "U0PAPERBOT"
FIRST_TS = 1732270000


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())  # type: ignore[no-any-return]


@dataclass
class Call:
    """One Web API call as the fake received it."""

    method: str
    body: dict[str, Any]
    status: int = 200
    token: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.body.get("_refused")


@dataclass
class Fault:
    """A failure the fake Web API plays on chat.postMessage attempts (1-based, all channels).

    kind: `reset` drops the connection after reading the body; `5xx` answers 500; `slow`
    answers after `delay` seconds (past the client's read timeout). `applied`: Slack posted the
    message before failing to answer, the ambiguous case that only history can settle.
    """

    attempts: set[int]
    kind: str
    applied: bool = False
    delay: float = 0.0


@dataclass
class FakeSlack(HistoryAPI, DistributionAPI):
    """The fake Web API and response_url endpoint. Configure failures before the calls happen."""

    calls: list[Call] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    # chat.postMessage attempts (1-based, counted across all channels) that get a 429.
    rate_limited_attempts: set[int] = field(default_factory=set)
    retry_after: int = 0
    first_ts: int = FIRST_TS
    real_time_ts: bool = False
    _last_ts: float = 0.0
    channel_errors: dict[str, str] = field(default_factory=dict)
    history_error: str | None = None
    history_page_size: int | None = None
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    socket_envelopes: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    refused_windows: list[tuple[float, float]] = field(default_factory=list)  # (start, end)
    # Files shared through the external upload: file id -> name, bytes, and where it was shared.
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    # OAuth distribution: the app's credentials, the codes Slack would hand installers (code ->
    # workspace), and the workspaces installed so far, by their bot token.
    client_id: str = "1234567890.0987654321"
    client_secret: str = "0123456789abcdef0123456789abcdef"
    oauth_codes: dict[str, Workspace] = field(default_factory=dict)
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    _post_attempts: int = 0
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None
    _reopening: asyncio.Task[None] | None = None
    _port: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)

    # --- server ----------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{id}", self._response_url)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self._site = site
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def refuse_connections(self, seconds: float) -> None:
        """Stop listening for `seconds`: every connection attempt meanwhile is refused by the
        OS, as when Slack is unreachable (the fake answers with `Connection: close`, so no
        pooled connection outlives the window)."""
        assert self._runner is not None and self._site is not None
        await self._site.stop()
        started = time.monotonic()
        self.refused_windows.append((started, started + seconds))

        async def reopen() -> None:
            await asyncio.sleep(seconds)
            site = web.TCPSite(self._runner, "127.0.0.1", self._port)  # type: ignore[arg-type]
            await site.start()
            self._site = site

        self._reopening = asyncio.create_task(reopen())

    async def back_up(self) -> None:
        """Wait until an outage started by refuse_connections is over."""
        if self._reopening is not None:
            await self._reopening

    async def close(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/api/"

    def response_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/response/{uuid.uuid4().hex[:12]}"

    # --- what happened ---------------------------------------------------------------------

    def api(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Bodies of the chat.postMessage calls Slack accepted and answered, in order."""
        return [
            c.body
            for c in self.api("chat.postMessage")
            if c.ok and (channel is None or c.body.get("channel") == channel)
        ]

    def stored(self, channel: str) -> list[dict[str, Any]]:
        """What the channel shows: top-level messages and every thread's replies, in order,
        including posts whose answer a fault swallowed."""
        shown: list[dict[str, Any]] = []
        for message in self.messages.get(channel, []):
            shown.append(message)
            shown.extend(message.get("replies", []))
        return shown

    def posted_papers(self, channel: str | None = None) -> list[str]:
        """Paper ids of every paper message in the channel(s), as the channel shows them."""
        channels = [channel] if channel is not None else list(self.messages)
        return [
            m["metadata"]["event_payload"]["paper_id"]
            for name in channels
            for m in self.stored(name)
            if (m.get("metadata") or {}).get("event_type") == "paperbot_paper"
        ]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_for_responses(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        await self.wait_for(lambda: len(self.responses) >= count, timeout)
        return self.responses

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- Web API ---------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await _read_body(request)
        auth = request.headers.get("Authorization", "")
        call = Call(method, body, token=auth.removeprefix("Bearer ") or None)
        self.calls.append(call)
        try:
            known = call.token in (BOT_TOKEN, APP_TOKEN) or call.token in self.workspaces
            if method != "oauth.v2.access" and not known:
                return self._error(call, "invalid_auth")
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            if handler is None:
                return self._error(call, "unknown_method", status=404)
            if method == "chat.postMessage":
                return await self._faulty_post(request, call, handler)
            response: web.Response = handler(call)
            response.force_close()
            return response
        finally:
            await self._notify()

    async def _faulty_post(
        self, request: web.Request, call: Call, handler: Callable[[Call], web.Response]
    ) -> web.Response:
        attempt = self._post_attempts + 1
        fault = next((f for f in self.faults if attempt in f.attempts), None)
        if fault is None:
            response = handler(call)
            response.force_close()
            return response
        if fault.applied:
            handler(call)  # Slack did post it...
        else:
            self._post_attempts += 1
        call.status = 599
        call.body["_refused"] = fault.kind  # ...but the bot never hears so
        if fault.kind == "reset":
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("fake Slack dropped the connection")
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
        call.status = 500
        return web.json_response({"ok": False, "error": "internal_error"}, status=500)

    def _error(self, call: Call, error: str, status: int = 200) -> web.Response:
        call.status = status
        call.body["_refused"] = error
        return web.json_response({"ok": False, "error": error}, status=status)

    def _auth_test(self, call: Call) -> web.Response:
        workspace = self.workspaces.get(call.token or "")
        if workspace is not None:
            return web.json_response(workspace.auth_test())
        return web.json_response(fixture("slack_auth_test.json"))

    def _apps_connections_open(self, call: Call) -> web.Response:
        if call.token != APP_TOKEN:
            return self._error(call, "not_allowed_token_type")
        return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self._port}/socket"})

    def _chat_postMessage(self, call: Call) -> web.Response:
        self._post_attempts += 1
        if self._post_attempts in self.rate_limited_attempts:
            call.status = 429
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(self.retry_after)},
            )
        channel = str(call.body.get("channel", ""))
        if channel in self.channel_errors:
            return self._error(call, self.channel_errors[channel])
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": "B0PAPERBOT",
            "ts": ts,
            "text": call.body.get("text", ""),
            "blocks": call.body.get("blocks", []),
            "team": TEAM,
        }
        if call.body.get("metadata"):
            message["metadata"] = call.body["metadata"]
        thread = call.body.get("thread_ts")
        channel_messages = self.messages.setdefault(channel, [])
        if thread:
            message["thread_ts"] = thread
            parent = next(m for m in channel_messages if m["ts"] == thread)
            parent.setdefault("replies", []).append(message)
            parent["reply_count"] = len(parent["replies"])
            parent["thread_ts"] = thread
        else:
            channel_messages.append(message)
        answer = fixture("slack_chat_post_message.json")
        answer.update(channel=channel, ts=ts, message=public(message, with_metadata=True))
        return web.json_response(answer)

    def _chat_update(self, call: Call) -> web.Response:
        channel = str(call.body.get("channel", ""))
        ts = call.body.get("ts")
        message = next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)
        if message is None:
            return self._error(call, "message_not_found")
        message.update(text=call.body.get("text", ""), blocks=call.body.get("blocks", []))
        if call.body.get("metadata"):
            message["metadata"] = call.body["metadata"]
        message["edited"] = {"user": BOT_USER, "ts": ts}
        return web.json_response({"ok": True, "channel": channel, "ts": ts})

    def _next_ts(self) -> str:
        """Message timestamps: from `first_ts` on, or Slack's own wall clock (`real_time_ts`,
        for runs longer than the bot's 10-minute look-back margin)."""
        if not self.real_time_ts:
            return f"{self.first_ts}.{next(self._ts) * 100:06d}"
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    # --- response_url and Socket Mode --------------------------------------------------------

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        body["_url"] = str(request.url)
        self.responses.append(body)
        await self._notify()
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {}})
        reader = asyncio.create_task(self._read_acks(ws))
        while not ws.closed:
            getter = asyncio.create_task(self.socket_envelopes.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            await ws.send_json(getter.result())
        reader.cancel()
        return ws

    async def _read_acks(self, ws: web.WebSocketResponse) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
                await self._notify()


async def _read_body(request: web.Request) -> dict[str, Any]:
    body: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body.update(await request.json())
    elif request.can_read_body:
        body.update(await request.post())
    return body
