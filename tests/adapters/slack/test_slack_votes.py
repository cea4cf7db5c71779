"""Reactions as Slack sends them (signed event callbacks) become votes on exactly one paper."""

from __future__ import annotations

import pytest
from fake_slack import BOT_USER, FIRST_TS, FakeSlack, fixture
from slack_requests import SlackSender, reaction

from paperbot.adapters.slack import SlackAdapter
from paperbot.adapters.slack.app import reaction_votes
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.settings import SlackSettings
from paperbot.testing import make_paper

KEY = ChannelKey("slack", "T0PAPERS1", "C0RESEARCH")


@pytest.fixture
async def posted(slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack) -> dict[str, str]:
    """A digest of two papers in the channel: paper id -> its message ts, plus the header."""
    await slack.ask("subscribe diffusion")
    bot.ingest_papers([make_paper(f"Diffusion {n}", "Denoising.") for n in range(2)])
    await slack.ask("digest")
    by_paper = {e.paper_id: str(e.message_id) for e in bot.store.ledger(KEY)}
    by_paper["header"] = f"{FIRST_TS}.000100"  # the first message posted
    return by_paper


def totals(bot: Paperbot, paper_ids: list[str]) -> dict[str, int]:
    return {k: v for k, v in bot.store.vote_totals(KEY, paper_ids).items() if v}


async def react(slack: SlackSender, ts: str, **kwargs: object) -> None:
    status, _ = await slack.event(reaction(ts, **kwargs))  # type: ignore[arg-type]
    assert status == 200


async def test_a_reaction_is_a_vote_and_its_removal_takes_it_back(
    slack: SlackSender, bot: Paperbot, posted: dict[str, str]
) -> None:
    paper, other = sorted(k for k in posted if k != "header")
    ts = posted[paper]
    await react(slack, ts)
    assert totals(bot, [paper, other]) == {paper: 1}
    await react(slack, ts)  # Slack resends an event; same person, same vote
    await react(slack, ts, reaction_name="arrow_up")  # another up emoji: still one vote
    await react(slack, ts, reaction_name="+1::skin-tone-4", user="U0BOB0001")
    assert totals(bot, [paper, other]) == {paper: 2}
    await react(slack, ts, user="U0BOB0001", removed=True)
    assert totals(bot, [paper, other]) == {paper: 1}
    await react(slack, posted[other], reaction_name="-1", user="U0CAROL01")
    await react(slack, posted[other], reaction_name="thumbsdown", user="U0DAVE001")
    assert totals(bot, [paper, other]) == {paper: 1, other: -2}
    await react(slack, ts, removed=True)
    assert totals(bot, [paper, other]) == {other: -2}


async def test_reactions_elsewhere_are_ignored(
    slack: SlackSender, bot: Paperbot, posted: dict[str, str], fake_slack: FakeSlack
) -> None:
    papers = sorted(k for k in posted if k != "header")
    ts = posted[papers[0]]
    await react(slack, posted["header"])  # the digest header names no single paper
    await react(slack, "1732260000.000900")  # somebody else's message
    await react(slack, ts, reaction_name="tada")  # not a voting emoji
    await react(slack, ts, user=BOT_USER)  # the bot's own reaction
    await react(slack, ts, channel="C0ELSEWHERE")  # same ts, another channel
    status, _ = await slack.event(fixture("slack_reaction_added_file.json"))  # a file
    assert status == 200
    assert totals(bot, papers) == {}
    assert len(fake_slack.posts()) == 1 + len(papers)  # and the bot said nothing


async def test_vote_settings_choose_the_emoji(
    slack: SlackSender, bot: Paperbot, posted: dict[str, str], adapter: SlackAdapter
) -> None:
    chosen = SlackSettings(upvote_reactions=[":rocket:"], downvote_reactions=["snail"])
    adapter.votes = reaction_votes(chosen)
    assert adapter.votes == {"rocket": 1, "snail": -1}
    paper = sorted(k for k in posted if k != "header")[0]
    await react(slack, posted[paper], reaction_name="+1")
    await react(slack, posted[paper], reaction_name="rocket", user="U0BOB0001")
    await react(slack, posted[paper], reaction_name="snail", user="U0CAROL01")
    await react(slack, posted[paper], reaction_name="snail", user="U0DAVE001")
    assert totals(bot, [paper]) == {paper: -1}
