"""Digests and replies as Discord messages: the wording, and the limits whatever the input."""

from __future__ import annotations

from datetime import UTC, date, datetime

from discord_limits import as_payload, embed_text, violations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperbot.adapters.discord.embeds import (
    VoteEmoji,
    header_message,
    item_message,
    reply_message,
    thread_name,
)
from paperbot.adapters.discord.markdown import fit
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

KEY = ChannelKey("discord", "1161092364598304849", "1161092365244223519")
DAY = date(2026, 11, 20)


def paper(**fields: object) -> Paper:
    fields.setdefault("arxiv_id", "2611.01234")
    return make_paper(**fields)  # type: ignore[arg-type]


def extreme_paper(n: int) -> Paper:
    """Everything at once: huge, markdown-laden, emoji-filled, link-breaking."""
    return make_paper(
        title=f"{n} **Bold** _claims_ `code` ~~gone~~ ||spoiler|| [link](x) @everyone 🚀🔥 " * 40,
        abstract="x" * 30_000,  # no sentence end at all
        authors=tuple(f"Author {i} " + "Ünïcødé-Nåme " * 20 for i in range(3000)),
        categories=tuple(f"cs.{c}" for c in ("LG", "CL", "CV", "AI", "RO", "NE")),
        github_repo="https://github.com/" + "a" * 900,
        project_page="https://example.org/page_(with)_parens",
        upvotes=10**9,
        github_stars=10**7,
        ai_summary=None,
        published_at=datetime(2026, 11, 19, 17, 0),
        sources=("arxiv", "hf"),
    )


def extreme_item(n: int) -> DigestItem:
    reasons = tuple(
        MatchReason(f'"{"very long query " * 6}{i}" AND NOT survey', MatchField.ABSTRACT)
        for i in range(50)
    )
    return DigestItem(extreme_paper(n), reasons=reasons, score=1.0, team_votes=-12)


def test_a_paper_message_says_what_every_platform_says() -> None:
    item = DigestItem(
        paper(
            title="Diffusion Transformers at Scale",
            abstract="We scale image models. They get better. A third sentence.",
            authors=("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"),
            categories=("cs.CV", "cs.LG"),
            upvotes=42,
            github_repo="https://github.com/org/dit",
            sources=("arxiv", "hf"),
        ),
        reasons=(MatchReason("diffusion", MatchField.TITLE),),
        team_votes=3,
    )
    rendered = item_message(item, VoteEmoji("⬆️", "⬇️"))
    assert rendered.content is None and len(rendered.embeds) == 1
    embed = rendered.embeds[0].to_dict()
    assert embed["title"] == "Diffusion Transformers at Scale"
    assert embed["url"] == "https://arxiv.org/abs/2611.01234"
    assert embed["author"]["name"] == "Ada Lovelace, Alan Turing, Grace Hopper et al."
    assert embed["description"] == "We scale image models. They get better."
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Links"] == (
        "[arXiv](https://arxiv.org/abs/2611.01234) · [PDF](https://arxiv.org/pdf/2611.01234) · "
        "[HF](https://huggingface.co/papers/2611.01234) · [Code](https://github.com/org/dit)"
    )
    assert fields["Stats"] == "▲ 42 on HF · team +3"
    assert fields["Why it's here"] == "matched: diffusion (title)"
    assert embed["footer"]["text"] == "arXiv:2611.01234 · cs.CV · cs.LG · react ⬆️ / ⬇️ to vote"
    assert violations(as_payload(rendered)) == []


def test_the_header_lists_the_day_and_says_what_is_missing() -> None:
    items = tuple(DigestItem(paper(arxiv_id=f"2611.0000{i}", title=f"Paper {i}")) for i in (1, 2))
    digest = Digest(KEY, DAY, items, missing_sources=("hf",), remaining=7)
    rendered = header_message(digest)
    assert rendered.content == "Paper digest for Fri 20 Nov 2026: 2 new papers"
    embed = rendered.embeds[0].to_dict()
    assert embed["title"] == "📄 Papers for Fri 20 Nov 2026"
    assert embed["description"] == (
        "1. [Paper 1](https://arxiv.org/abs/2611.00001)\n"
        "2. [Paper 2](https://arxiv.org/abs/2611.00002)"
    )
    text = embed_text(embed)
    assert "Not fetched this time hf" in text
    assert "+7 more matched: /papers more posts the next ones" in text
    assert "raise the size" not in text  # size 30 is the most, so that advice is not true
    assert "react 👍 / 👎 to vote" in embed["footer"]["text"]
    assert thread_name(digest) == "Papers · Fri 20 Nov 2026"


