"""Posting to Slack through the Web API, with Slack's errors turned into the core's.

Rate limits are retried inside slack_sdk (`AsyncRateLimitErrorRetryHandler`, which waits out
`Retry-After`); posts to one channel are also paced to Slack's ~1 message a second so a 30-paper
digest rarely meets a 429 at all. A channel the bot lost becomes ChannelUnavailable so the core
pauses it once instead of retrying forever; anything else is a PostError the core retries later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from paperbot.adapters.slack.blocks import (
    MAX_SECTION,
    SlackMessage,
    fit_user_text,
    header_message,
    item_message,
    reply_message,
)
from paperbot.errors import (
    CannotTell,
    ChannelUnavailable,
    PostError,
    PostNotSent,
    PostOutcomeUnknown,
)
from paperbot.models import Attachment, ChannelKey, Digest, DigestItem, Reply

log = logging.getLogger(__name__)

PLATFORM = "slack"
PAPER_EVENT = "paperbot_paper"
DIGEST_EVENT = "paperbot_digest"
# Errors that no retry will heal: the bot was removed, the channel is gone or archived, or the
# workspace forbids the bot to post there. The core pauses the channel and says so once.
CHANNEL_GONE = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "channel_is_archived",
        "access_denied",
        "account_inactive",
        "restricted_action",
    }
)
HISTORY_PAGE = 200
TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError, SlackClientError)
# Failures before the request could reach Slack (refused, DNS, connect timeout, TLS handshake):
# the post certainly did not happen. Everything else in TRANSPORT_ERRORS may have posted.
NEVER_CONNECTED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)

Sleep = Callable[[float], Awaitable[None]]
# A workspace's bot token (OAuth distribution); raises ChannelUnavailable when it has none.
TokenSource = Callable[[str], Awaitable[str]]


def retry_handlers(rate_limit_retries: int) -> list[AsyncRetryHandler]:
    """slack_sdk's own retries: 429s wait for `Retry-After`; a connection that never opened is
    tried once more. Not slack_sdk's default connection errors: a reset after the body went out
    may have posted, and only the core may decide to send that again (after asking Slack)."""
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=1, error_types=list(NEVER_CONNECTED)),
        AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
    ]


class ChannelPacer:
    """Spaces posts to one channel at least `interval` seconds apart; other channels never wait.

    Each caller reserves the next free slot at once and sleeps outside any lock, so many
    channels' digests post side by side while each channel keeps Slack's pace. The core's
    delivery Pacer already spaces digest posts a little wider, so behind it this never waits;
    it is the poster's own guarantee for every other caller.
    """

    def __init__(
        self,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}

    async def wait(self, channel: str) -> None:
        now = self._clock()
        slot = max(now, self._next.get(channel, now))
        self._next[channel] = slot + self.interval
        if len(self._next) > 10_000:
            self._next = {c: t for c, t in self._next.items() if t > now}
        if slot > now:
            await self._sleep(slot - now)


def _error_code(exc: SlackApiError) -> tuple[str | None, int]:
    data = exc.response.data
    error = data.get("error") if isinstance(data, dict) else None
    return (error if isinstance(error, str) else None), exc.response.status_code


def post_error(exc: SlackApiError) -> PostError:
    """The core's view of a failed chat.postMessage."""
    error, status = _error_code(exc)
    if error in CHANNEL_GONE:
        return ChannelUnavailable(error)
    if status == 429:
        return PostNotSent("rate limited by Slack, retries spent")
    if status >= 500:
        # Slack may have posted before failing to answer: the core checks before resending.
        return PostOutcomeUnknown(f"Slack answered HTTP {status}")
    return PostError(f"Slack said {error}" if error else f"Slack answered HTTP {status}")


def history_error(channel: ChannelKey, exc: SlackApiError) -> PostError | CannotTell:
    """A failed history read: for now (rate limit, 5xx), the channel lost, or never readable."""
    error, status = _error_code(exc)
    if error in CHANNEL_GONE:
        return ChannelUnavailable(error)
    if status == 429 or status >= 500:
        return PostError(f"cannot read {channel} history now: HTTP {status}")
    return CannotTell(f"cannot read {channel} history: {error or status}")


