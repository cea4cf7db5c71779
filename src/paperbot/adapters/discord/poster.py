"""The core's ChatPoster for Discord: digests as embed messages, paced, errors in core terms.

Posting goes through discord.py's REST client only (no gateway needed), so a digest can be sent
while the gateway reconnects. discord.py waits out 429s itself; the Pacer keeps a fan-out from
provoking them. 403/404 mean the bot lost the channel (the core pauses it); anything else is a
failure for now (the core retries the paper with the next digest).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Literal

import aiohttp
import discord

from paperbot.adapters.discord.embeds import (
    Rendered,
    VoteEmoji,
    arxiv_url,
    header_message,
    header_tag,
    item_message,
    reply_message,
    thread_name,
)
from paperbot.adapters.discord.history import NETWORK_ERRORS, HistoryReader, history_errors
from paperbot.adapters.discord.pacer import Pacer
from paperbot.adapters.discord.threads import ThreadParents
from paperbot.errors import (
    ChannelUnavailable,
    PostError,
    PostNotSent,
    PostOutcomeUnknown,
)
from paperbot.models import ChannelKey, Digest, DigestItem, Reply

log = logging.getLogger(__name__)

PLATFORM = "discord"
NO_MENTIONS = discord.AllowedMentions.none()
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440  # a day: the thread fades with its digest
HISTORY_LIMIT = 200
REACTION_INTERVAL = 0.3  # Discord allows about one reaction per 0.25 s per channel
_UNKNOWN_MESSAGE = 10008
_THREAD_EXISTS = 160004
_MAX_REMEMBERED = 10_000
# Failures before the request reached Discord: certainly not posted.
_NEVER_CONNECTED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
NONCE_LENGTH = 25  # Discord's limit


def nonce(channel: ChannelKey, group: str, part: str) -> str:
    """A Create Message nonce: the same for the same channel, digest (attempt group) and paper,
    so a resend after a crash or an unanswered request is refused by Discord as a duplicate."""
    digest = hashlib.sha256(f"{channel}|{group}|{part}".encode()).hexdigest()
    return digest[:NONCE_LENGTH]


def answer_token(interaction: discord.Interaction) -> str:
    """Where a late answer to this command goes (kept with an interrupted digest): the
    application id and the interaction's token, which is valid for 15 minutes."""
    return f"{interaction.application_id}/{interaction.token}"


def channel_key(guild_id: int, channel_id: int) -> ChannelKey:
    return ChannelKey(PLATFORM, str(guild_id), str(channel_id))


