"""The Discord connection and the runner's entry point, `DiscordAdapter`.

Wiring is explicit: `DiscordAdapter.build(settings, bot)` makes the client (sharded when shard
settings are given), its command tree with `/papers`, the vote handler and the poster, and
registers the poster with the core. `login()` logs in over REST (posting works from there) and
syncs the commands; `hold()` keeps the gateway connected through outages until `stop()` (see
gateway.py), so Discord being down never takes the process or the other platforms with it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.shard import Shard

from paperbot.adapters.discord.commands import ANSWER_BUDGET, PapersGroup, PapersTree
from paperbot.adapters.discord.embeds import VoteEmoji
from paperbot.adapters.discord.gateway import (
    GatewayLink,
    GatewayRefused,
    describe_error,
    hold,
    open_shard,
    quiet_library_reconnects,
    refusal,
)
from paperbot.adapters.discord.pacer import Pacer
from paperbot.adapters.discord.poster import DiscordPoster
from paperbot.adapters.discord.threads import ThreadParents
from paperbot.adapters.discord.votes import VoteHandler
from paperbot.backoff import Backoff
from paperbot.errors import ConfigError
from paperbot.service import Paperbot
from paperbot.settings import DiscordSettings

log = logging.getLogger(__name__)


class _Events:
    """Event handlers shared by the plain and the sharded client (discord.py calls
    `on_<event>` methods of the client itself)."""

    adapter: DiscordAdapter | None = None
    user: discord.ClientUser | None
    link: GatewayLink

    async def setup_hook(self) -> None:
        if self.adapter is not None:
            await self.adapter.first_sync()

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        if self.adapter is not None:
            await self.adapter.votes.on_reaction(event, added=True)

    async def on_raw_reaction_remove(self, event: discord.RawReactionActionEvent) -> None:
        if self.adapter is not None:
            await self.adapter.votes.on_reaction(event, added=False)


class PaperbotClient(_Events, discord.Client):
    async def connect(self, *, reconnect: bool = True) -> None:
        """Our reconnect loop instead of discord.py's (see gateway.py)."""
        await hold(self, self.link)

    async def on_ready(self) -> None:
        self.link.up(None)
        log.info("discord: connected as %s", self.user)

    async def on_resumed(self) -> None:
        self.link.up(None)
        log.info("discord: gateway session resumed")


class ShardedPaperbotClient(_Events, discord.AutoShardedClient):
    async def launch_shard(
        self, gateway: yarl.URL, shard_id: int, *, initial: bool = False
    ) -> None:
        """A shard's first connection with backoff (discord.py's retries forever every 5 s)."""
        ws = await open_shard(self, self.link, shard_id, initial)
        if ws is None:
            return  # closed while retrying
        # What discord.py's own launch_shard does once connected (its attributes are private).
        queue: asyncio.PriorityQueue[Any] = self._AutoShardedClient__queue  # type: ignore[attr-defined]
        shard = Shard(ws, self, queue.put_nowait)
        self._AutoShardedClient__shards[shard_id] = shard  # type: ignore[attr-defined]
        shard.launch()

    async def on_shard_ready(self, shard_id: int) -> None:
        self.link.up(shard_id)
        log.info("discord: shard %d connected as %s", shard_id, self.user)

    async def on_shard_resumed(self, shard_id: int) -> None:
        self.link.up(shard_id)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self.link.down(shard_id, f"shard {shard_id} disconnected")


