"""How taste shows in each renderer: the "also worth a look" section, its reason, and the
"ranked up" note, within each platform's limits and with paper text never made live."""

from __future__ import annotations

import io
import json
from datetime import date

from discord_limits import as_payload, embed_text, violations
from rich.console import Console
from slack_limits import assert_within_limits

from paperbot.adapters.console import ConsolePoster
from paperbot.adapters.discord import embeds
from paperbot.adapters.slack import blocks
from paperbot.models import ChannelKey, Digest, DigestItem, MatchField, MatchReason
from paperbot.presentation import ALSO_WORTH
from paperbot.ranking import RANKED_UP
from paperbot.testing import make_paper

KEY = ChannelKey("slack", "T1", "C1")


def digest() -> Digest:
    matched = DigestItem(
        make_paper("Offline RL at Scale", arxiv_id="2611.00001"),
        (MatchReason("reinforcement", MatchField.TITLE),),
        note=RANKED_UP,
    )
    plain = DigestItem(
        make_paper("Pruning LLMs", arxiv_id="2611.00002"),
        (MatchReason('"language model"', MatchField.ABSTRACT),),
    )
    suggested = DigestItem(
        make_paper("Regret Bounds for MDPs", arxiv_id="2611.00003"),
        note="close to: <!channel> Horizon-Free Regret <@U123>",
        suggested=True,
    )
    return Digest(KEY, date(2026, 12, 2), (matched, plain, suggested))


def test_slack_shows_the_section_and_the_reasons_escaped() -> None:
    d = digest()
    header = blocks.header_message(d).payload()
    assert_within_limits(header)
    text = json.dumps(header, ensure_ascii=False)
    assert text.index("Pruning LLMs") < text.index(ALSO_WORTH) < text.index("Regret Bounds")
    ranked = json.dumps(blocks.item_message(d.items[0]).payload(), ensure_ascii=False)
    assert RANKED_UP in ranked and ALSO_WORTH not in ranked
    message = blocks.item_message(d.items[2]).payload()
    assert_within_limits(message)
    shown = json.dumps(message, ensure_ascii=False)
    assert ALSO_WORTH in shown and "close to: &lt;!channel&gt; Horizon-Free Regret" in shown
    assert "<!channel>" not in shown and "<@U123>" not in shown


def test_discord_shows_the_section_and_the_reasons() -> None:
    d = digest()
    header = embeds.header_message(d)
    assert violations(as_payload(header)) == []
    contents = header.embeds[0].description or ""
    assert contents.index("2. [Pruning LLMs]") < contents.index(ALSO_WORTH)
    assert contents.index(ALSO_WORTH) < contents.index("3. [Regret Bounds")
    item = embeds.item_message(d.items[2])
    assert violations(as_payload(item)) == []
    fields = {f.name: f.value for f in item.embeds[0].fields}
    assert fields[ALSO_WORTH].startswith("close to: ")
    assert "Horizon-Free Regret" in embed_text(item.embeds[0])
    ranked = {f.name: f.value for f in embeds.item_message(d.items[0]).embeds[0].fields}
    assert ranked["Taste"] == RANKED_UP


async def test_console_opens_the_section_before_the_first_suggestion() -> None:
    out = io.StringIO()
    poster = ConsolePoster(Console(file=out, width=100, color_system=None))
    d = digest()
    for item in d.items:
        await poster.post_item(KEY, d, item, None)
    text = out.getvalue()
    assert text.count(ALSO_WORTH) == 1
    assert text.index("Pruning LLMs") < text.index(ALSO_WORTH) < text.index("Regret Bounds")
    assert RANKED_UP in text and "close to: <!channel> Horizon-Free Regret" in text