class DiscordPoster:
    """Implements paperbot.ports.ChatPoster over a logged-in discord.py client."""

    platform = PLATFORM

    def __init__(
        self,
        client: discord.Client,
        pacer: Pacer | None = None,
        threads: ThreadParents | None = None,
        votes: VoteEmoji | None = None,
        seed_reactions: bool = True,
        history_limit: int = HISTORY_LIMIT,
    ) -> None:
        self.client = client
        self.pacer = pacer or Pacer()
        self.threads = threads or ThreadParents(client)
        self.votes = votes or VoteEmoji()
        self.seed_reactions = seed_reactions
        self.history_limit = history_limit
        # Header id -> where its items go: the thread (same id as the header) or, when no
        # thread could be opened, the channel itself.
        self._item_target: OrderedDict[int, int] = OrderedDict()

    # --- ChatPoster -----------------------------------------------------------------------

    async def post_header(self, channel: ChannelKey, digest: Digest) -> str:
        message = await self._send(
            channel,
            _id(channel.channel),
            header_message(digest, self.votes),
            nonce(channel, digest.ref, "header"),
        )
        return str(message.id)

    async def update_header(self, channel: ChannelKey, header_id: str, digest: Digest) -> None:
        """Edit the header so its list is what its thread holds."""
        rendered = header_message(digest, self.votes)
        async with _as_post_errors(channel):
            await self.pacer.wait(channel.channel)
            message = self._messageable(channel, _id(channel.channel)).get_partial_message(
                _id(header_id)
            )
            await message.edit(content=rendered.content, embeds=rendered.embeds)

    async def find_header(self, channel: ChannelKey, digest: Digest, since: datetime) -> str | None:
        """Our header since `since` whose footer names the digest (`header_tag`). Its nonce
        guards a resend only for the minutes Discord keeps nonces; the history always answers.
        None only when the whole window was read."""
        tag = header_tag(digest)
        if not tag:
            return None
        reader = self._history_reader(channel, since)
        async with history_errors(channel):
            found = await reader.tagged_header(_id(channel.channel), tag)
        return None if found is None else str(found)

    async def post_answer(self, channel: ChannelKey, reply_to: str, reply: Reply) -> bool:
        """A late answer to a deferred command, from whichever process finished its work: its
        private "thinking…" reply is edited through the interaction's webhook (`answer_token`),
        which Discord honours for 15 minutes; False once Discord refuses it."""
        application, _, token = reply_to.partition("/")
        if not application.isdigit() or not token:
            return False
        rendered = reply_message(reply)
        payload = {
            "content": rendered.content,
            "embeds": [embed.to_dict() for embed in rendered.embeds],
            "allowed_mentions": NO_MENTIONS.to_dict(),
        }
        route = discord.http.Route(
            "PATCH",
            "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
            webhook_id=int(application),
            webhook_token=token,
        )
        try:
            await self.client.http.request(route, json=payload)
        except (discord.DiscordException, *NETWORK_ERRORS) as exc:
            # The token is a credential: the log names the error, never the route.
            log.info("discord: late answer in %s not delivered: %s", channel, type(exc).__name__)
            return False
        return True

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        rendered = item_message(item, self.votes)
        once = nonce(channel, digest.ref, item.paper.arxiv_id)
        if thread is None:
            message = await self._send(channel, _id(channel.channel), rendered, once)
        else:
            message = await self._send_in_thread(channel, _id(thread), digest, rendered, once)
        await self._seed_votes(channel, message)
        return str(message.id)

    async def post_reply(self, channel: ChannelKey, reply: Reply) -> str:
        once = nonce(channel, secrets.token_hex(8), "reply")  # discord.py's own resends dedup
        message = await self._send(channel, _id(channel.channel), reply_message(reply), once)
        return str(message.id)

    async def find_posted(
        self, channel: ChannelKey, paper_id: str, since: datetime, thread: str | None = None
    ) -> str | None:
        """Our message about the paper since `since`, looked up in `thread` (the digest's, whose
        header may be older than `since`), the channel's history and the threads of our headers.
        None only when the whole window was read: a "no" here lets the core post the paper
        again, so anything less certain is CannotTell."""
        reader = self._history_reader(channel, since)
        url = arxiv_url(paper_id)
        async with history_errors(channel):
            found = None
            if thread is not None and thread != channel.channel:
                with contextlib.suppress(discord.NotFound):  # no thread was opened after all
                    found = await reader.paper(_id(thread), url, in_thread=True)
            if found is None:
                found = await reader.paper(_id(channel.channel), url, in_thread=False)
        return None if found is None else str(found)

    # --- internals ------------------------------------------------------------------------

    def _messageable(self, channel: ChannelKey, target: int) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(target, guild_id=_id(channel.workspace))

    def _history_reader(self, channel: ChannelKey, since: datetime) -> HistoryReader:
        me = self.client.user
        if me is None:
            raise PostError("discord: not logged in yet")
        if since.tzinfo is None:  # the core's times are UTC; discord.py would read local time
            since = since.replace(tzinfo=UTC)
        return HistoryReader(
            lambda target: self._messageable(channel, target), me.id, since, self.history_limit
        )

    async def _send(
        self, channel: ChannelKey, target: int, rendered: Rendered, once: str
    ) -> discord.Message:
        """One Create Message with `nonce` and `enforce_nonce` (discord.py sets the latter with
        the former): sent again within minutes, Discord returns the first message instead."""
        async with _as_post_errors(channel):
            await self.pacer.wait(channel.channel)
            return await self._messageable(channel, target).send(
                content=rendered.content,
                embeds=rendered.embeds,
                allowed_mentions=NO_MENTIONS,
                nonce=once,
            )

    async def _send_in_thread(
        self, channel: ChannelKey, header_id: int, digest: Digest, rendered: Rendered, once: str
    ) -> discord.Message:
        parent = _id(channel.channel)
        target = await self._thread_for(channel, header_id, digest)
        if target == parent:
            return await self._send(channel, parent, rendered, once)
        try:
            return await self._send(channel, target, rendered, once)
        except ChannelUnavailable:
            # The thread went away (a moderator deleted or locked it), not the channel.
            log.warning("digest thread %s in %s is gone; posting in the channel", target, channel)
            self._remember_target(header_id, parent)
            return await self._send(channel, parent, rendered, once)

    async def _thread_for(self, channel: ChannelKey, header_id: int, digest: Digest) -> int:
        """The day's thread, opened from the header on the first item (its id is the header's)."""
        known = self._item_target.get(header_id)
        if known is not None:
            return known
        parent = _id(channel.channel)
        try:
            async with _as_post_errors(channel):
                await self.pacer.wait(channel.channel)
                data = await self.client.http.start_thread_with_message(
                    parent,
                    header_id,
                    name=thread_name(digest),
                    auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                )
            target = int(data["id"])
        except ChannelUnavailable as exc:
            # Allowed to post but not to open threads: the papers go in the channel instead.
            log.warning(
                "cannot open a digest thread in %s (%s); posting in the channel", channel, exc
            )
            target = parent
        except PostError as exc:
            if _is_code(exc, _THREAD_EXISTS):
                target = header_id  # opened before a restart; a message's thread has its id
            elif _is_code(exc, _UNKNOWN_MESSAGE):
                target = parent  # the header was deleted: nothing to hang a thread on
            else:
                raise
        self._remember_target(header_id, target)
        if target != parent:
            self.threads.remember(target, parent)
        return target

    def _remember_target(self, header_id: int, target: int) -> None:
        self._item_target[header_id] = target
        while len(self._item_target) > _MAX_REMEMBERED:
            self._item_target.popitem(last=False)

    async def _seed_votes(self, channel: ChannelKey, message: discord.Message) -> None:
        """Add the vote reactions so voting is one click; the paper is posted either way."""
        if not self.seed_reactions:
            return
        for emoji in (self.votes.up, self.votes.down):
            try:
                await self.pacer.wait(("reactions", channel.channel), REACTION_INTERVAL)
                await message.add_reaction(emoji)
            except (discord.DiscordException, *NETWORK_ERRORS) as exc:
                log.info("could not add %s to a paper in %s: %s", emoji, channel, exc)
                return