def make_client(settings: DiscordSettings) -> discord.Client:
    """The default intents (reactions included, message content not) and no message cache:
    the bot never reads messages, and a million-paper deployment keeps its memory."""
    options: dict[str, Any] = {
        "intents": discord.Intents.default(),
        "max_messages": None,
        "chunk_guilds_at_startup": False,
        "application_id": settings.application_id,
    }
    link = GatewayLink(settings.gateway_url)
    quiet_library_reconnects()
    client: PaperbotClient | ShardedPaperbotClient
    if settings.shard_ids is None and settings.shard_count is None:
        client = PaperbotClient(**options)
    else:
        if settings.shard_count is not None:
            options["shard_count"] = settings.shard_count
        if settings.shard_ids is not None:
            if settings.shard_count is None:
                raise ConfigError("setting discord.shard_ids: needs discord.shard_count as well")
            options["shard_ids"] = settings.shard_ids
        client = ShardedPaperbotClient(**options)
        link.expected_shards = len(settings.shard_ids or range(settings.shard_count or 1))
    client.link = link
    return client


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
        self.link: GatewayLink = getattr(client, "link", None) or GatewayLink(settings.gateway_url)
        self.sync_retry = Backoff(base=60.0, cap=3600.0)
        self._sync_task: asyncio.Task[None] | None = None
        self._synced_once = False
        self._stopping = False

    @classmethod
    def build(
        cls,
        settings: DiscordSettings,
        bot: Paperbot,
        pacer: Pacer | None = None,
        answer_budget: float = ANSWER_BUDGET,
    ) -> DiscordAdapter:
        """Wire everything and register the poster with `bot`; nothing touches the network yet.

        The REST base and gateway URLs are process-wide discord.py settings, so they are set
        here, before login (discord.py would otherwise connect to Discord's own gateway).
        """
        discord.http.Route.BASE = settings.api_base_url.rstrip("/")
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)
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
        """Log in over REST (the bot can post from here on) and sync the commands.

        A refused token is a ConfigError; a network failure raises as it is (the caller retries).
        """
        if self.settings.token is None:
            raise ConfigError("setting discord.token: not set")
        try:
            await self.client.login(self.settings.token.get_secret_value())
        except discord.LoginFailure:
            raise ConfigError("setting discord.token: Discord refused it") from None
        except BaseException:
            await self.client.http.close()  # the next attempt opens a session of its own
            raise

    async def start(self) -> None:
        """Log in and hold the gateway connection (votes, commands) until `stop()`."""
        if self.client.user is None:
            await self.login()
        await self.hold()

    async def hold(self) -> None:
        """Log in if needed, then keep the gateway connected until `stop()`. Never raises for an
        outage: each failed attempt logs one line and waits a capped, jittered backoff; a final
        refusal (a revoked token, say) leaves Discord down, said once, while the rest runs on."""
        while not self._stopping:
            try:
                if self.client.user is None:
                    await self.login()
                await self.client.connect(reconnect=True)
                if self._stopping or self.client.is_closed():
                    return
            except (GatewayRefused, ConfigError) as exc:
                self.link.refused = str(exc)
                log.error("discord: %s; Discord stays down, the other platforms go on", exc)
                return
            except Exception as exc:  # an outage at login, or a shard's final close
                if self._stopping:
                    return
                reason = refusal(exc)
                if reason is None and self.client.is_closed():
                    # discord.py closed the client itself (a sharded client does when a shard
                    # fails for a reason it does not know): it cannot be opened again.
                    reason = f"the connection ended for good: {describe_error(exc)}"
                if reason is not None:
                    self.link.refused = reason
                    log.error("discord: %s; Discord stays down, the other platforms go on", reason)
                    return
                await self.link.retry_after("cannot reach Discord", describe_error(exc), None)

    async def stop(self) -> None:
        self._stopping = True
        self.link.closing.set()
        if self._sync_task is not None:
            self._sync_task.cancel()
        await self.client.close()

    async def first_sync(self) -> None:
        """Sync at login; on failure, keep retrying in the background (never fatal)."""
        if self._synced_once:
            return  # a re-login after an outage: the first sync already ran or is retrying
        self._synced_once = True
        if not await self.sync_commands():
            self._sync_task = asyncio.create_task(self._sync_later(), name="discord-command-sync")

    async def _sync_later(self) -> None:
        while not self._stopping:
            delay = self.sync_retry.next()
            log.info("discord: next /papers command sync attempt in %.1fs", delay)
            await self.link.pause(delay)
            if await self.sync_commands():
                return

    async def sync_commands(self) -> bool:
        """Publish /papers: to the test server only when one is set (instant), else globally
        (Discord may take a while to show global changes). A failure of any kind is logged in
        one line, not fatal: the commands synced last time still work. True when synced."""
        guild_id = self.settings.test_guild_id
        try:
            if guild_id is not None:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
            else:
                synced = await self.tree.sync()
        except Exception as exc:
            log.error("discord: could not sync /papers commands: %s", describe_error(exc))
            return False
        where = f"server {guild_id}" if guild_id is not None else "all servers"
        log.info("discord: synced %d command(s) to %s", len(synced), where)
        return True


def _vote_emoji(settings: DiscordSettings) -> VoteEmoji:
    up = settings.upvote_reactions[0] if settings.upvote_reactions else "👍"
    down = settings.downvote_reactions[0] if settings.downvote_reactions else "👎"
    return VoteEmoji(up, down)
