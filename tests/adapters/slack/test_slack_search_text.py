"""Paper text on Slack shows as written: mrkdwn's formatting characters in a title or abstract
format nothing, and only the matched words of a search hit are bold."""

from __future__ import annotations

import re

from slack_limits import assert_within_limits
from slack_requests import SlackSender

from paperbot.service import Paperbot
from paperbot.testing import make_paper

TITLE = "*Sparse* graphs_of_x: a ~fast~ `tool`"
ABSTRACT = (
    "We study *sparse* graphs, snake_case names, ~tilde~ and `tick` marks. Nothing else here."
)


async def test_formatting_characters_in_paper_text_format_nothing(
    slack: SlackSender, bot: Paperbot
) -> None:
    paper = make_paper(TITLE, ABSTRACT)
    bot.ingest_papers([paper])
    response = await slack.ask("search sparse graphs")
    assert_within_limits(response)
    [result] = [
        b["text"]["text"]
        for b in response["blocks"]
        if b["type"] == "section" and paper.abs_url in b["text"]["text"]
    ]
    title, snippet = result.splitlines()[0], result.splitlines()[1]
    # The title's own bold wraps the link; its asterisks and underscores are look-alikes.
    assert title == f"1. *<{paper.abs_url}|∗Sparse∗ graphsˍofˍx: a ∼fast∼ ˋtoolˋ>*"
    # Only the matched words are between mrkdwn's asterisks; the paper's own are inert.
    assert snippet == ("We study ∗*sparse*∗ *graphs*, snakeˍcase names, ∼tilde∼ and ˋtickˋ marks.")
    assert re.findall(r"\*([^*]+)\*", snippet) == ["sparse", "graphs"]
    assert not re.search(r"[_~`]", result)
