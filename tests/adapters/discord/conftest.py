"""Fixtures for the Discord adapter: the fake REST API, a logged-in adapter over the shared `bot`,
and helpers that push real-shaped interaction and gateway payloads through discord.py."""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import discord
import pytest
from fake_discord import (
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    TOKEN,
    FakeDiscord,
    fixture,
)

from paperbot.adapters.discord import DiscordAdapter
from paperbot.adapters.discord.pacer import Pacer
from paperbot.delivery import Pacer as CorePacer
from paperbot.service import Paperbot
from paperbot.settings import DiscordSettings
from paperbot.testing import FixedClock, VirtualTime

KEY_ARGS = ("discord", GUILD_ID, CHANNEL_ID)
MEMBER = discord.Permissions(311455763521)  # can use the bot, cannot manage channels
MODERATOR = discord.Permissions(328635640913)  # MEMBER + manage channels/messages/threads
ADA = "283704385210257409"  # a moderator
BO = "310542982364905474"  # a member
_ids = itertools.count(1)
# How long a command's core work may take before the adapter defers. The real 2 s (Discord gives
# up at 3) is shorter than a first subscribe can take on a loaded 2-core test machine, and then
# a test of the direct answer found a deferred one; the fake Discord never gives up, so the tests
# wait for the work, and the deferring itself is tested with a budget of 0.
TEST_ANSWER_BUDGET = 60.0


@pytest.fixture
def virtual_time() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def route_base() -> Iterator[None]:
    """DiscordAdapter.build sets discord.py's process-wide REST base; put it back afterwards."""
    original = discord.http.Route.BASE
    yield
    discord.http.Route.BASE = original


@pytest.fixture
async def fake(clock: FixedClock) -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(clock=clock)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def discord_settings(fake: FakeDiscord) -> DiscordSettings:
    return DiscordSettings(
        token=TOKEN, application_id=int(BOT_ID), api_base_url=fake.base_url, seed_reactions=False
    )


def build_adapter(
    settings: DiscordSettings, bot: Paperbot, virtual_time: VirtualTime, **options: Any
) -> DiscordAdapter:
    pacer = Pacer(
        settings.channel_post_interval,
        settings.global_requests_per_second,
        clock=virtual_time.clock,
        sleep=virtual_time.sleep,
    )
    return DiscordAdapter.build(settings, bot, pacer=pacer, **options)


@pytest.fixture
async def adapter(
    discord_settings: DiscordSettings,
    bot: Paperbot,
    virtual_time: VirtualTime,
    route_base: None,
) -> AsyncIterator[DiscordAdapter]:
    # The core paces and retries in real time by default; the Discord pacer under test is
    # enough here, and waits happen in virtual time.
    bot.delivery.pacer = CorePacer(rules={})
    bot.delivery.sleep = virtual_time.sleep
    built = build_adapter(discord_settings, bot, virtual_time, answer_budget=TEST_ANSWER_BUDGET)
    await built.login()
    yield built
    await built.stop()


# --- interactions ---------------------------------------------------------------------------

_OPTION_TYPES = {str: 3, int: 4, bool: 5}


def command_payload(
    subcommand: str,
    options: dict[str, Any] | None = None,
    *,
    permissions: discord.Permissions = MODERATOR,
    user_id: str = ADA,
    channel: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A type 2 APPLICATION_COMMAND payload for `/papers <subcommand> ...` as Discord sends it."""
    payload = fixture("discord_interaction_command.json")
    _identify(payload, user_id, permissions, channel)
    payload["data"]["options"] = [
        {"name": subcommand, "type": 1, "options": _options(options or {})}
    ]
    return payload


def autocomplete_payload(
    subcommand: str, focused: str, value: str, *, others: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A type 4 APPLICATION_COMMAND_AUTOCOMPLETE payload, `focused` being typed."""
    payload = fixture("discord_interaction_autocomplete.json")
    _identify(payload, BO, MEMBER, None)
    options = _options(others or {})
    options.append({"name": focused, "type": 3, "value": value, "focused": True})
    payload["data"]["options"] = [{"name": subcommand, "type": 1, "options": options}]
    return payload


def _identify(
    payload: dict[str, Any],
    user_id: str,
    permissions: discord.Permissions,
    channel: dict[str, Any] | None,
) -> None:
    number = next(_ids)
    payload["id"] = str(1310184213290631208 + number)
    payload["token"] = f"{payload['token'][:40]}{number:020d}"
    payload["member"]["user"]["id"] = user_id
    payload["member"]["permissions"] = str(permissions.value)
    if channel is not None:
        payload["channel"] = copy.deepcopy(channel)
        payload["channel_id"] = channel["id"]


def _options(options: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": name, "type": _OPTION_TYPES[type(value)], "value": value}
        for name, value in options.items()
    ]


async def invoke(adapter: DiscordAdapter, payload: dict[str, Any]) -> discord.Interaction:
    """Run one interaction through the command tree, as discord.py's own tests do."""
    interaction: discord.Interaction = discord.Interaction(
        data=payload,  # type: ignore[arg-type]
        state=adapter.client._connection,
    )
    try:
        await adapter.tree._call(interaction)
    except discord.app_commands.AppCommandError as error:
        # What discord.py's own invoker (CommandTree._from_interaction) does with an error
        # raised before the command runs, such as an unknown subcommand.
        await adapter.tree._dispatch_error(interaction, error)
    return interaction


# --- gateway --------------------------------------------------------------------------------


def reaction_payload(
    message_id: str,
    user_id: str = BO,
    emoji: str = "👍",
    added: bool = True,
    channel_id: str = CHANNEL_ID,
    author_id: str | None = BOT_ID,
) -> dict[str, Any]:
    name = "discord_message_reaction_add.json" if added else "discord_message_reaction_remove.json"
    data: dict[str, Any] = fixture(name)["d"]
    data.update(message_id=message_id, user_id=user_id, channel_id=channel_id)
    data["emoji"] = {"id": None, "name": emoji}
    if added:
        data["member"]["user"]["id"] = user_id
        if author_id is None:
            data.pop("message_author_id")
        else:
            data["message_author_id"] = author_id
    return data


async def react(adapter: DiscordAdapter, message_id: str, **options: Any) -> None:
    """Feed a MESSAGE_REACTION_ADD/REMOVE through the client's state; wait for the handlers."""
    data = reaction_payload(message_id, **options)
    state = adapter.client._connection
    if options.get("added", True):
        state.parse_message_reaction_add(data)  # type: ignore[arg-type]
    else:
        state.parse_message_reaction_remove(data)  # type: ignore[arg-type]
    handlers = [t for t in asyncio.all_tasks() if t.get_name().startswith("discord.py: on_raw")]
    await asyncio.gather(*handlers)
