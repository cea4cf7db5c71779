"""Reactions on paper posts become team votes; every other reaction is ignored cheaply."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import discord

from paperbot.adapters.discord.poster import channel_key
from paperbot.adapters.discord.threads import ThreadParents
from paperbot.service import Paperbot

log = logging.getLogger(__name__)

# Skin tones and the emoji presentation selector: 👍🏽 is a 👍, and ⬆ is ⬆️.
_IGNORED_CODEPOINTS = {0xFE0F, *range(0x1F3FB, 0x1F400)}


def emoji_key(emoji: str) -> str:
    """A reaction's identity for voting: custom emoji by name, unicode without modifiers."""
    text = emoji.strip()
    if text.startswith("<") and text.endswith(">") and text.count(":") == 2:
        text = text.split(":")[1]  # <:upvote:123> / <a:upvote:123> -> upvote
    return "".join(ch for ch in text if ord(ch) not in _IGNORED_CODEPOINTS)


class VoteHandler:
    """Maps on_raw_reaction_add/remove to Paperbot.record_vote."""

    def __init__(
        self,
        bot: Paperbot,
        client: discord.Client,
        threads: ThreadParents,
        upvotes: Iterable[str],
        downvotes: Iterable[str],
    ) -> None:
        self.bot = bot
        self.client = client
        self.threads = threads
        self.values = {emoji_key(e): -1 for e in downvotes} | {emoji_key(e): 1 for e in upvotes}

    def value_of(self, emoji: discord.PartialEmoji) -> int | None:
        return self.values.get(emoji_key(emoji.name or "")) or self.values.get(
            emoji_key(str(emoji))
        )

    async def on_reaction(self, event: discord.RawReactionActionEvent, added: bool) -> str | None:
        """Record the vote; returns the paper voted on, None when the reaction is not a vote."""
        value = self.value_of(event.emoji)
        me = self.client.user
        if value is None or event.guild_id is None or me is None or event.user_id == me.id:
            return None
        if event.message_author_id is not None and event.message_author_id != me.id:
            return None  # someone else's message: no need to ask the store
        if event.member is not None and event.member.bot:
            return None
        channel_id = await self.threads.resolve(event.channel_id)
        try:
            return await self.bot.record_vote(
                channel_key(event.guild_id, channel_id),
                str(event.message_id),
                str(event.user_id),
                value,
                added,
            )
        except Exception:
            log.exception("could not record a vote on message %s", event.message_id)
            return None