@asynccontextmanager
async def _as_post_errors(channel: ChannelKey) -> AsyncIterator[None]:
    """discord.py's exceptions as the core's: lost channel, or failed for now. The message
    becomes the channel's pause reason, so it is short and names Discord's own error."""
    where = f"channel {channel.channel}"
    try:
        yield
    except discord.Forbidden as exc:
        raise ChannelUnavailable(f"discord: no access to {where}: {_describe(exc)}") from exc
    except discord.NotFound as exc:
        if exc.code == _UNKNOWN_MESSAGE:
            raise PostError(f"discord: message gone in {where}: {_describe(exc)}") from exc
        raise ChannelUnavailable(f"discord: {where} not found: {_describe(exc)}") from exc
    except discord.RateLimited as exc:
        raise PostNotSent(f"discord: rate limited in {where} for {exc.retry_after:.0f}s") from exc
    except discord.HTTPException as exc:
        if exc.status == 429:
            raise PostNotSent(f"discord: rate limited in {where}: {_describe(exc)}") from exc
        if exc.status >= 500:
            # Discord may have posted before failing to answer: the core checks before resending.
            raise PostOutcomeUnknown(f"discord: post to {where} failed: {_describe(exc)}") from exc
        raise PostError(f"discord: post to {where} failed: {_describe(exc)}") from exc
    except _NEVER_CONNECTED as exc:
        raise PostNotSent(f"discord: {where} unreachable: {type(exc).__name__}") from exc
    except NETWORK_ERRORS as exc:
        # A read timeout or a reset after the body went out may have posted: the core asks
        # Discord first, and a resend carries the same nonce.
        raise PostOutcomeUnknown(f"discord: post to {where} failed: {exc!r}"[:200]) from exc
    except discord.DiscordException as exc:
        raise PostError(f"discord: post to {where} failed: {exc!r}"[:200]) from exc


def _describe(exc: discord.HTTPException) -> str:
    """`403 Missing Access (50001)`: what Discord said, never a request detail."""
    said = exc.text.splitlines()[0][:80] if exc.text else ""
    return f"{exc.status} {said} ({exc.code})" if said else f"{exc.status} ({exc.code})"


def _is_code(error: PostError, code: int) -> bool:
    cause = error.__cause__
    return isinstance(cause, discord.HTTPException) and cause.code == code


def _id(text: str) -> int:
    """A snowflake from a ChannelKey part; a key that is not one can never be posted to."""
    try:
        return int(text)
    except ValueError:
        raise ChannelUnavailable(f"discord: {text!r} is not a channel id") from None
