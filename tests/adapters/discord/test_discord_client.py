"""Wiring: login against the fake API, command sync, intents, shards, invite link, secrets."""

from __future__ import annotations

import logging

import discord
import pytest
from fake_discord import BOT_ID, TOKEN, FakeDiscord
from pydantic import SecretStr

from conftest import VirtualTime, build_adapter
from paperbot.adapters.discord import BOT_PERMISSIONS, DiscordAdapter, invite_url
from paperbot.errors import ConfigError
from paperbot.service import Paperbot
from paperbot.settings import DiscordSettings

SUBCOMMANDS = [
    "subscribe",
    "unsubscribe",
    "list",
    "search",
    "digest",
    "more",
    "top",
    "export",
    "settings",
    "like",
    "taste",
    "help",
]


async def test_login_syncs_the_papers_group_globally(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    assert fake.base_url == discord.http.Route.BASE  # every REST call went to the fake
    assert adapter.client.user is not None and str(adapter.client.user.id) == BOT_ID
    [(guild, [papers])] = fake.synced
    assert guild is None
    assert papers["name"] == "papers" and papers["contexts"] == [0]  # servers only, no DMs
    assert [o["name"] for o in papers["options"]] == SUBCOMMANDS
    assert bot.posters["discord"] is adapter.poster


async def test_a_test_server_gets_the_commands_at_once(
    discord_settings: DiscordSettings,
    bot: Paperbot,
    fake: FakeDiscord,
    virtual_time: VirtualTime,
    route_base: None,
) -> None:
    settings = discord_settings.model_copy(update={"test_guild_id": 1161092364598304849})
    adapter = build_adapter(settings, bot, virtual_time)
    await adapter.login()
    await adapter.stop()
    [(guild, [papers])] = fake.synced
    assert guild == "1161092364598304849" and papers["name"] == "papers"


async def test_default_intents_without_message_content(
    adapter: DiscordAdapter,
) -> None:
    intents = adapter.client.intents
    assert intents == discord.Intents.default()
    assert intents.guild_reactions and not intents.message_content
    assert not isinstance(adapter.client, discord.AutoShardedClient)


def test_shard_settings_make_a_sharded_client(
    discord_settings: DiscordSettings, bot: Paperbot, virtual_time: VirtualTime, route_base: None
) -> None:
    sharded = discord_settings.model_copy(update={"shard_ids": [0, 1], "shard_count": 4})
    client = build_adapter(sharded, bot, virtual_time).client
    assert isinstance(client, discord.AutoShardedClient)
    assert client.shard_ids == [0, 1] and client.shard_count == 4
    with pytest.raises(ConfigError, match="shard_count"):
        build_adapter(discord_settings.model_copy(update={"shard_ids": [0]}), bot, virtual_time)


def test_an_unknown_manage_permission_is_a_config_error(
    discord_settings: DiscordSettings, bot: Paperbot, virtual_time: VirtualTime, route_base: None
) -> None:
    wrong = discord_settings.model_copy(update={"manage_permission": "manage_chanels"})
    with pytest.raises(ConfigError, match="manage_chanels"):
        build_adapter(wrong, bot, virtual_time)


def test_the_invite_asks_for_exactly_what_the_bot_uses() -> None:
    assert BOT_PERMISSIONS.value == 309237730368
    needed = discord.Permissions(
        view_channel=True,
        send_messages=True,
        embed_links=True,
        add_reactions=True,
        read_message_history=True,
        create_public_threads=True,
        send_messages_in_threads=True,
    )
    assert needed == BOT_PERMISSIONS
    assert not BOT_PERMISSIONS.administrator and not BOT_PERMISSIONS.manage_messages
    assert invite_url(1278394856104452126) == (
        "https://discord.com/oauth2/authorize?client_id=1278394856104452126"
        "&scope=bot+applications.commands&permissions=309237730368"
    )


async def test_the_token_is_never_logged_and_a_wrong_one_is_a_clear_error(
    discord_settings: DiscordSettings,
    bot: Paperbot,
    virtual_time: VirtualTime,
    route_base: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = build_adapter(discord_settings, bot, virtual_time)
    await adapter.login()
    await adapter.stop()
    wrong = discord_settings.model_copy(update={"token": SecretStr("not-the-token")})
    refused = build_adapter(wrong, bot, virtual_time)
    with pytest.raises(ConfigError) as error:
        await refused.login()
    await refused.stop()
    assert "not-the-token" not in str(error.value)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in logged and "not-the-token" not in logged
    assert TOKEN not in repr(discord_settings)


async def test_start_without_a_token_says_which_setting(
    bot: Paperbot, virtual_time: VirtualTime, route_base: None
) -> None:
    adapter = build_adapter(DiscordSettings(), bot, virtual_time)
    with pytest.raises(ConfigError, match=r"discord\.token"):
        await adapter.start()
