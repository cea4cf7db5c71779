"""Draw the README's digest pictures from the real renderers' output.

    pip install -e ".[docs]"          # Pillow; DejaVu and Noto Color Emoji fonts if available
    python scripts/render_digest_pictures.py   # docs/digest-slack.png, docs/digest-discord.png

The digest is made the way the bot makes one: recorded Hugging Face and arXiv responses (from
tests/fixtures) go through the real sources, store, matching and ranking, and the Digest is
rendered by the Slack adapter's `blocks.py` and the Discord adapter's `embeds.py`. This script
only paints those Block Kit blocks and embeds the way each client shows them; it decides none of
the words, so the pictures change when the renderers do.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from picture_canvas import Canvas, Span, Style

from paperbot.adapters.discord import embeds
from paperbot.adapters.slack import blocks
from paperbot.models import ChannelKey, Digest
from paperbot.ports import PaperSource
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.settings import Settings
from paperbot.sources.arxiv import ArxivSource
from paperbot.sources.hf_daily import HFDailySource
from paperbot.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
DAY = date(2025, 10, 14)  # the day the recorded arXiv feed announces
NOW = datetime(2025, 10, 14, 9, 0, tzinfo=UTC)
SUBSCRIPTIONS = ("diffusion", '"language models"', "optimization")
CHANNEL = "ml-papers"
SHOWN_PAPERS = 3


# --- the digest, made by the real core --------------------------------------------------------


def _recorded(request: httpx.Request) -> httpx.Response:
    if request.url.host == "huggingface.co":
        return httpx.Response(200, content=(FIXTURES / "hf_daily_2024-06-21.json").read_bytes())
    feed = (FIXTURES / "arxiv_rss_2025-10-14.xml").read_bytes()
    return httpx.Response(200, content=feed, headers={"content-type": "application/atom+xml"})


async def sample_digest(platform: str) -> Digest:
    """Ingest the recorded responses into a fresh database and build a channel's digest."""
    settings = Settings()
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{folder}/pictures.sqlite", clock=lambda: NOW)
        index = SearchIndex.open(None)
        transport = httpx.MockTransport(_recorded)
        async with httpx.AsyncClient(transport=transport) as client:
            sources: list[PaperSource] = [
                HFDailySource(client, settings.sources),
                ArxivSource(client, settings.sources),
            ]
            bot = Paperbot(store, index, sources, clock=lambda: NOW)
            key = ChannelKey(platform, "T0PAPERS1", "C0MLPAPERS")
            for query in SUBSCRIPTIONS:
                await bot.subscribe(key, query, "U0ALICE")
            await bot.ingest_day(DAY)
            digest = await bot.build_digest(key, NOW)
        index.close()
        store.close()
    return digest


# --- markup to styled spans ---------------------------------------------------------------------

_SLACK = re.compile(
    r"<(?P<url>[^>|]+)\|(?P<label>[^>]+)>|<(?P<bare>[^>]+)>"
    r"|(?<!\w)\*(?P<bold>[^*\n]+)\*(?!\w)|(?<!\w)_(?P<italic>[^_\n]+)_(?!\w)|`(?P<code>[^`\n]+)`"
)
_DISCORD = re.compile(
    r"\\(?P<escaped>.)|\*\*(?P<bold>.+?)\*\*|\[(?P<label>(?:\\.|[^\]\\])+)\]\((?P<url>[^)\s]+)\)"
    r"|`(?P<code>[^`\n]+)`|(?<![\w*])\*(?P<italic>[^*\n]+)\*(?!\w)|(?<!\w)_(?P<under>[^_\n]+)_(?!\w)"
)


