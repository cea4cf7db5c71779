"""Reactions from the gateway (MESSAGE_REACTION_ADD/REMOVE payloads through the client's state)
become votes and their retraction; everything else is ignored."""

from __future__ import annotations

from fake_discord import BOT_ID, CHANNEL_ID, FakeDiscord

from conftest import BO, KEY_ARGS, react
from paperbot.adapters.discord import DiscordAdapter
from paperbot.adapters.discord.threads import ThreadParents
from paperbot.adapters.discord.votes import emoji_key
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.testing import make_paper

KEY = ChannelKey(*KEY_ARGS)


async def posted_paper(bot: Paperbot, threaded: bool = False) -> tuple[str, str]:
    """Deliver a one-paper digest; (paper id, its message id)."""
    await bot.subscribe(KEY, "diffusion", "283704385210257409")
    await bot.update_settings(KEY, threaded=threaded)
    paper = make_paper("Diffusion for votes", "Text.")
    await bot.blocking(bot.ingest_papers, [paper])
    await bot.deliver_digest(KEY)
    [entry] = bot.store.ledger(KEY)
    assert entry.message_id is not None
    return paper.arxiv_id, entry.message_id


def total(bot: Paperbot, paper_id: str) -> int:
    return bot.store.vote_totals(KEY, [paper_id]).get(paper_id, 0)


async def test_a_vote_and_its_removal(adapter: DiscordAdapter, bot: Paperbot) -> None:
    paper_id, message_id = await posted_paper(bot)
    await react(adapter, message_id, emoji="👍")
    assert total(bot, paper_id) == 1
    await react(adapter, message_id, emoji="👍", user_id="283704385210257409")
    assert total(bot, paper_id) == 2
    await react(adapter, message_id, emoji="👍", added=False)
    assert total(bot, paper_id) == 1
    await react(adapter, message_id, emoji="👎", user_id="400000000000000001")
    assert total(bot, paper_id) == 0


async def test_skin_tones_and_configured_alternatives_count(
    adapter: DiscordAdapter, bot: Paperbot
) -> None:
    paper_id, message_id = await posted_paper(bot)
    await react(adapter, message_id, emoji="👍🏽", user_id="400000000000000001")
    await react(adapter, message_id, emoji="⬆", user_id="400000000000000002")  # no FE0F
    assert total(bot, paper_id) == 2
    assert emoji_key("<:upvote:1161092364598304999>") == "upvote"


async def test_what_is_not_a_vote_is_ignored(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    paper_id, message_id = await posted_paper(bot)
    await react(adapter, message_id, user_id=BOT_ID)  # the bot's own 👍 on its paper
    await react(adapter, message_id, emoji="🎉")  # not a voting emoji
    await react(adapter, message_id, author_id="283704385210257409")  # someone else's message
    header = fake.posted(CHANNEL_ID)[0]["id"]
    await react(adapter, header)  # our digest header: not a paper
    assert total(bot, paper_id) == 0


async def test_a_vote_in_the_days_thread_counts_for_the_channel(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    paper_id, message_id = await posted_paper(bot, threaded=True)
    [thread_id] = fake.threads
    await react(adapter, message_id, channel_id=thread_id)
    assert total(bot, paper_id) == 1
    # After a restart the poster's memory is gone: the thread's parent is asked of Discord.
    adapter.votes.threads = ThreadParents(adapter.client)
    await react(adapter, message_id, channel_id=thread_id, user_id="400000000000000003")
    assert total(bot, paper_id) == 2
    assert fake.requests_to("GET", f"/channels/{thread_id}")
    await react(adapter, message_id, channel_id=thread_id, user_id=BO, added=False)
    assert total(bot, paper_id) == 1