def _header_tag(digest: Digest) -> dict[str, Any]:
    payload = {"day": digest.day.isoformat(), "digest": digest.ref}
    return {"event_type": DIGEST_EVENT, "event_payload": payload}


class SlackPoster:
    """The ChatPoster for Slack: header and items via chat.postMessage, tagged with message
    metadata so a post whose outcome a crash hid can be found again in the channel history."""

    platform = PLATFORM

    def __init__(
        self,
        client: AsyncWebClient,
        pacer: ChannelPacer | None = None,
        history_pages: int = 20,
        tokens: TokenSource | None = None,
    ) -> None:
        self.client = client
        self.pacer = pacer or ChannelPacer()
        self.history_pages = history_pages
        self.tokens = tokens

    async def _auth(self, channel: ChannelKey) -> dict[str, Any]:
        """Each workspace is served with its own token under OAuth; else the client's one."""
        if self.tokens is None:
            return {}
        return {"token": await self.tokens(channel.workspace)}

    async def post_header(self, channel: ChannelKey, digest: Digest) -> str:
        return await self._post(channel, header_message(digest), metadata=_header_tag(digest))

    async def update_header(self, channel: ChannelKey, header_id: str, digest: Digest) -> None:
        """chat.update: the header's list becomes what its thread holds."""
        message = header_message(digest)
        await self.pacer.wait(channel.channel)
        try:
            await self.client.chat_update(
                channel=channel.channel,
                ts=header_id,
                text=message.text,
                blocks=message.blocks,
                metadata=_header_tag(digest),
            )
        except SlackApiError as exc:
            raise post_error(exc) from None
        except NEVER_CONNECTED as exc:
            raise PostNotSent(f"Slack unreachable: {type(exc).__name__}") from None
        except TRANSPORT_ERRORS as exc:
            # Editing twice is harmless, so "may have arrived" is just "try again".
            raise PostError(f"Slack did not answer: {type(exc).__name__}") from None

    async def find_header(self, channel: ChannelKey, digest: Digest, since: datetime) -> str | None:
        """Our header tagged with the digest's ref, at the top level of the channel."""
        oldest = f"{since.timestamp():.6f}"
        try:
            async for message in self._pages(channel.channel, oldest):
                if digest.ref and _tagged(message, DIGEST_EVENT, "digest") == digest.ref:
                    return str(message["ts"])
        except SlackApiError as exc:
            raise history_error(channel, exc) from None
        except TRANSPORT_ERRORS as exc:
            raise PostError(f"cannot read {channel} history now: {type(exc).__name__}") from None
        return None

    async def post_answer(self, channel: ChannelKey, reply_to: str, reply: Reply) -> bool:
        """A late answer on the command's response_url (valid 30 minutes, up to 5 answers)."""
        message = reply_message(reply)
        webhook = AsyncWebhookClient(reply_to, session=self.client.session)
        try:
            answer = await webhook.send(
                text=message.text,
                blocks=message.blocks,
                response_type=reply.visibility.value,
                replace_original=False,
            )
        except TRANSPORT_ERRORS as exc:
            log.info("slack: late answer in %s not delivered: %s", channel, type(exc).__name__)
            return False
        return answer.status_code == 200

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        metadata = {"event_type": PAPER_EVENT, "event_payload": {"paper_id": item.paper.arxiv_id}}
        return await self._post(channel, item_message(item), thread=thread, metadata=metadata)

    async def post_reply(self, channel: ChannelKey, reply: Reply) -> str:
        return await self._post(channel, reply_message(reply))

    async def upload(self, channel: ChannelKey, attachment: Attachment, comment: str) -> str:
        """Share a file in the channel through Slack's external upload (files.getUploadURLExternal,
        the upload itself, files.completeUploadExternal); returns the file id."""
        auth = await self._auth(channel)
        try:
            response = await self.client.files_upload_v2(
                **auth,
                channel=channel.channel,
                content=attachment.content,
                filename=attachment.filename,
                title=attachment.title or attachment.filename,
                # Slack renders the comment as mrkdwn, and it may name a subscription.
                initial_comment=fit_user_text(comment, MAX_SECTION),
            )
        except SlackApiError as exc:
            error = post_error(exc)
            log.warning("file upload to %s failed: %s", channel, error)
            raise error from None
        except TRANSPORT_ERRORS as exc:
            raise PostError(f"Slack unreachable: {type(exc).__name__}") from None
        file = response.get("file") or {}
        return str(file.get("id", ""))

    async def _post(
        self,
        channel: ChannelKey,
        message: SlackMessage,
        thread: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        auth = await self._auth(channel)
        await self.pacer.wait(channel.channel)
        try:
            response = await self.client.chat_postMessage(
                **auth,
                channel=channel.channel,
                text=message.text,
                blocks=message.blocks,
                thread_ts=thread,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            error = post_error(exc)
            log.warning("chat.postMessage to %s failed: %s", channel, error)
            raise error from None
        except NEVER_CONNECTED as exc:
            raise PostNotSent(f"Slack unreachable: {type(exc).__name__}") from None
        except TRANSPORT_ERRORS as exc:
            # A read timeout or a reset after the body went out can hide a post that went
            # through: the core asks Slack before sending it again.
            raise PostOutcomeUnknown(f"no answer from Slack: {type(exc).__name__}") from None
        ts = response.get("ts")
        if not isinstance(ts, str):
            raise PostError("Slack accepted the post but returned no ts")
        return ts

    async def find_posted(
        self, channel: ChannelKey, paper_id: str, since: datetime, thread: str | None = None
    ) -> str | None:
        """Look for our tagged post of `paper_id`: in `thread` (the digest's, whose header may be
        older than `since`: `/papers more` and resumed digests post into old threads), at top
        level, or in one of our digest threads started since `since`.

        Raises CannotTell when the history can never be read in full (a missing scope, too much
        of it), so the core never reposts on a guess; PostError when Slack cannot be asked now.
        """
        oldest = f"{since.timestamp():.6f}"
        auth = await self._auth(channel)
        try:
            if thread is not None:
                async for reply in self._pages(channel.channel, oldest, thread, auth):
                    if _tagged(reply, PAPER_EVENT, "paper_id") == paper_id:
                        return str(reply["ts"])
            async for message in self._pages(channel.channel, oldest, auth=auth):
                if _tagged(message, PAPER_EVENT, "paper_id") == paper_id:
                    return str(message["ts"])
                if _tagged(message, DIGEST_EVENT, "day") and message.get("reply_count"):
                    header = str(message["ts"])
                    if header == thread:
                        continue  # read above
                    async for reply in self._pages(channel.channel, oldest, header, auth):
                        if _tagged(reply, PAPER_EVENT, "paper_id") == paper_id:
                            return str(reply["ts"])
        except SlackApiError as exc:
            raise history_error(channel, exc) from None
        except TRANSPORT_ERRORS as exc:
            raise PostError(f"cannot read {channel} history now: {type(exc).__name__}") from None
        return None

    async def _pages(
        self,
        channel: str,
        oldest: str,
        thread: str | None = None,
        auth: dict[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """A channel's history (or one thread of it) since `oldest`, page by page."""
        cursor: str | None = None
        for _ in range(self.history_pages):
            if thread is None:
                response = await self.client.conversations_history(
                    **(auth or {}),
                    channel=channel,
                    oldest=oldest,
                    limit=HISTORY_PAGE,
                    include_all_metadata=True,
                    cursor=cursor,
                )
            else:
                response = await self.client.conversations_replies(
                    **(auth or {}),
                    channel=channel,
                    ts=thread,
                    oldest=oldest,
                    limit=HISTORY_PAGE,
                    include_all_metadata=True,
                    cursor=cursor,
                )
            for message in response.get("messages") or []:
                if isinstance(message, dict):
                    yield message
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return
        raise CannotTell(f"more than {self.history_pages} pages of history in {channel}")


def _tagged(message: dict[str, Any], event_type: str, field: str) -> str | None:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != event_type:
        return None
    value = (metadata.get("event_payload") or {}).get(field)
    return str(value) if value is not None else None
