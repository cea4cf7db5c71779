"""The Slack side of paperbot: a slack-bolt AsyncApp whose handlers only parse, call the core and
render, served over HTTP (signed requests on one aiohttp port) or Socket Mode.

The runner's whole view of it::

    adapter = SlackAdapter.build(settings, bot)   # registers adapter.poster with the bot
    adapter.web_app.router.add_get("/healthz", ...)  # optional, same port as /slack/events
    await adapter.start()
    ...
    await adapter.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from paperbot import commands
from paperbot.adapters.slack.blocks import reply_message
from paperbot.adapters.slack.oauth import SlackInstalls
from paperbot.adapters.slack.poster import (
    PLATFORM,
    TRANSPORT_ERRORS,
    ChannelPacer,
    SlackPoster,
    retry_handlers,
)
from paperbot.errors import ChannelUnavailable, ConfigError, PostError
from paperbot.models import ChannelKey, CommandContext, Reply
from paperbot.service import Paperbot
from paperbot.settings import Settings, SlackSettings

log = logging.getLogger(__name__)

_FAILED = "that did not work on our side; please try again in a minute"
_NOT_IN_CHANNEL = "I cannot share files here: invite me first (/invite @paperbot), then try again"
_NO_FILES_SCOPE = "I may not upload files: reinstall the app with the files:write scope"
# What a slash command needs to be answered; Slack always sends them.
_COMMAND_FIELDS = ("channel_id", "user_id")
_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})


def unescape(text: str) -> str:
    """Slack sends `&`, `<`, `>` in command text as entities; the core wants what was typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def reaction_votes(settings: SlackSettings) -> dict[str, int]:
    """Reaction name -> vote; names are Slack's (`+1`, `arrow_up`), without skin tones."""
    votes = {name.strip(":"): -1 for name in settings.downvote_reactions}
    votes.update({name.strip(":"): 1 for name in settings.upvote_reactions})
    return votes


def _loggable(word: str) -> str:
    """A user's word fit for a log line: short, printable, never a second line."""
    return "".join(ch for ch in word[:20] if ch.isprintable()) or "?"


class AckFirst:
    """Gives acks priority over command work on the one event loop: new work starts only when no
    request is waiting for its ack, or after `patience` seconds, so a steady stream of requests
    cannot starve it."""

    def __init__(self, patience: float = 0.25) -> None:
        self.patience = patience
        self._acking = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @contextlib.contextmanager
    def acking(self) -> Iterator[None]:
        self._acking += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._acking -= 1
            if not self._acking:
                self._quiet.set()

    async def turn(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), self.patience)


