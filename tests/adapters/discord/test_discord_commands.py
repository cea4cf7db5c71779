"""Every /papers subcommand: a real-shaped interaction payload through discord.py's command tree,
answered through the fake Discord API."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from fake_discord import CHANNEL_ID, EPHEMERAL, FakeDiscord

from conftest import (
    ADA,
    BO,
    KEY_ARGS,
    MEMBER,
    autocomplete_payload,
    command_payload,
    invoke,
)
from paperbot.adapters.discord import DiscordAdapter
from paperbot.adapters.discord.commands import PapersGroup
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.testing import make_paper

KEY = ChannelKey(*KEY_ARGS)
MESSAGE = 4  # CHANNEL_MESSAGE_WITH_SOURCE
DEFERRED = 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
CHOICES = 8  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT


def answer(fake: FakeDiscord) -> dict[str, Any]:
    """The last direct answer (interaction callback) Discord received."""
    callback = fake.callbacks[-1]
    assert callback["type"] == MESSAGE, callback
    return callback["data"]  # type: ignore[no-any-return]


def private(data: dict[str, Any]) -> bool:
    return bool((data.get("flags") or 0) & EPHEMERAL)


def text_of(data: dict[str, Any]) -> str:
    parts = [data.get("content") or ""]
    for embed in data.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
    return "\n".join(p for p in parts if p)


def group(adapter: DiscordAdapter) -> PapersGroup:
    command = adapter.tree.get_command("papers")
    assert isinstance(command, PapersGroup)
    return command


async def queries(bot: Paperbot) -> list[str]:
    return [s.query for s in await bot.subscriptions(KEY)]


async def test_subscribe_is_announced_in_the_channel(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await invoke(adapter, command_payload("subscribe", {"query": "Diffusion"}))
    data = answer(fake)
    assert not private(data)
    assert data["content"] == f"<@{ADA}> subscribed this channel to diffusion."
    assert data["allowed_mentions"] == {"parse": []}  # named, never pinged
    assert await queries(bot) == ["diffusion"]


async def test_subscribe_warns_when_the_bot_cannot_post_here(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    payload = command_payload("subscribe", {"query": "diffusion"})
    payload["app_permissions"] = str(discord.Permissions(view_channel=True).value)
    await invoke(adapter, payload)
    assert "cannot post digests here without Send Messages, Embed Links" in answer(fake)["content"]


async def test_subscribe_preview_is_private_and_saves_nothing(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await bot.blocking(bot.ingest_papers, [make_paper("Video diffusion at scale", "We do it.")])
    await invoke(adapter, command_payload("subscribe", {"query": "diffusion", "preview": True}))
    data = answer(fake)
    assert private(data)
    assert "diffusion would have matched 1 paper" in data["content"]
    assert data["embeds"][0]["title"] == "1. Video diffusion at scale"
    assert await queries(bot) == []


async def test_a_member_without_the_permission_is_refused_privately_and_nothing_changes(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await bot.subscribe(KEY, "diffusion", ADA)
    before = await bot.channel(KEY)
    for sub, options in [
        ("subscribe", {"query": "robots"}),
        ("unsubscribe", {"query": "diffusion"}),
        ("settings", {"name": "hour", "value": "7"}),
    ]:
        await invoke(adapter, command_payload(sub, options, permissions=MEMBER, user_id=BO))
        data = answer(fake)
        assert private(data), sub
        assert "you need permission to manage this channel" in data["content"], sub
    assert await queries(bot) == ["diffusion"]
    assert (await bot.channel(KEY)).settings == before.settings
    # Reading stays open to everyone.
    await invoke(adapter, command_payload("list", permissions=MEMBER, user_id=BO))
    assert "#1  diffusion" in text_of(answer(fake))


async def test_the_permission_is_configurable(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    group(adapter).manage_permission = "manage_guild"
    await invoke(adapter, command_payload("subscribe", {"query": "robots"}))  # a moderator
    assert private(answer(fake)) and await queries(bot) == []
    admin = discord.Permissions(administrator=True)
    await invoke(adapter, command_payload("subscribe", {"query": "robots"}, permissions=admin))
    assert await queries(bot) == ["robots"]


async def test_unsubscribe_and_its_autocomplete(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    for query in ("diffusion", '"world model"', "video AND diffusion", "transformer"):
        await bot.subscribe(KEY, query, ADA)
    await invoke(adapter, autocomplete_payload("unsubscribe", "query", "DIFF"))
    callback = fake.callbacks[-1]
    assert callback["type"] == CHOICES
    assert callback["data"]["choices"] == [
        {"name": "#1  diffusion", "value": "diffusion"},
        {"name": "#3  video AND diffusion", "value": "video AND diffusion"},
    ]
    await invoke(adapter, autocomplete_payload("unsubscribe", "query", ""))
    assert len(fake.callbacks[-1]["data"]["choices"]) == 4
    await invoke(adapter, command_payload("unsubscribe", {"query": "video AND diffusion"}))
    data = answer(fake)
    assert not private(data)
    assert data["content"] == f"<@{ADA}> unsubscribed this channel from video AND diffusion."
    assert await queries(bot) == ["diffusion", '"world model"', "transformer"]
    await invoke(adapter, command_payload("unsubscribe", {"query": "robots"}))
    assert private(answer(fake))


async def test_list_shows_the_channels_subscriptions_privately(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await invoke(adapter, command_payload("list"))
    assert "follows nothing yet" in answer(fake)["content"]
    await bot.subscribe(KEY, "diffusion", ADA)
    await bot.subscribe(KEY, "cat:cs.LG", ADA)
    await invoke(adapter, command_payload("list"))
    data = answer(fake)
    assert private(data)
    assert data["embeds"][0]["title"] == "This channel follows 2"
    assert data["embeds"][0]["description"] == "#1  diffusion\n#2  cat:cs.lg"


async def test_search_defers_first_then_follows_up(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    paper = make_paper("Graph sparsification in linear time", "Sparse graphs, fast.")
    await bot.blocking(bot.ingest_papers, [paper])
    await invoke(adapter, command_payload("search", {"query": "graph sparsification"}))
    assert [c["type"] for c in fake.callbacks] == [DEFERRED]
    assert private(fake.callbacks[0]["data"])
    [followup] = fake.followups
    assert followup["embeds"][0]["url"] == paper.abs_url
    assert "Search results" in followup["content"]
    await invoke(adapter, command_payload("search", {"query": "quantum gravity"}))
    assert fake.followups[-1]["content"] == "No papers found for quantum gravity."


async def test_digest_posts_in_the_channel_and_tells_the_asker(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await bot.subscribe(KEY, "diffusion", ADA)
    papers = [make_paper(f"Diffusion {n}", "Text.") for n in range(2)]
    await bot.blocking(bot.ingest_papers, papers)
    await invoke(adapter, command_payload("digest", permissions=MEMBER, user_id=BO))
    assert fake.callbacks[0]["type"] == DEFERRED and private(fake.callbacks[0]["data"])
    [header] = fake.posted(CHANNEL_ID)
    assert len(fake.posted(header["id"])) == 2  # the papers, in the day's thread
    assert fake.followups[-1]["content"] == "Posted 2 papers."
    await invoke(adapter, command_payload("digest"))
    assert fake.followups[-1]["content"] == "Nothing new since the last digest."


async def test_top_offers_week_month_all(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await invoke(adapter, command_payload("top", {"period": "week"}))
    assert "No papers voted up this week yet" in answer(fake)["content"]
    await bot.subscribe(KEY, "diffusion", ADA)
    paper = make_paper("Diffusion wins", "Text.")
    await bot.blocking(bot.ingest_papers, [paper])
    await bot.deliver_digest(KEY)
    [entry] = bot.store.ledger(KEY)
    assert entry.message_id is not None
    await bot.record_vote(KEY, entry.message_id, BO, 1)
    await invoke(adapter, command_payload("top"))
    data = answer(fake)
    assert private(data) and data["content"] == "**Team favourites** · Voted up of all time"
    assert data["embeds"][0]["url"] == paper.abs_url
    assert "team +1" in data["embeds"][0]["footer"]["text"]


async def test_settings_show_change_and_value_autocomplete(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await invoke(adapter, command_payload("settings"))
    data = answer(fake)
    assert private(data) and data["embeds"][0]["title"] == "Channel settings"
    assert "hour 9:00" in data["embeds"][0]["description"]
    await invoke(adapter, command_payload("settings", {"name": "hour", "value": "7"}))
    data = answer(fake)
    assert not private(data) and data["content"] == f"<@{ADA}> set hour 7."
    assert (await bot.channel(KEY)).settings.digest_hour == 7
    await invoke(adapter, command_payload("settings", {"name": "hour", "value": "99"}))
    refused = answer(fake)
    assert private(refused) and "hour is a whole number from 0 to 23" in refused["content"]
    await invoke(
        adapter, autocomplete_payload("settings", "value", "", others={"name": "threaded"})
    )
    assert fake.callbacks[-1]["data"]["choices"] == [
        {"name": "on", "value": "on"},
        {"name": "off", "value": "off"},
    ]
    await invoke(
        adapter, autocomplete_payload("settings", "value", "berl", others={"name": "timezone"})
    )
    assert {"name": "Europe/Berlin", "value": "Europe/Berlin"} in fake.callbacks[-1]["data"][
        "choices"
    ]
    await invoke(adapter, command_payload("settings", {"name": "pause"}))
    assert (await bot.channel(KEY)).settings.paused


async def test_help_is_private_and_keeps_its_columns(
    adapter: DiscordAdapter, fake: FakeDiscord
) -> None:
    await invoke(adapter, command_payload("help", permissions=MEMBER, user_id=BO))
    data = answer(fake)
    assert private(data)
    description = data["embeds"][0]["description"]
    assert description.startswith("```\n/papers subscribe <query>") and description.endswith("```")


async def test_a_command_in_the_digest_thread_is_about_its_channel(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await bot.subscribe(KEY, "diffusion", ADA)
    thread = {
        "id": "1310190000000000001",
        "type": 11,
        "guild_id": KEY.workspace,
        "parent_id": CHANNEL_ID,
        "name": "Papers · Fri 20 Nov 2026",
        "owner_id": "1278394856104452126",
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 3,
        "member_count": 1,
        "flags": 0,
        "permissions": "328635640913",
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2026-11-20T08:00:02.000000+00:00",
            "locked": False,
        },
    }
    await invoke(adapter, command_payload("list", channel=thread))
    assert "#1  diffusion" in text_of(answer(fake))


async def test_slow_core_work_is_deferred_and_the_announcement_still_public(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    group(adapter).answer_budget = 0.0
    await invoke(adapter, command_payload("subscribe", {"query": "diffusion"}))
    assert [c["type"] for c in fake.callbacks] == [DEFERRED]
    assert private(fake.callbacks[0]["data"])
    done, announcement = fake.followups
    assert private(done) and done["content"] == "Done: announced in the channel."
    assert not private(announcement)
    assert announcement["content"] == f"<@{ADA}> subscribed this channel to diffusion."


async def test_a_failure_is_answered_privately_in_one_line(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(text: str, limit: int = 10) -> list[Any]:
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(bot, "find_papers", broken)
    await invoke(adapter, command_payload("search", {"query": "anything"}))
    assert fake.followups[-1]["content"].startswith("⚠️ something went wrong")
    assert private(fake.followups[-1])


async def test_a_stale_or_unknown_subcommand_is_answered_with_the_help(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    # What a client's cached command list sends after an upgrade removed or renamed one.
    await invoke(adapter, command_payload("frobnicate", {"query": "x"}))
    data = answer(fake)
    assert private(data)
    description = data["embeds"][0]["description"]
    assert "not one I know" in description and "/papers subscribe <query>" in description
    assert "something went wrong" not in text_of(data)
