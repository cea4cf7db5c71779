"""The Discord connection and the runner's entry point, `DiscordAdapter`.

Wiring is explicit: `DiscordAdapter.build(settings, bot)` makes the client (sharded when shard
settings are given), its command tree with `/papers`, the vote handler and the poster, and
registers the poster with the core. `start()` logs in, syncs the commands and holds the gateway
connection until `stop()`.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from paperbot.adapters.discord.commands import ANSWER_BUDGET, PapersGroup, PapersTree
from paperbot.adapters.discord.embeds import VoteEmoji
from paperbot.adapters.discord.pacer import Pacer
from paperbot.adapters.discord.poster import DiscordPoster
from paperbot.adapters.discord.threads import ThreadParents
from paperbot.adapters.discord.votes import VoteHandler
from paperbot.errors import ConfigError
from paperbot.service import Paperbot
from paperbot.settings import DiscordSettings

log = logging.getLogger(__name__)


class _Events:
    """Event handlers shared by the plain and the sharded client (discord.py calls
    `on_<event>` methods of the client itself)."""

    adapter: DiscordAdapter | None = None
    user: discord.ClientUser | None

    async def setup_hook(self) -> None:
        if self.adapter is not None:
            await self.adapter.sync_commands()

    async def on_ready(self) -> None:
        log.info("discord: connected as %s", self.user)

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        if self.adapter is not None:
            await self.adapter.votes.on_reaction(event, added=True)

    async def on_raw_reaction_remove(self, event: discord.RawReactionActionEvent) -> None:
        if self.adapter is not None:
            await self.adapter.votes.on_reaction(event, added=False)


class PaperbotClient(_Events, discord.Client):
    pass


class ShardedPaperbotClient(_Events, discord.AutoShardedClient):
    pass


def make_client(settings: DiscordSettings) -> discord.Client:
    """The default intents (reactions included, message content not) and no message cache:
    the bot never reads messages, and a million-paper deployment keeps its memory."""
    options: dict[str, Any] = {
        "intents": discord.Intents.default(),
        "max_messages": None,
        "chunk_guilds_at_startup": False,
        "application_id": settings.application_id,
    }
    if settings.shard_ids is None and settings.shard_count is None:
        return PaperbotClient(**options)
    if settings.shard_count is not None:
        options["shard_count"] = settings.shard_count
    if settings.shard_ids is not None:
        if settings.shard_count is None:
            raise ConfigError("setting discord.shard_ids: needs discord.shard_count as well")
        options["shard_ids"] = settings.shard_ids
    return ShardedPaperbotClient(**options)


class DiscordAdapter:
    """What the runner needs: `build`, then `start()` / `stop()`; `.client` and `.poster`."""

    def __init__(
        self,
        settings: DiscordSettings,
        bot: Paperbot,
        client: discord.Client,
        tree: app_commands.CommandTree[discord.Client],
        poster: DiscordPoster,
        votes: VoteHandler,
    ) -> None:
        self.settings = settings
        self.bot = bot
        self.client = client
        self.tree = tree
        self.poster = poster
        self.votes = votes

    @classmethod
    def build(
        cls,
        settings: DiscordSettings,
        bot: Paperbot,
        pacer: Pacer | None = None,
        answer_budget: float = ANSWER_BUDGET,
    ) -> DiscordAdapter:
        """Wire everything and register the poster with `bot`; nothing touches the network yet.

        The REST base URL is a process-wide discord.py setting, so it is set here, before login.
        """
        discord.http.Route.BASE = settings.api_base_url.rstrip("/")
        client = make_client(settings)
        tree = PapersTree(client)
        tree.add_command(PapersGroup(bot, settings.manage_permission, answer_budget))
        threads = ThreadParents(client)
        pacer = pacer or Pacer(settings.channel_post_interval, settings.global_requests_per_second)
        poster = DiscordPoster(
            client,
            pacer=pacer,
            threads=threads,
            votes=_vote_emoji(settings),
            seed_reactions=settings.seed_reactions,
        )
        votes = VoteHandler(
            bot, client, threads, settings.upvote_reactions, settings.downvote_reactions
        )
        adapter = cls(settings, bot, client, tree, poster, votes)
        if isinstance(client, _Events):
            client.adapter = adapter
        bot.add_poster(poster)
        return adapter

    async def login(self) -> None:
        """Log in over REST (the bot can post from here on) and sync the commands."""
        if self.settings.token is None:
            raise ConfigError("setting discord.token: not set")
        try:
            await self.client.login(self.settings.token.get_secret_value())
        except discord.LoginFailure:
            raise ConfigError("setting discord.token: Discord refused it") from None

    async def start(self) -> None:
        """Log in and hold the gateway connection (votes, commands) until `stop()`."""
        if self.client.user is None:
            await self.login()
        await self.client.connect(reconnect=True)

    async def stop(self) -> None:
        await self.client.close()

    async def sync_commands(self) -> None:
        """Publish /papers: to the test server only when one is set (instant), else globally
        (Discord may take a while to show global changes). A failure is logged, not fatal:
        the commands synced last time still work."""
        guild_id = self.settings.test_guild_id
        try:
            if guild_id is not None:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
            else:
                synced = await self.tree.sync()
        except (discord.HTTPException, app_commands.AppCommandError) as exc:
            log.error("discord: could not sync /papers commands: %s", exc)
            return
        where = f"server {guild_id}" if guild_id is not None else "all servers"
        log.info("discord: synced %d command(s) to %s", len(synced), where)


def _vote_emoji(settings: DiscordSettings) -> VoteEmoji:
    up = settings.upvote_reactions[0] if settings.upvote_reactions else "👍"
    down = settings.downvote_reactions[0] if settings.downvote_reactions else "👎"
    return VoteEmoji(up, down)
