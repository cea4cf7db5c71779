"""Asking Discord what the bot already posted: a paper's message or a digest's header, read
from channel and thread history. Settling a post that may have arrived depends on it, so every
answer is certain: found, not there (the whole window was read), or CannotTell."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from datetime import datetime

import aiohttp
import discord

from paperbot.errors import CannotTell, ChannelUnavailable, PostError
from paperbot.models import ChannelKey

NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


class HistoryReader:
    """Reads newest first, at most `limit` messages per channel or thread, after `since`."""

    def __init__(
        self,
        open_target: Callable[[int], discord.PartialMessageable],
        me: int,
        since: datetime,
        limit: int,
    ) -> None:
        self.open_target = open_target
        self.me = me
        self.since = since
        self.limit = limit

    async def tagged_header(self, target: int, tag: str) -> int | None:
        """Our message whose embed footer ends with `tag` (a digest's header)."""
        async with aclosing(self._ours(target)) as messages:
            async for message in messages:
                if any((embed.footer.text or "").endswith(tag) for embed in message.embeds):
                    return message.id
        return None

    async def paper(self, target: int, url: str, in_thread: bool) -> int | None:
        """Our message about the paper at `url`, also inside the threads of our headers."""
        # A sample paper's embed links to a title search, not its id: its footer names it.
        sample_tag = "sample:" + url.split("/abs/", 1)[-1]
        async with aclosing(self._ours(target)) as messages:
            async for message in messages:
                for embed in message.embeds:
                    if embed.url == url or (embed.footer.text or "").startswith(sample_tag):
                        return message.id
                if message.flags.has_thread and not in_thread:
                    # A digest header: its papers are in the thread that carries its id.
                    found = await self.paper(message.id, url, in_thread=True)
                    if found is not None:
                        return found
        return None

    async def _ours(self, target: int) -> AsyncGenerator[discord.Message, None]:
        history = self.open_target(target).history(
            limit=self.limit, after=self.since, oldest_first=False
        )
        seen = 0
        async for message in history:
            seen += 1
            if message.author.id == self.me:
                yield message
        if seen >= self.limit:
            raise CannotTell(f"discord: over {self.limit} messages in {target} since {self.since}")


@asynccontextmanager
async def history_errors(channel: ChannelKey) -> AsyncIterator[None]:
    """discord.py's exceptions while reading history, as the core's."""
    try:
        yield
    except discord.Forbidden as exc:
        raise CannotTell(f"discord: history of {channel} unreadable ({exc})") from exc
    except discord.NotFound as exc:
        raise ChannelUnavailable(f"discord: {channel} not found ({exc})") from exc
    except (discord.DiscordException, *NETWORK_ERRORS) as exc:
        raise PostError(f"discord: history of {channel} unreadable for now ({exc})") from exc
