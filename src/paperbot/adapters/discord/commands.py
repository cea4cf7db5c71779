"""The `/papers` app command group: parse the interaction, run the core command, render the Reply.

Each subcommand builds the same text a Slack user or the console would type and hands it to
`paperbot.commands.handle`, so the three platforms cannot drift apart. Discord wants an answer
within 3 s: search and digest always defer first; the others answer directly unless the core
is slower than `answer_budget`, in which case they defer and follow up.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from dataclasses import replace
from typing import Literal
from zoneinfo import available_timezones

import discord
from discord import app_commands

from paperbot import commands as core_commands
from paperbot.adapters.discord.embeds import Rendered, reply_message
from paperbot.adapters.discord.poster import NO_MENTIONS, answer_token, channel_key
from paperbot.errors import ConfigError
from paperbot.models import ChannelKey, CommandContext, Reply, Visibility
from paperbot.presentation import truncate
from paperbot.service import Paperbot

log = logging.getLogger(__name__)

ANSWER_BUDGET = 2.0  # seconds of core work before we defer; Discord gives up at 3
CHOICE_LIMIT = 25
CHOICE_TEXT_LIMIT = 100
ARGUMENT_LIMIT = core_commands.MAX_ARGUMENT

SettingName = Literal[
    "timezone",
    "hour",
    "size",
    "days",
    "threaded",
    "empty",
    "keep",
    "roundup",
    "also",
    "pause",
    "resume",
]
Period = Literal["week", "month", "all"]
ExportChoice = Literal["week", "month", "top"]

_FLAG_VALUES = ("on", "off")
_DAY_VALUES = ("mon-fri", "daily", "mon,wed,fri", "sat-sun")
# What the bot itself needs in a channel to post a digest there.
NEEDED_IN_CHANNEL = ("view_channel", "send_messages", "embed_links")


def manage_check(permission: str) -> str:
    """Validate the configured permission name once, at start, rather than on first use."""
    if permission not in discord.Permissions.VALID_FLAGS:
        raise ConfigError(
            f"setting discord.manage_permission: unknown Discord permission {permission!r} "
            "(like manage_channels or manage_guild)"
        )
    return permission


def interaction_channel(interaction: discord.Interaction) -> ChannelKey | None:
    """The channel whose papers a command is about; a thread stands for its parent channel."""
    if interaction.guild_id is None or interaction.channel is None:
        return None
    channel = interaction.channel
    channel_id = channel.id
    if isinstance(channel, discord.Thread):
        channel_id = channel.parent_id
    return channel_key(interaction.guild_id, channel_id)


class PapersGroup(app_commands.Group):
    """`/papers ...`, one subcommand per core command."""

    def __init__(
        self,
        bot: Paperbot,
        manage_permission: str = "manage_channels",
        answer_budget: float = ANSWER_BUDGET,
    ) -> None:
        super().__init__(
            name="papers",
            description="Research-paper alerts for this channel",
            guild_only=True,  # a channel's papers: DMs have no channel to subscribe
            allowed_contexts=app_commands.AppCommandContext(guild=True),
        )
        self.bot = bot
        self.manage_permission = manage_check(manage_permission)
        self.answer_budget = answer_budget

    # --- subcommands ----------------------------------------------------------------------

    @app_commands.command(description="Follow papers matching a query in this channel")
    @app_commands.describe(
        query='diffusion, "world model", author:"Yann LeCun", cat:cs.LG, title:agents',
        preview="Only show what it would have matched this past week; saves nothing",
    )
    async def subscribe(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, ARGUMENT_LIMIT],
        preview: bool = False,
    ) -> None:
        text = f"subscribe --preview {query}" if preview else f"subscribe {query}"
        await self.run(interaction, text)

    @app_commands.command(description="Stop following a query in this channel")
    @app_commands.describe(query="One of this channel's subscriptions (or #N from /papers list)")
    async def unsubscribe(
        self, interaction: discord.Interaction, query: app_commands.Range[str, 1, ARGUMENT_LIMIT]
    ) -> None:
        await self.run(interaction, f"unsubscribe {query}")

    @unsubscribe.autocomplete("query")
    async def _subscriptions_offered(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        key = interaction_channel(interaction)
        if key is None:
            return []
        needle = current.casefold().strip()
        choices: list[app_commands.Choice[str]] = []
        for number, subscription in enumerate(await self.bot.subscriptions(key), start=1):
            query = subscription.query
            if needle and needle not in query.casefold() and needle != f"#{number}":
                continue
            value = query if len(query) <= CHOICE_TEXT_LIMIT else f"#{number}"
            name = truncate(f"#{number}  {query}", CHOICE_TEXT_LIMIT)
            choices.append(app_commands.Choice(name=name, value=value))
        return choices[:CHOICE_LIMIT]

    @app_commands.command(name="list", description="This channel's subscriptions")
    async def list_(self, interaction: discord.Interaction) -> None:
        await self.run(interaction, "list")

    @app_commands.command(description="Search every paper the bot has seen")
    @app_commands.describe(query="Words, and filters like since:7d author:Name cat:cs.CL")
    async def search(
        self, interaction: discord.Interaction, query: app_commands.Range[str, 1, ARGUMENT_LIMIT]
    ) -> None:
        await self.run(interaction, f"search {query}", defer=True)

    @app_commands.command(description="Post this channel's digest now")
    async def digest(self, interaction: discord.Interaction) -> None:
        await self.run(interaction, "digest", defer=True)

    @app_commands.command(description="Post the next matched papers into today's digest")
    async def more(self, interaction: discord.Interaction) -> None:
        await self.run(interaction, "more", defer=True)

    @app_commands.command(description="What this channel voted up")
    @app_commands.describe(period="Over which time (all by default)")
    async def top(self, interaction: discord.Interaction, period: Period | None = None) -> None:
        await self.run(interaction, f"top {period or ''}".strip())

    @app_commands.command(description="A BibTeX file of this channel's papers")
    @app_commands.describe(
        papers="Posted this week (default) or month, or voted up",
        subscription="Instead: the papers matched by subscription #N from /papers list",
    )
    async def export(
        self,
        interaction: discord.Interaction,
        papers: ExportChoice | None = None,
        subscription: app_commands.Range[int, 1, 500] | None = None,
    ) -> None:
        choice = f"#{subscription}" if subscription is not None else (papers or "week")
        await self.run(interaction, f"export {choice}", defer=True)

    @app_commands.command(description="Show or change this channel's digest settings")
    @app_commands.describe(
        name="The setting to change; leave empty to see them all",
        value="Its new value (hour 0-23, size 1-30, days mon-fri, threaded on/off, …)",
    )
    async def settings(
        self,
        interaction: discord.Interaction,
        name: SettingName | None = None,
        value: app_commands.Range[str, 1, 60] | None = None,
    ) -> None:
        text = " ".join(part for part in ("settings", name, value) if part)
        await self.run(interaction, text)

    @settings.autocomplete("value")
    async def _setting_values(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        name = getattr(interaction.namespace, "name", None)
        offered: tuple[str, ...] | list[str]
        if name in ("threaded", "empty"):
            offered = _FLAG_VALUES
        elif name == "days":
            offered = _DAY_VALUES
        elif name == "timezone":
            needle = current.casefold()
            offered = sorted(z for z in available_timezones() if needle in z.casefold())
        else:
            return []
        return [app_commands.Choice(name=v, value=v) for v in offered[:CHOICE_LIMIT]]

    @app_commands.command(description="Papers most like one you name")
    @app_commands.describe(
        paper="An arXiv id (2401.12345), an arxiv.org link, or its digest number"
    )
    async def like(
        self, interaction: discord.Interaction, paper: app_commands.Range[str, 1, ARGUMENT_LIMIT]
    ) -> None:
        await self.run(interaction, f"like {paper}", defer=True)

    @app_commands.command(description="What this channel's votes taught the bot")
    async def taste(self, interaction: discord.Interaction) -> None:
        await self.run(interaction, "taste")

    @app_commands.command(name="help", description="What /papers can do")
    async def help_(self, interaction: discord.Interaction) -> None:
        await self.run(interaction, "help", monospace=True)

    # --- the common path ------------------------------------------------------------------

    async def run(
        self,
        interaction: discord.Interaction,
        text: str,
        defer: bool = False,
        monospace: bool = False,
    ) -> None:
        """Parse -> core -> render, answered inside Discord's 3 s."""
        key = interaction_channel(interaction)
        if key is None:
            await self._send(interaction, Reply.error("use /papers in a server channel"))
            return
        ctx = CommandContext(
            key,
            str(interaction.user.id),
            can_manage=self.can_manage(interaction),
            # A deferred command's answer can come from another process after a restart.
            reply_to=answer_token(interaction) if defer else None,
        )
        started = time.monotonic()
        if defer:
            await interaction.response.defer(ephemeral=True, thinking=True)
        work = asyncio.ensure_future(core_commands.handle(self.bot, ctx, text))
        if not defer:
            remaining = self.answer_budget - (time.monotonic() - started)
            done, _ = await asyncio.wait({work}, timeout=max(0.0, remaining))
            if not done:
                try:
                    await interaction.response.defer(ephemeral=True, thinking=True)
                except discord.HTTPException as exc:
                    # Too late to answer; the command still completes (a change still happens).
                    log.warning("could not defer /papers %s: %s", text.split(" ")[0], exc)
        reply = await work
        if text.startswith("subscribe ") and reply.visibility is Visibility.IN_CHANNEL:
            reply = self._warn_if_mute(interaction, reply)
        await self._send(interaction, reply, monospace)

    def can_manage(self, interaction: discord.Interaction) -> bool:
        permissions = interaction.permissions
        return bool(permissions.administrator or getattr(permissions, self.manage_permission))

    def _warn_if_mute(self, interaction: discord.Interaction, reply: Reply) -> Reply:
        """A subscription in a channel the bot cannot post to would wait forever in silence."""
        missing = [p for p in NEEDED_IN_CHANNEL if not getattr(interaction.app_permissions, p)]
        if not missing:
            return reply
        names = ", ".join(p.replace("_", " ").title() for p in missing)
        text = f"{reply.text}\nNote: I cannot post digests here without {names}."
        return replace(reply, text=text)

    async def _send(
        self, interaction: discord.Interaction, reply: Reply, monospace: bool = False
    ) -> None:
        rendered = reply_message(reply, monospace)
        private = reply.is_error or reply.visibility is Visibility.EPHEMERAL
        if reply.attachment is not None:
            rendered.files.append(
                discord.File(io.BytesIO(reply.attachment.content), reply.attachment.filename)
            )
        if not interaction.response.is_done():
            await interaction.response.send_message(
                content=rendered.content,
                embeds=rendered.embeds,
                files=rendered.files,
                ephemeral=private,
                allowed_mentions=NO_MENTIONS,
            )
            return
        # Deferred: the first follow-up replaces the private "thinking…" message.
        if private:
            await _follow_up(interaction, rendered, ephemeral=True)
            return
        await _follow_up(interaction, Rendered("Done: announced in the channel."), ephemeral=True)
        await _follow_up(interaction, rendered, ephemeral=False)


