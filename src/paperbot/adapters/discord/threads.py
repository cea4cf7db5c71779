"""Which channel a thread belongs to.

A digest's papers can live in a thread, but the core knows channels only: a reaction in a
thread (its `channel_id` is the thread's) must count for the parent channel whose ledger holds
the post. The poster remembers the threads it opens; anything else is looked up once, from the
gateway cache or from Discord, and remembered.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import aiohttp
import discord

log = logging.getLogger(__name__)

_THREAD_TYPES = {
    discord.ChannelType.news_thread.value,
    discord.ChannelType.public_thread.value,
    discord.ChannelType.private_thread.value,
}
_MAX_REMEMBERED = 10_000


class ThreadParents:
    """Maps a channel id to the channel whose subscriptions own it (itself unless a thread)."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        self._parent: OrderedDict[int, int] = OrderedDict()

    def remember(self, channel_id: int, parent_id: int) -> None:
        self._parent[channel_id] = parent_id
        self._parent.move_to_end(channel_id)
        while len(self._parent) > _MAX_REMEMBERED:
            self._parent.popitem(last=False)

    async def resolve(self, channel_id: int) -> int:
        known = self._parent.get(channel_id)
        if known is not None:
            return known
        cached = self.client.get_channel(channel_id)
        if isinstance(cached, discord.Thread):
            parent = cached.parent_id
        elif cached is not None:
            parent = channel_id
        else:
            fetched = await self._fetch_parent(channel_id)
            if fetched is None:  # not remembered: the next reaction asks again
                return channel_id
            parent = fetched
        self.remember(channel_id, parent)
        return parent

    async def _fetch_parent(self, channel_id: int) -> int | None:
        try:
            data = await self.client.http.get_channel(channel_id)
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
            log.info("could not look up discord channel %s: %s", channel_id, exc)
            return None
        parent = data.get("parent_id")
        if data.get("type") in _THREAD_TYPES and parent is not None:
            return int(str(parent))
        return channel_id