class SlackAdapter:
    """Slack on the shared core: one workspace with one bot token, or (OAuth distribution) any
    workspace that installs the app, each served with its own token."""

    def __init__(
        self,
        settings: SlackSettings,
        bot: Paperbot,
        client: AsyncWebClient,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        pacer: ChannelPacer | None = None,
        max_concurrent_commands: int = 4,
        installs: SlackInstalls | None = None,
    ) -> None:
        self.settings = settings
        self.bot = bot
        self.client = client
        self.host = host
        self.port = port
        self.socket_mode = settings.app_token is not None
        secret = settings.signing_secret.get_secret_value() if settings.signing_secret else ""
        if not self.socket_mode and not secret:
            raise ConfigError(
                "setting slack.signing_secret is needed for HTTP mode "
                "(or set slack.app_token to use Socket Mode)"
            )
        if installs is not None and self.socket_mode:
            raise ConfigError(
                "Slack OAuth distribution needs HTTP mode (Slack sends installers back to "
                "slack.redirect_uri): unset slack.app_token"
            )
        self.installs = installs
        self._verifier = None if self.socket_mode else SignatureVerifier(secret)
        self.poster = SlackPoster(
            client,
            pacer or ChannelPacer(settings.post_interval_seconds),
            tokens=installs.tokens if installs is not None else None,
        )
        self.votes = reaction_votes(settings)
        # Everything passed explicitly, so bolt has nothing to read from the environment. With
        # process_before_response the HTTP answer waits for the handler: a vote is stored before
        # Slack hears 200 (a failure makes Slack resend it), and a command handler returns right
        # after ack(), leaving its work to a task of ours.
        self.app = AsyncApp(
            client=client,
            signing_secret=secret,
            request_verification_enabled=not self.socket_mode,
            process_before_response=True,
            logger=logging.getLogger("paperbot.adapters.slack.bolt"),
            oauth_settings=installs.oauth_settings() if installs is not None else None,
            user_facing_authorize_error_message=(
                installs.not_installed_message() if installs is not None else None
            ),
        )
        self.app.command(settings.command)(self._on_command)
        self.app.event("reaction_added")(self._on_reaction)
        self.app.event("reaction_removed")(self._on_reaction)
        self.web_app = web.Application()
        if not self.socket_mode:
            self.web_app.router.add_post(settings.http_path, self._on_http)
        if installs is not None:
            installs.register(self.app, self.web_app)
        self._tasks: set[asyncio.Task[None]] = set()
        # Command work waits its turn here, so a burst of commands cannot crowd the event loop
        # (and the GIL, through the store's threads) and delay the acks of commands still
        # arriving; measured on 2 cores, 4 keeps the ack p99 well down where 8 did not. A
        # `/papers digest` holds its turn while its posts are paced, so others may wait.
        self._working = asyncio.Semaphore(max_concurrent_commands)
        self._ack_first = AckFirst()
        self._http: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        # A separate connect timeout, so a Slack that cannot be reached is told apart from one
        # that took the request and did not answer (which may have posted).
        self.http_timeout = aiohttp.ClientTimeout(total=30, sock_connect=10)
        bot.add_poster(self.poster)

    @classmethod
    def build(
        cls, settings: Settings, bot: Paperbot, *, pacer: ChannelPacer | None = None
    ) -> SlackAdapter:
        """The adapter for `settings.slack`, on `settings.http`'s host and port in HTTP mode."""
        slack = settings.slack
        installs = None
        if slack.oauth:
            assert slack.client_id is not None
            installs = SlackInstalls(slack, bot, slack.client_id)
            token = None  # each workspace's own, per call
        elif slack.bot_token is None:
            raise ConfigError("setting slack.bot_token is needed to run on Slack")
        else:
            token = slack.bot_token.get_secret_value()
        client = AsyncWebClient(
            token=token,
            # slack_sdk joins method names onto the base: without the final "/" a base like
            # http://localhost:8080/api would lose its "api".
            base_url=slack.api_base_url.rstrip("/") + "/",
            retry_handlers=retry_handlers(slack.rate_limit_retries),
        )
        return cls(
            slack,
            bot,
            client,
            host=settings.http.host,
            port=settings.http.port,
            pacer=pacer,
            installs=installs,
        )

    # --- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token, then listen: a local port in HTTP mode, a websocket in Socket Mode."""
        # One connection pool for Web API calls and response_url answers, instead of a new
        # session (and TCP/TLS handshake) per call, which is what slack_sdk does without one.
        self._http = aiohttp.ClientSession(timeout=self.http_timeout)
        self.client.session = self._http
        try:
            await self._check_token()
        except ConfigError:
            await self._close_http()
            raise
        if self.socket_mode:
            assert self.settings.app_token is not None
            self._socket = AsyncSocketModeHandler(
                self.app, self.settings.app_token.get_secret_value(), web_client=self.client
            )
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack: connected in Socket Mode")
            return
        self._runner = web.AppRunner(self.web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._bound_port(self._runner, self.port)
        log.info("slack: HTTP mode on %s:%d%s", self.host, self.port, self.settings.http_path)

    async def connected(self) -> bool:
        """For /healthz: the Socket Mode websocket is up, or the HTTP-mode site listens."""
        if self.socket_mode:
            return self._socket is not None and bool(await self._socket.client.is_connected())
        return self._runner is not None

    async def stop(self) -> None:
        """Stop listening, then let commands already acknowledged finish their answers."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.drain()
        await self._close_http()

    async def _close_http(self) -> None:
        if self._http is not None:
            await self._http.close()
            self.client.session = self._http = None

    async def drain(self) -> None:
        """Wait for every command answer under way (stop() and tests use it)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _check_token(self) -> None:
        if self.installs is not None:
            log.info("slack: OAuth distribution, installs at %s", self.settings.install_path)
            return
        try:
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            data = exc.response.data
            error = data.get("error") if isinstance(data, dict) else None
            if error in _AUTH_ERRORS:
                raise ConfigError(
                    f"setting slack.bot_token was refused by Slack: {error}"
                ) from None
            log.warning("slack: auth.test failed (%s); going on", error or exc.response.status_code)
            return
        except TRANSPORT_ERRORS as exc:
            log.warning("slack: Web API unreachable at start (%s); going on", type(exc).__name__)
            return
        log.info("slack: team %s, bot user %s", auth.get("team_id"), auth.get("user_id"))

    @staticmethod
    def _bound_port(runner: web.AppRunner, default: int) -> int:
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                return int(address[1])
        return default

    # --- handlers -------------------------------------------------------------------------

    async def _on_http(self, request: web.Request) -> web.Response:
        """POST /slack/events: commands, events and interactivity; bolt checks the signature."""
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not self.socket_mode and not stamp.isdigit():
            # bolt would fail on int() with a 500 and a traceback; it is just a bad signature.
            return web.json_response({"error": "invalid request"}, status=401)
        # The signature is checked before anything reads the body: bolt parses it first, and a
        # malformed body from anyone on the internet answered 500 with an ERROR traceback.
        signature = request.headers.get("X-Slack-Signature", "")
        if self._verifier is not None and not self._verifier.is_valid(
            await request.read(), stamp, signature
        ):
            return web.json_response({"error": "invalid request"}, status=401)
        with self._ack_first.acking():
            try:
                bolt_request = await to_bolt_request(request)
            except ValueError as exc:  # a signed body that is not JSON / form Slack sends
                log.warning("slack: refused a signed request: %s", type(exc).__name__)
                return web.json_response({"error": "malformed request"}, status=400)
            response = await self.app.async_dispatch(bolt_request)
            return await to_aiohttp_response(response)

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> BoltResponse | None:
        """Acknowledge at once; the answer follows through response_url, however long it takes."""
        missing = [name for name in _COMMAND_FIELDS if not command.get(name)]
        if missing:
            # Signed, yet not a command Slack sends: one warning line and a 400, where bolt
            # would log a KeyError traceback and answer 500.
            log.warning("slack: refused a signed command without %s", ", ".join(missing))
            return BoltResponse(status=400, body=f"malformed command: no {', '.join(missing)}")
        await ack()
        key = ChannelKey(PLATFORM, str(command.get("team_id", "")), str(command["channel_id"]))
        response_url = str(command.get("response_url", ""))
        ctx = CommandContext(
            key, str(command["user_id"]), can_manage=True, reply_to=response_url or None
        )
        text = unescape(str(command.get("text", "")))
        self._spawn(self._answer(ctx, text, response_url))
        return None

    async def _answer(self, ctx: CommandContext, text: str, response_url: str) -> None:
        name = _loggable((text.split(maxsplit=1) or ["help"])[0])
        await self._ack_first.turn()
        async with self._working:
            try:
                reply = await commands.handle(self.bot, ctx, text)
            except Exception as exc:
                # A bug must still answer the user, in one line, and leave one log line.
                failure = f"{type(exc).__name__}: {exc}"
                log.error("slack: /papers %s in %s failed: %s", name, ctx.channel, failure)
                reply = Reply.error(_FAILED)
            if reply.attachment is not None:
                reply = await self._upload(ctx.channel, reply)
            await self._respond(name, response_url, reply)

    async def _upload(self, channel: ChannelKey, reply: Reply) -> Reply:
        """Share the reply's file in the channel (with the reply as its comment); the command's
        own answer then says how that went."""
        assert reply.attachment is not None
        try:
            await self.poster.upload(channel, reply.attachment, reply.text)
        except ChannelUnavailable:
            return Reply.error(_NOT_IN_CHANNEL)
        except PostError as exc:
            if "missing_scope" in str(exc):
                return Reply.error(_NO_FILES_SCOPE)
            return Reply.error(_FAILED)
        return Reply(text=f"Shared {reply.attachment.filename} in this channel.")

    async def _respond(self, name: str, response_url: str, reply: Reply) -> None:
        """Answer through the command's response_url (what bolt's respond() does, on our pool)."""
        if not response_url:
            log.warning("slack: /papers %s came without a response_url; not answered", name)
            return
        message = reply_message(reply)
        webhook = AsyncWebhookClient(response_url, session=self._http)
        try:
            answer = await webhook.send(
                text=message.text,
                blocks=message.blocks,
                response_type=reply.visibility.value,
                replace_original=False,
                unfurl_links=False,
                unfurl_media=False,
            )
        except TRANSPORT_ERRORS as exc:
            log.warning("slack: answer to /papers %s lost: %s", name, type(exc).__name__)
            return
        if answer.status_code != 200:
            log.warning("slack: response_url refused /papers %s: HTTP %s", name, answer.status_code)

    async def _on_reaction(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        """A reaction on one of our paper messages is a vote; everything else is ignored."""
        value = self.votes.get(str(event.get("reaction", "")).split("::", 1)[0])
        item = event.get("item") or {}
        user = event.get("user")
        if value is None or item.get("type") != "message" or not user:
            return
        if user == context.bot_user_id:
            return
        key = ChannelKey(PLATFORM, str(context.team_id or ""), str(item.get("channel", "")))
        added = event.get("type") == "reaction_added"
        await self.bot.record_vote(key, str(item.get("ts", "")), str(user), value, added)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