async def _follow_up(interaction: discord.Interaction, rendered: Rendered, ephemeral: bool) -> None:
    if rendered.content is None:
        await interaction.followup.send(
            embeds=rendered.embeds,
            files=rendered.files,
            ephemeral=ephemeral,
            allowed_mentions=NO_MENTIONS,
        )
        return
    await interaction.followup.send(
        content=rendered.content,
        embeds=rendered.embeds,
        files=rendered.files,
        ephemeral=ephemeral,
        allowed_mentions=NO_MENTIONS,
    )


class PapersTree(app_commands.CommandTree[discord.Client]):
    """A tree whose failures end in a one-line private answer instead of Discord's
    "the application did not respond"."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
            # A command this version no longer has, or has changed (a client's cached copy
            # after an upgrade): what the user needs is what the commands are now.
            log.info("stale or unknown command %r answered with the help", error)
            await _answer_with_help(interaction)
            return
        command = interaction.command.qualified_name if interaction.command else "?"
        log.error("/%s failed in %s", command, interaction.channel_id, exc_info=error)
        message = "something went wrong on our side; please try again in a minute"
        try:
            if interaction.response.is_done():
                await interaction.followup.send(f"⚠️ {message}", ephemeral=True)
            else:
                await interaction.response.send_message(f"⚠️ {message}", ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about the failure of /%s", command)


async def _answer_with_help(interaction: discord.Interaction) -> None:
    help_reply = Reply(
        text=f"That command is not one I know (anymore).\n{core_commands.HELP}",
        title="paperbot commands",
    )
    rendered = reply_message(help_reply, monospace=True)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(
                embeds=rendered.embeds, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
        else:
            await interaction.response.send_message(
                embeds=rendered.embeds, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
    except discord.HTTPException:
        log.warning("could not answer a stale command with the help")
