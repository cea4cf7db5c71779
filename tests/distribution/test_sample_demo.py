"""The demo is honest: a bundled sample paper's synthetic id never becomes a link, on any
platform, and every digest of sample papers says it is one."""

from __future__ import annotations

import io
import json
import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

from rich.console import Console

from paperbot.adapters.console import render_header, render_item
from paperbot.adapters.discord import embeds
from paperbot.adapters.slack import blocks
from paperbot.models import ChannelKey, Digest, DigestItem, MatchField, MatchReason
from paperbot.sources.sample import sample_papers
from paperbot.testing import make_paper

_URL = re.compile(r"https?://[^\s<>|\")\]]+")
KEY = ChannelKey("console", "local", "terminal")


def _urls(text: str) -> list[str]:
    return _URL.findall(text)


def _assert_only_title_searches(urls: list[str], title: str) -> None:
    assert urls, "a sample paper still gets a link, to a search for its title"
    for url in urls:
        parts = urlsplit(url)
        assert (parts.netloc, parts.path) == ("arxiv.org", "/search/"), url
        assert parse_qs(parts.query) == {"query": [title], "searchtype": ["title"]}, url


def _console_text(*renderables: object) -> str:
    out = io.StringIO()
    console = Console(file=out, width=400, color_system=None, force_terminal=False)
    for renderable in renderables:
        console.print(renderable)
    return out.getvalue()


def test_no_sample_paper_links_to_an_id_on_any_platform() -> None:
    papers = sample_papers()
    assert len(papers) > 300
    for paper in papers:
        item = DigestItem(paper, (MatchReason("diffusion", MatchField.TITLE),))
        slack = json.dumps(blocks.item_message(item).blocks)
        discord_message = embeds.item_message(item)
        discord_text = json.dumps([e.to_dict() for e in discord_message.embeds])
        console = _console_text(render_item(item, "m1"))
        for rendered in (slack, discord_text, console):
            assert paper.arxiv_id not in " ".join(_urls(rendered))
            assert "arxiv.org/abs" not in rendered and "arxiv.org/pdf" not in rendered
        # Slack escapes "&" in mrkdwn as "&amp;" (and unescapes it when showing the link).
        _assert_only_title_searches(_urls(slack.replace("&amp;", "&")), paper.title)
        _assert_only_title_searches(
            [e["url"] for e in json.loads(discord_text) if "url" in e], paper.title
        )
        assert f"sample:{paper.arxiv_id}" in console and f"arXiv:{paper.arxiv_id}" not in console


def test_sample_digest_header_says_it_is_sample_data_everywhere() -> None:
    items = tuple(DigestItem(p) for p in sample_papers()[:3])
    digest = Digest(KEY, date(2026, 12, 1), items)
    assert digest.headline.startswith("Sample paper digest")
    assert "demo data" in digest.headline
    slack_header = blocks.header_message(digest)
    assert "Sample paper digest" in slack_header.blocks[0]["text"]["text"]
    assert "arxiv.org/abs" not in json.dumps(slack_header.blocks)
    discord_header = embeds.header_message(digest)
    assert "Sample paper digest" in (discord_header.content or "")
    assert "arxiv.org/abs" not in json.dumps([e.to_dict() for e in discord_header.embeds])
    assert "Sample paper digest" in _console_text(render_header(digest))


def test_real_papers_keep_their_arxiv_links_and_plain_header() -> None:
    paper = make_paper("Real Paper", arxiv_id="2401.12345", sources=("arxiv",))
    assert paper.abs_url == "https://arxiv.org/abs/2401.12345"
    digest = Digest(KEY, date(2026, 12, 1), (DigestItem(paper),))
    assert digest.headline.startswith("Paper digest for")
    assert "https://arxiv.org/abs/2401.12345" in json.dumps(
        blocks.item_message(DigestItem(paper)).blocks
    )
    assert embeds.item_message(DigestItem(paper)).embeds[0].url == paper.abs_url