def _unescape_slack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slack_spans(text: str, style: Style, link: str) -> list[Span]:
    """Slack mrkdwn: *bold*, _italic_, `code`, <url|label> links, &-escapes."""
    spans: list[Span] = []
    done = 0
    for found in _SLACK.finditer(text):
        spans.append((_unescape_slack(text[done : found.start()]), style))
        done = found.end()
        if found["label"] is not None:
            spans += slack_spans(found["label"], style.but(colour=link), link)
        elif found["bare"] is not None:
            spans.append((_unescape_slack(found["bare"]), style.but(colour=link)))
        elif found["bold"] is not None:
            spans += slack_spans(found["bold"], style.but(bold=True), link)
        elif found["italic"] is not None:
            spans += slack_spans(found["italic"], style.but(italic=True), link)
        else:
            code = style.but(
                mono=True, size=style.size * 0.9, background="#f0f0f0", colour="#c01343"
            )
            spans.append((_unescape_slack(found["code"]), code))
    spans.append((_unescape_slack(text[done:]), style))
    return [span for span in spans if span[0]]


def discord_spans(text: str, style: Style, link: str) -> list[Span]:
    """Discord markdown: **bold**, *italic*, _italic_, `code`, [label](url), backslash escapes."""
    spans: list[Span] = []
    done = 0
    for found in _DISCORD.finditer(text):
        spans.append((text[done : found.start()], style))
        done = found.end()
        if found["escaped"] is not None:
            spans.append((found["escaped"], style))
        elif found["bold"] is not None:
            spans += discord_spans(found["bold"], style.but(bold=True), link)
        elif found["label"] is not None:
            spans += discord_spans(found["label"], style.but(colour=link), link)
        elif found["code"] is not None:
            spans.append((found["code"], style.but(mono=True, background="#1e1f22")))
        else:
            inner = found["italic"] if found["italic"] is not None else found["under"]
            spans += discord_spans(inner, style.but(italic=True), link)
    spans.append((text[done:], style))
    return [span for span in spans if span[0]]


# --- Slack ---------------------------------------------------------------------------------------

SLACK_TEXT, SLACK_MUTED, SLACK_LINK = "#1d1c1d", "#616061", "#1264a3"


def slack_block(canvas: Canvas, block: dict[str, Any], x: float, y: float, width: float) -> float:
    """One Block Kit block as Slack's desktop client lays it out; returns its height."""
    kind = block["type"]
    base = Style(15, SLACK_TEXT)
    if kind == "header":
        spans: list[Span] = [(block["text"]["text"], Style(18, SLACK_TEXT, bold=True))]
        return canvas.text(spans, x, y + 4, width) + 8
    if kind == "section":
        return (
            canvas.text(slack_spans(block["text"]["text"], base, SLACK_LINK), x, y + 2, width) + 6
        )
    if kind == "context":
        small = Style(12.5, SLACK_MUTED)
        spans = []
        for number, element in enumerate(block["elements"]):
            spans += ([("   ", small)] if number else []) + slack_spans(
                element["text"], small, SLACK_LINK
            )
        return canvas.text(spans, x, y + 2, width) + 6
    if kind == "divider":
        canvas.line(x, y + 8, x + width, y + 8, "#dddddd")
        return 16
    raise ValueError(f"no drawing for Block Kit block {kind!r}")


def slack_message(canvas: Canvas, message: blocks.SlackMessage, y: float, width: float) -> float:
    canvas.rect(20, y + 4, 36, 36, "#b31b1b", radius=6)
    canvas.emoji("📄", 28, y + 12, 20)
    name = [("paperbot", Style(15, SLACK_TEXT, bold=True)), ("  ", Style(15, SLACK_TEXT))]
    canvas.text(name, 68, y, width)
    badge_x = 68 + canvas.measure("paperbot  ", Style(15, SLACK_TEXT, bold=True), False)
    canvas.rect(badge_x, y + 3, 30, 16, "#e8e8e8", radius=3)
    canvas.text([("APP", Style(10, SLACK_MUTED, bold=True))], badge_x + 5, y + 2, 30)
    canvas.text([("9:00 AM", Style(12, SLACK_MUTED))], badge_x + 38, y + 2, 100)
    cursor = y + 24
    for block in message.blocks:
        cursor += slack_block(canvas, block, 68, cursor, width - 68 - 24)
    return cursor - y + 14


