"""Digests and replies as Discord messages: pure functions from core objects to content + embeds.

Discord refuses a whole message when any one limit is exceeded, and paper metadata is
arbitrary (book-length abstracts, thousand-author collaborations, markdown characters in
titles), so every text passes through `fit` (markdown.py) and every message through
`_within_limits` (limits.py): the result is valid whatever the input. The wording comes from
`paperbot.presentation`, so Discord says what Slack and the console say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import discord

from paperbot.adapters.discord.limits import (
    AUTHOR_LIMIT,
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_LIMIT,
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    THREAD_NAME_LIMIT,
    TITLE_LIMIT,
    TOTAL_LIMIT,
    clip,
    present,
    within_total,
)
from paperbot.adapters.discord.markdown import escape_markdown, fit, highlighted, inert
from paperbot.models import Digest, DigestItem, Paper, Reply
from paperbot.presentation import (
    ALSO_WORTH,
    item_summary,
    links,
    short_authors,
    stats,
    summary,
    truncate,
    why,
)

PAPER_COLOUR = discord.Colour(0xB31B1B)  # arXiv red: a paper post is recognisable at a glance
HEADER_COLOUR = discord.Colour(0x5865F2)
REPLY_COLOUR = discord.Colour(0x4F545C)

_HEADER_TITLE_CHARS = 120  # per line of the header's table of contents
_SAFE_URL = re.compile(r"^https?://[^\s<>()\[\]]{1,500}$")


@dataclass(frozen=True, slots=True)
class VoteEmoji:
    """The reactions a footer invites; the first configured up- and down-vote emoji."""

    up: str = "👍"
    down: str = "👎"

    @property
    def hint(self) -> str:
        return f"react {self.up} / {self.down} to vote"


@dataclass(slots=True)
class Rendered:
    """One Discord message: what goes into `send(content=..., embeds=...)`."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    files: list[discord.File] = field(default_factory=list)  # a reply's attachment


def arxiv_url(arxiv_id: str) -> str:
    """The URL a paper's embed links to; `find_posted` recognises our posts by it."""
    return f"https://arxiv.org/abs/{arxiv_id}"


def thread_name(digest: Digest) -> str:
    return truncate(f"Papers · {digest.day:%a %d %b %Y}", THREAD_NAME_LIMIT)


# --- digests ------------------------------------------------------------------------------


def header_message(digest: Digest, votes: VoteEmoji | None = None) -> Rendered:
    """The day's header: headline, a linked table of contents, what is missing or left out."""
    votes = votes or VoteEmoji()
    embed = discord.Embed(
        title=fit(f"📄 Papers for {digest.day:%a %d %b %Y}", TITLE_LIMIT),
        colour=HEADER_COLOUR,
        description=_contents(digest.items),
    )
    if digest.missing_sources:
        embed.add_field(
            name="⚠ Not fetched this time",
            value=fit(", ".join(digest.missing_sources), FIELD_VALUE_LIMIT),
            inline=False,
        )
    if digest.remaining:
        embed.add_field(
            name=f"+{digest.remaining} more",
            value=f"+{digest.remaining} more matched: /papers more posts the next ones",
            inline=False,
        )
    embed.set_footer(text=f"{votes.hint} on a paper · /papers help{header_tag(digest)}")
    return _within_limits(Rendered(fit(digest.headline, CONTENT_LIMIT, escape=False), [embed]))


HEADER_TAG = " · digest "


def header_tag(digest: Digest) -> str:
    """The footer's last words name the digest's record: Discord's history does not return
    nonces, so this is how a header posted just before a crash is found again."""
    return f"{HEADER_TAG}{digest.ref}" if digest.ref else ""


def _contents(items: tuple[DigestItem, ...]) -> str | None:
    """Numbered, linked titles, as many as fit; the rest are counted."""
    lines: list[str] = []
    used = 0
    for number, item in enumerate(items, start=1):
        line = f"{number}. [{fit(item.paper.title, _HEADER_TITLE_CHARS)}]({item.paper.abs_url})"
        if item.suggested and (number == 1 or not items[number - 2].suggested):
            line = f"**{ALSO_WORTH}**\n{line}"
        more = f"…and {len(items) - number + 1} more"
        if used + len(line) + 1 + len(more) > DESCRIPTION_LIMIT:
            lines.append(more)
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines) or None


def item_message(item: DigestItem, votes: VoteEmoji | None = None) -> Rendered:
    """One paper, one message: a reaction on it names exactly this paper."""
    votes = votes or VoteEmoji()
    paper = item.paper
    embed = _paper_embed(paper, description=fit(item_summary(item), DESCRIPTION_LIMIT))
    link_line = _links(paper)
    if link_line:
        embed.add_field(name="Links", value=link_line, inline=False)
    numbers = stats(item)
    if numbers:
        embed.add_field(name="Stats", value=fit(numbers, FIELD_VALUE_LIMIT), inline=True)
    reason = inert(why(item.reasons))  # names subscriptions, which users typed
    if reason:
        embed.add_field(name="Why it's here", value=fit(reason, FIELD_VALUE_LIMIT), inline=False)
    if item.note:
        label = ALSO_WORTH if item.suggested else "Taste"
        embed.add_field(name=label, value=fit(item.note, FIELD_VALUE_LIMIT), inline=False)
    embed.set_footer(text=fit(_footer(paper, votes.hint), FOOTER_LIMIT, escape=False))
    return _within_limits(Rendered(None, [embed]))


