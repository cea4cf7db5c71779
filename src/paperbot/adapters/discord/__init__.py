"""Discord adapter: `/papers` app commands, digests as embeds, votes from reactions.

The runner needs only `DiscordAdapter` (build, start, stop) and the CLI only `invite_url`.
"""

from paperbot.adapters.discord.client import DiscordAdapter
from paperbot.adapters.discord.invite import BOT_PERMISSIONS, invite_url
from paperbot.adapters.discord.poster import DiscordPoster

__all__ = ["BOT_PERMISSIONS", "DiscordAdapter", "DiscordPoster", "invite_url"]