def test_markdown_in_paper_text_is_shown_not_interpreted() -> None:
    item = DigestItem(paper(title="**Not bold** and _not italic_ and ||no spoiler||"))
    title = item_message(item).embeds[0].title
    assert title == r"\*\*Not bold\*\* and \_not italic\_ and \|\|no spoiler\|\|"


def test_links_that_would_break_markdown_are_left_out() -> None:
    item = DigestItem(
        paper(github_repo="javascript:alert(1)", project_page="https://e.org/a) [x](https://evil")
    )
    links = {f.name: f.value for f in item_message(item).embeds[0].fields}["Links"]
    assert "javascript" not in links and "evil" not in links
    assert links.startswith("[arXiv](https://arxiv.org/abs/2611.01234)")


def test_extreme_papers_stay_within_every_limit() -> None:
    items = tuple(extreme_item(n) for n in range(30))
    digest = Digest(KEY, DAY, items, missing_sources=("hf " * 600,), remaining=10**6)
    assert violations(as_payload(header_message(digest))) == []
    header = header_message(digest).embeds[0].description or ""
    assert header.endswith("more")  # the table of contents says what it left out
    for item in items:
        rendered = item_message(item)
        assert violations(as_payload(rendered)) == []
        assert rendered.embeds[0].url == item.paper.abs_url  # the link survives any cut
    search = Reply("Top 30 for x" * 500, title="Search results " * 50, items=items)
    assert violations(as_payload(reply_message(search))) == []


def test_replies_are_content_embeds_or_papers() -> None:
    error = reply_message(Reply.error("this channel does not follow *diffusion*"))
    assert error.content == r"⚠️ this channel does not follow \*diffusion\*" and not error.embeds
    short = reply_message(
        Reply(
            "<@283704385210257409> subscribed",
            Visibility.IN_CHANNEL,
            mention="283704385210257409",
        )
    )
    assert short.content == "<@283704385210257409> subscribed" and not short.embeds
    titled = reply_message(Reply("timezone UTC · hour 9:00", title="Channel settings"))
    assert titled.content is None and titled.embeds[0].title == "Channel settings"
    help_ = reply_message(Reply(HELP, title="paperbot commands"), monospace=True)
    assert help_.embeds[0].description == f"```\n{HELP}\n```"


def test_a_long_list_is_split_over_embeds_and_nothing_is_lost() -> None:
    queries = [f'"query number {n:02d} ' + "x" * 80 + '"' for n in range(50)]
    text = "\n".join(f"#{n}  {q}" for n, q in enumerate(queries, start=1))
    rendered = reply_message(Reply(text, title="This channel follows 50:"))
    assert len(rendered.embeds) > 1 and violations(as_payload(rendered)) == []
    shown = "\n".join(e.description or "" for e in rendered.embeds)
    assert all(f"query number {n:02d}" in shown for n in range(50))


def test_more_than_ten_papers_in_a_reply_are_counted() -> None:
    items = tuple(DigestItem(paper(arxiv_id=f"2611.{n:05d}", title=f"P{n}")) for n in range(12))
    rendered = reply_message(Reply("Top 12 for x", title="Search results", items=items))
    assert len(rendered.embeds) == 10
    assert rendered.content == "**Search results** · Top 12 for x (+2 more)"
    assert rendered.embeds[0].title == "1. P0"


def test_fit_never_exceeds_its_limit_after_escaping() -> None:
    for limit in (0, 1, 2, 5, 256):
        assert len(fit("*_" * 1000, limit)) <= limit


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=3000)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=texts,
    abstract=st.text(max_size=12_000),
    authors=st.lists(st.text(max_size=400), max_size=300),
    queries=st.lists(st.text(min_size=1, max_size=100), max_size=50),
    remaining=st.integers(min_value=0, max_value=10**12),
)
def test_any_paper_renders_within_the_limits(
    title: str, abstract: str, authors: list[str], queries: list[str], remaining: int
) -> None:
    published = datetime(2026, 1, 1, tzinfo=UTC)
    item = DigestItem(
        paper(title=title, abstract=abstract, authors=tuple(authors), published_at=published),
        reasons=tuple(MatchReason(q, MatchField.TITLE) for q in queries),
    )
    digest = Digest(KEY, DAY, (item,) * 30, missing_sources=tuple(queries), remaining=remaining)
    for rendered in (
        item_message(item),
        header_message(digest),
        reply_message(Reply(abstract, title=title or None, items=(item,) * 12)),
        reply_message(Reply(abstract, title=title or None)),
        reply_message(Reply.error(abstract)),
    ):
        assert violations(as_payload(rendered)) == []