def _paper_embed(paper: Paper, description: str | None, title: str | None = None) -> discord.Embed:
    embed = discord.Embed(
        title=title if title is not None else fit(paper.title or paper.arxiv_id, TITLE_LIMIT),
        url=paper.abs_url,
        description=description or None,
        colour=PAPER_COLOUR,
        timestamp=_aware(paper.published_at),
    )
    authors = short_authors(paper.authors)
    if authors:
        embed.set_author(name=truncate(authors, AUTHOR_LIMIT))
    return embed


def _footer(paper: Paper, hint: str) -> str:
    parts = [paper.label, *paper.categories[:3], hint]
    return " · ".join(parts)


def _links(paper: Paper) -> str:
    """Masked links for the URLs that are safe to put in markdown; the rest are left out."""
    parts = [f"[{label}]({url})" for label, url in links(paper) if _SAFE_URL.match(url)]
    while parts and len(" · ".join(parts)) > FIELD_VALUE_LIMIT:
        parts.pop()
    return " · ".join(parts)


def _aware(moment: datetime | None) -> datetime | None:
    """discord.py would take a naive datetime as local time; the core's are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


# --- replies ------------------------------------------------------------------------------


def reply_message(reply: Reply, monospace: bool = False) -> Rendered:
    """A command's answer: short text as content, longer or titled text in embeds, papers as
    one compact embed each (at most ten, the count of the rest in the content)."""
    text = inert(reply.text, reply.mention)
    if reply.title is not None:
        reply = replace(reply, title=inert(reply.title))
    if reply.is_error:
        return _within_limits(Rendered(fit(f"⚠️ {inert(reply.text)}", CONTENT_LIMIT)))
    if reply.items:
        return _with_items(replace(reply, text=text))
    if monospace:
        text = truncate(text.replace("```", "ʼʼʼ"), DESCRIPTION_LIMIT - 8)
        return _within_limits(Rendered(None, [_text_embed(reply.title, f"```\n{text}\n```")]))
    if reply.title is None and len(text) <= CONTENT_LIMIT // 2:
        return _within_limits(Rendered(fit(text, CONTENT_LIMIT)))
    return _within_limits(Rendered(None, _text_embeds(reply.title, fit(text, TOTAL_LIMIT))))


def _text_embed(title: str | None, description: str) -> discord.Embed:
    return discord.Embed(
        title=fit(title, TITLE_LIMIT) if title else None,
        description=description or None,
        colour=REPLY_COLOUR,
    )


def _text_embeds(title: str | None, text: str) -> list[discord.Embed]:
    """Long text split at line ends over as many embeds as it needs (a 50-query list)."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > DESCRIPTION_LIMIT:
            chunks.append(line[:DESCRIPTION_LIMIT])
            line = line[DESCRIPTION_LIMIT:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > DESCRIPTION_LIMIT:
            chunks.append(current)
            candidate = line
        current = candidate
    chunks.append(current)
    embeds = [_text_embed(title if n == 0 else None, chunk) for n, chunk in enumerate(chunks)]
    return embeds[:EMBED_LIMIT]


def _with_items(reply: Reply) -> Rendered:
    shown = reply.items[:EMBED_LIMIT]
    heading = f"**{fit(reply.title, TITLE_LIMIT)}** · " if reply.title else ""
    content = heading + escape_markdown(reply.text)
    if len(reply.items) > len(shown):
        content += f" (+{len(reply.items) - len(shown)} more)"
    embeds = [_compact(number, item) for number, item in enumerate(shown, start=1)]
    return _within_limits(Rendered(fit(content, CONTENT_LIMIT, escape=False), embeds))


def _compact(number: int, item: DigestItem) -> discord.Embed:
    paper = item.paper
    prefix = f"{number}. "
    title = prefix + fit(paper.title or paper.arxiv_id, TITLE_LIMIT - len(prefix))
    description = highlighted(item.highlight) or fit(summary(paper, 240), DESCRIPTION_LIMIT)
    embed = _paper_embed(paper, description, title=title)
    footer = " · ".join(part for part in (paper.label, stats(item)) if part)
    embed.set_footer(text=truncate(footer, FOOTER_LIMIT))
    return embed


# --- limits -------------------------------------------------------------------------------


def _within_limits(rendered: Rendered) -> Rendered:
    """Last line of defence: whatever was built, the message Discord gets is valid (Discord
    also refuses empty or blank texts where a text is given)."""
    rendered.content = present(truncate(rendered.content or "", CONTENT_LIMIT))
    rendered.embeds = rendered.embeds[:EMBED_LIMIT]
    for embed in rendered.embeds:
        clip(embed)
    within_total(rendered.embeds)
    if rendered.content is None and not rendered.embeds:
        rendered.content = "…"
    return rendered
