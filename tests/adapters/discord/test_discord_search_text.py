"""Paper text on Discord shows as written: markdown in a title or abstract formats nothing, and
only the matched words of a search hit are bold."""

from __future__ import annotations

import re

from fake_discord import FakeDiscord

from conftest import command_payload, invoke
from paperbot.adapters.discord import DiscordAdapter
from paperbot.service import Paperbot
from paperbot.testing import make_paper

TITLE = "*Sparse* graphs_of_x: a ~fast~ `tool`"
ABSTRACT = (
    "-# We study *sparse* graphs, snake_case names, ~tilde~ and `tick` marks. Nothing else here."
)


async def test_markdown_in_paper_text_formats_nothing(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    paper = make_paper(TITLE, ABSTRACT)
    await bot.blocking(bot.ingest_papers, [paper])
    await invoke(adapter, command_payload("search", {"query": "sparse graphs"}))
    [followup] = fake.followups
    [embed] = [e for e in followup["embeds"] if e.get("url") == paper.abs_url]
    assert embed["title"] == r"1. \*Sparse\* graphs\_of\_x: a \~fast\~ \`tool\`"
    # "-# " would be Discord's small print; the paper's asterisks are escaped, ours are bold.
    assert embed["description"] == (
        r"\-# We study \***sparse**\* **graphs**, snake\_case names, \~tilde\~ and \`tick\` "
        "marks."
    )
    unescaped = re.sub(r"\\.", "", embed["description"])
    assert re.findall(r"\*\*([^*]+)\*\*", unescaped) == ["sparse", "graphs"]