def draw_slack(digest: Digest) -> Canvas:
    header = blocks.header_message(digest)
    papers = [blocks.item_message(item) for item in digest.items[:SHOWN_PAPERS]]
    canvas = Canvas(860, "#ffffff")
    width = canvas.width
    canvas.text([(f"# {CHANNEL}", Style(17, SLACK_TEXT, bold=True))], 20, 14, width)
    canvas.line(0, 52, width, 52, "#dddddd")
    y = 64 + slack_message(canvas, header, 64, width)
    replies = len(digest.items)
    canvas.rect(68, y - 10, 20, 20, "#b31b1b", radius=4)
    canvas.emoji("📄", 72, y - 6, 12)
    canvas.text(
        [
            (f"{replies} replies", Style(13, SLACK_LINK, bold=True)),
            ("   Last reply today at 9:00 AM", Style(13, SLACK_MUTED)),
        ],
        96,
        y - 11,
        width,
    )
    y += 24
    canvas.rect(0, y, width, 40, "#f8f8f8")
    canvas.text(
        [("Thread", Style(15, SLACK_TEXT, bold=True)), (f"   # {CHANNEL}", Style(13, SLACK_MUTED))],
        20,
        y + 9,
        width,
    )
    canvas.line(0, y + 40, width, y + 40, "#dddddd")
    y += 52
    for message in papers:
        y += slack_message(canvas, message, y, width)
    if replies > len(papers):
        canvas.text(
            [(f"… {replies - len(papers)} more papers in the thread", Style(13, SLACK_MUTED))],
            68,
            y,
            width,
        )
        y += 30
    canvas.bottom = y
    return canvas


# --- Discord -------------------------------------------------------------------------------------

DISCORD_BG, DISCORD_EMBED, DISCORD_TEXT = "#313338", "#2b2d31", "#dbdee1"
DISCORD_BRIGHT, DISCORD_MUTED, DISCORD_LINK = "#f2f3f5", "#949ba4", "#00a8fc"
EMBED_WIDTH = 520


