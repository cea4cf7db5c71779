"""Block Kit rendering: every message inside Slack's limits and escaped, whatever a paper says."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_limits import assert_within_limits, texts, u16

from paperbot.adapters.slack.blocks import (
    escape,
    fit,
    header_message,
    item_message,
    reply_message,
    safe_url,
)
from paperbot.commands import HELP
from paperbot.models import (
    ChannelKey,
    Digest,
    DigestItem,
    MatchField,
    MatchReason,
    Paper,
    Reply,
    Visibility,
)
from paperbot.testing import make_paper

KEY = ChannelKey("slack", "T0PAPERS1", "C0RESEARCH")
DAY = date(2026, 11, 20)


def extreme_paper(n: int = 0) -> Paper:
    """Everything as long and as hostile as a real feed could make it."""
    return make_paper(
        title=("Attention <is> All & You Need 🚀🤖 " * 200)[:5000] + f" #{n}",
        abstract=("We show <script>alert(1)</script> & more. " * 500),
        authors=tuple(f"Author{i} <{'X' * 300}> & Co 🎓" for i in range(2000)),
        categories=("cs.LG", "cs.CL", "cs.CV", "stat.ML"),
        upvotes=123_456,
        github_repo="https://github.com/org/repo?a=1&b=<2>|x y",
        github_stars=98_765,
        project_page="javascript:alert(1)",
        ai_summary="😀" * 3000,
        sources=("hf", "arxiv"),
    )


def extreme_item(n: int = 0) -> DigestItem:
    reasons = tuple(MatchReason(f"q{i} <&> " + "w" * 90, MatchField.TITLE) for i in range(50))
    return DigestItem(extreme_paper(n), reasons=reasons, score=9.5, team_votes=-3)


def test_an_extreme_paper_stays_inside_every_limit() -> None:
    message = item_message(extreme_item())
    assert_within_limits(message.payload())
    section = message.blocks[0]["text"]["text"]
    assert section.startswith("*<https://arxiv.org/abs/")
    assert "&lt;is&gt; All &amp; You Need 🚀🤖" in section
    assert "et al." in section  # 2000 authors shortened
    assert any("React 👍 / 👎 to vote" in text for _, text in texts(message.blocks))


def test_links_escape_urls_and_drop_unsafe_schemes() -> None:
    message = item_message(extreme_item())
    links = message.blocks[-2]["elements"][0]["text"]
    assert "<https://arxiv.org/pdf/" in links and "|PDF>" in links
    assert "<https://huggingface.co/papers/" in links
    assert "<https://github.com/org/repo?a=1&amp;b=%3C2%3E%7Cx%20y|Code>" in links
    assert "javascript" not in links and "Project" in links  # shown, not linked
    assert safe_url("ftp://example.org") is None


def test_a_plain_paper_reads_well() -> None:
    paper = make_paper(
        "Diffusion Transformers at Scale",
        "We scale image models. They get better. Much better.",
        authors=("Ada Lovelace", "Alan Turing"),
        categories=("cs.CV",),
        upvotes=42,
        sources=("hf",),
    )
    item = DigestItem(paper, reasons=(MatchReason("diffusion", MatchField.TITLE),), team_votes=2)
    message = item_message(item)
    assert_within_limits(message.payload())
    heading, abstract = (block["text"]["text"] for block in message.blocks[:2])
    assert heading == (
        f"*<https://arxiv.org/abs/{paper.arxiv_id}|Diffusion Transformers at Scale>*\n"
        "Ada Lovelace, Alan Turing · cs.CV"
    )
    assert abstract == "We show things." or abstract.startswith("We scale image models.")
    context = [e["text"] for e in message.blocks[2]["elements"]]
    assert context[1] == "▲ 42 on HF · team +2"
    assert context[2] == "matched: diffusion (title)"
    assert message.text == f"Diffusion Transformers at Scale ({paper.arxiv_id})"


def test_the_header_lists_the_day_and_what_is_missing() -> None:
    items = tuple(extreme_item(n) for n in range(30))
    digest = Digest(KEY, DAY, items, missing_sources=("hf", "arxiv <rss>"), remaining=12)
    message = header_message(digest)
    assert_within_limits(message.payload())
    assert message.blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "Paper digest for Fri 20 Nov 2026: 30 new papers",
            "emoji": True,
        },
    }
    notes = [e["text"] for e in message.blocks[1]["elements"]]
    assert notes[0] == "⚠️ not fetched this time: hf, arxiv &lt;rss&gt;"
    assert notes[1].startswith("+12 more matched")
    listed = "\n".join(block["text"]["text"] for block in message.blocks[2:])
    assert listed.count("• <https://arxiv.org/abs/") + listed.count("lines not shown") >= 1


def test_replies_keep_mentions_and_escape_the_rest() -> None:
    reply = Reply(
        text="<@U0ALICE01> subscribed this channel to a <b> & c.",
        visibility=Visibility.IN_CHANNEL,
        mention="U0ALICE01",
    )
    message = reply_message(reply)
    assert_within_limits(message.payload())
    assert message.blocks == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "<@U0ALICE01> subscribed this channel to a &lt;b&gt; &amp; c.",
            },
        }
    ]
    assert message.text == "<@U0ALICE01> subscribed this channel to a &lt;b&gt; &amp; c."


def test_help_is_a_monospace_table() -> None:
    message = reply_message(Reply(text=HELP, title="paperbot commands"))
    assert_within_limits(message.payload())
    assert message.blocks[0]["type"] == "header"
    body = message.blocks[1]["text"]["text"]
    assert body.startswith("```\n/papers subscribe &lt;query&gt;") and body.endswith("\n```")


def test_errors_are_one_warning_line() -> None:
    message = reply_message(Reply.error("unknown command 'frob'; try /papers help"))
    assert message.blocks == [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "⚠️ unknown command 'frob'; try /papers help"},
        }
    ]


def test_long_lists_split_into_sections_and_results_stay_inside_limits() -> None:
    lines = "\n".join(f"#{n}  {'&' * 100}" for n in range(1, 51))
    listing = reply_message(Reply(text=lines, title="This channel follows 50:"))
    assert_within_limits(listing.payload())
    assert len(listing.blocks) >= 3  # 50 lines of 500 escaped chars need several sections
    results = reply_message(
        Reply(
            text="Top 10 for <x>",
            title="Search results",
            items=tuple(extreme_item(n) for n in range(10)),
        )
    )
    assert_within_limits(results.payload())
    assert len(results.blocks) >= 4


def test_fit_never_breaks_an_entity_and_counts_emoji_twice() -> None:
    assert fit("a & b", 5) == "a…"
    assert escape("<&>") == "&lt;&amp;&gt;"
    assert u16(fit("😀" * 100, 51)) <= 51
    for limit in range(1, 40):
        cut = fit("x&y<z>" * 10, limit)
        assert u16(cut) <= limit
        assert cut.count("&") == cut.count(";")


text_strategy = st.lists(
    st.sampled_from([*"ab <>&|*_~`\n\t😀🧪é漢\u200b", "&amp;", "<@U0ALICE01>", "https://x.org/a"]),
    max_size=2000,
).map("".join)


@settings(max_examples=60, deadline=None)
@given(
    title=text_strategy,
    abstract=text_strategy,
    authors=st.lists(text_strategy, max_size=30),
    query=text_strategy,
)
def test_any_text_renders_inside_the_limits(
    title: str, abstract: str, authors: list[str], query: str
) -> None:
    paper = make_paper(title, abstract, authors=tuple(authors))
    item = DigestItem(paper, reasons=(MatchReason(query or "q", MatchField.ABSTRACT),))
    assert_within_limits(item_message(item).payload())
    assert_within_limits(header_message(Digest(KEY, DAY, (item,) * 30)).payload())
    assert_within_limits(
        reply_message(Reply(text=query or "x", title=title or None, items=(item,) * 10)).payload()
    )