def _field_rows(fields: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Inline fields share a row, three at most; others take a row each (as Discord does)."""
    row: list[dict[str, Any]] = []
    for field in fields:
        if not field.get("inline") or len(row) == 3:
            if row:
                yield row
            row = []
        if field.get("inline"):
            row.append(field)
        else:
            yield [field]
    if row:
        yield row


def discord_embed(canvas: Canvas, embed: dict[str, Any], x: float, y: float) -> float:
    inner_x, inner_w = x + 16, EMBED_WIDTH - 32
    text = Style(14, DISCORD_TEXT)

    # A measuring pass for the box's height, then the box, then the painting pass on top.
    def paint(draw: bool) -> float:
        cursor = y + 12
        if "author" in embed:
            cursor += (
                canvas.text(
                    [(embed["author"]["name"], Style(13.5, DISCORD_BRIGHT, bold=True))],
                    inner_x,
                    cursor,
                    inner_w,
                    paint=draw,
                )
                + 4
            )
        if embed.get("title"):
            colour = DISCORD_LINK if embed.get("url") else DISCORD_BRIGHT
            cursor += (
                canvas.text(
                    discord_spans(embed["title"], Style(15.5, colour, bold=True), DISCORD_LINK),
                    inner_x,
                    cursor,
                    inner_w,
                    paint=draw,
                )
                + 4
            )
        if embed.get("description"):
            cursor += (
                canvas.text(
                    discord_spans(embed["description"], text, DISCORD_LINK),
                    inner_x,
                    cursor,
                    inner_w,
                    paint=draw,
                )
                + 6
            )
        for row in _field_rows(embed.get("fields", [])):
            column = inner_w / len(row)
            heights = []
            for number, field in enumerate(row):
                fx = inner_x + number * column
                used = canvas.text(
                    [(field["name"], Style(13.5, DISCORD_BRIGHT, bold=True))],
                    fx,
                    cursor,
                    column - 8,
                    paint=draw,
                )
                used += canvas.text(
                    discord_spans(field["value"], text, DISCORD_LINK),
                    fx,
                    cursor + used,
                    column - 8,
                    paint=draw,
                )
                heights.append(used)
            cursor += max(heights) + 6
        footer = embed.get("footer", {}).get("text")
        if footer:
            stamp = embed.get("timestamp")
            when = f" • {datetime.fromisoformat(stamp):%d/%m/%Y}" if stamp else ""
            cursor += (
                canvas.text(
                    [(footer + when, Style(12, DISCORD_MUTED))],
                    inner_x,
                    cursor + 2,
                    inner_w,
                    paint=draw,
                )
                + 4
            )
        return cursor + 10 - y

    height = paint(False)
    colour = f"#{embed.get('color', 0x4F545C):06x}"
    canvas.rect(x, y, EMBED_WIDTH, height, DISCORD_EMBED, radius=4)
    canvas.rect(x, y, 4, height, colour, radius=2)
    paint(True)
    return height


def discord_message(canvas: Canvas, rendered: embeds.Rendered, y: float, reactions: bool) -> float:
    canvas.circle(16, y + 2, 40, "#b31b1b")
    canvas.emoji("📄", 26, y + 12, 20)
    name = Style(16, DISCORD_BRIGHT, bold=True)
    canvas.text([("paperbot", name)], 72, y, 300)
    badge_x = 72 + canvas.measure("paperbot ", name, False)
    canvas.rect(badge_x, y + 4, 30, 16, "#5865f2", radius=3)
    canvas.text([("APP", Style(10, "#ffffff", bold=True))], badge_x + 5, y + 3, 30)
    canvas.text([("Today at 9:00 AM", Style(12, DISCORD_MUTED))], badge_x + 38, y + 3, 200)
    cursor = y + 26
    if rendered.content:
        cursor += (
            canvas.text(
                discord_spans(rendered.content, Style(15.5, DISCORD_TEXT), DISCORD_LINK),
                72,
                cursor,
                canvas.width - 96,
            )
            + 4
        )
    for embed in rendered.embeds:
        cursor += discord_embed(canvas, dict(embed.to_dict()), 72, cursor + 4) + 8
    if reactions:  # the poster seeds one of each vote emoji (discord.seed_reactions)
        votes = embeds.VoteEmoji()
        for number, emoji in enumerate((votes.up, votes.down)):
            px = 72 + number * 58
            canvas.rect(px, cursor, 50, 26, "#2b2d31", radius=8, outline="#3f4147")
            canvas.emoji(emoji, px + 8, cursor + 5, 16)
            canvas.text([("1", Style(13, DISCORD_TEXT, bold=True))], px + 30, cursor + 3, 20)
        cursor += 32
    return cursor - y + 16


def draw_discord(digest: Digest) -> Canvas:
    canvas = Canvas(660, DISCORD_BG)
    canvas.text(
        [("# ", Style(18, DISCORD_MUTED)), (CHANNEL, Style(16, DISCORD_BRIGHT, bold=True))],
        16,
        14,
        600,
    )
    canvas.line(0, 50, canvas.width, 50, "#1f2023")
    y = 64 + discord_message(canvas, embeds.header_message(digest), 64, reactions=False)
    for item in digest.items[:SHOWN_PAPERS]:
        y += discord_message(canvas, embeds.item_message(item), y, reactions=True)
    canvas.bottom = y
    return canvas


# --- the command ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs")
    options = parser.parse_args(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    for platform, draw in (("slack", draw_slack), ("discord", draw_discord)):
        digest = asyncio.run(sample_digest(platform))
        canvas = draw(digest)
        path = options.out / f"digest-{platform}.png"
        canvas.crop().save(path, optimize=True)
        print(f"wrote {path} ({len(digest.items)} papers in the digest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
