"""Digests and replies as Discord messages: pure functions from core objects to content + embeds.

Discord refuses a whole message when any one limit is exceeded, and paper metadata is
arbitrary (book-length abstracts, thousand-author collaborations, markdown characters in
titles), so every text passes through `fit` and every message through `_within_total`: the
result is valid whatever the input. The wording comes from `paperbot.presentation`, so Discord
says what Slack and the console say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import discord

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

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
TOTAL_LIMIT = 6000
EMBED_LIMIT = 10
THREAD_NAME_LIMIT = 100
BLANK = "\u200b"  # what Discord accepts where a text is required but there is none

PAPER_COLOUR = discord.Colour(0xB31B1B)  # arXiv red: a paper post is recognisable at a glance
HEADER_COLOUR = discord.Colour(0x5865F2)
REPLY_COLOUR = discord.Colour(0x4F545C)

_HEADER_TITLE_CHARS = 120  # per line of the header's table of contents
_SAFE_URL = re.compile(r"^https?://[^\s<>()\[\]]{1,500}$")
# Markdown that would change how a paper's text looks; URLs are left whole so they stay links.
_URL = re.compile(r"<[^: >]+:/[^ >]+>|(?:https?|steam)://[^\s<]+[^<.,:;\"'\]\s]")
# What Discord would render live in text: <@id>, <@!id>, <@&id>, <#id>, </name:id>,
# @everyone, @here, and links (a scheme's "://", "<http", "www.").
_LIVE = re.compile(r"<[@#/]|@(?:everyone|here)|:/|\bwww\.")
_INLINE_MARKDOWN = re.compile(r"([\\*_~|`\[\]])")
# Headings, quotes, list items, and "-# " (Discord's small print) at the start of a line.
_LINE_MARKDOWN = re.compile(r"^(\s*)(?=(?:#{1,3}|>{1,3}|-#|[-+])\s)", re.MULTILINE)
_NUMBERED_LINE = re.compile(r"^(\s*\d+)\.(?=\s)", re.MULTILINE)
# What `_within_total` leaves of each part before it gives up a whole embed.
_KEEP_DESCRIPTION = 80
_KEEP_AUTHOR = 40
_KEEP_TITLE = 80


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


def escape_markdown(text: str) -> str:
    """Show markdown characters as typed. (discord.utils.escape_markdown leaves the middle of a
    text unescaped when it contains two `[..](..)`, which paper titles do.)"""
    parts: list[str] = []
    done = 0
    for url in _URL.finditer(text):
        parts.append(_escape_plain(text[done : url.start()]))
        parts.append(url.group())
        done = url.end()
    parts.append(_escape_plain(text[done:]))
    return "".join(parts)


def inert(text: str, mention: str = "") -> str:
    """Text that may hold what a user typed, shown as typed and never live: user, role and
    channel mentions, @everyone/@here, slash-command mentions and links are broken with an
    invisible zero-width space (allowed_mentions already stops pings; this stops the mention
    and the link from rendering). Only the mention the core put first (`mention`, the
    requester) stays as it is."""
    prefix = f"<@{mention}>"
    if mention and mention.isdigit() and text.startswith(prefix):
        return prefix + inert(text[len(prefix) :])
    return _LIVE.sub(lambda m: m.group()[0] + BLANK + m.group()[1:], text)


def _escape_plain(text: str) -> str:
    text = _INLINE_MARKDOWN.sub(r"\\\1", text)
    text = _LINE_MARKDOWN.sub(r"\1\\", text)
    return _NUMBERED_LINE.sub(r"\1\\.", text)


def fit(text: str, limit: int, escape: bool = True) -> str:
    """`text` cut to `limit` characters after markdown escaping (escaping can only lengthen)."""
    budget = limit
    while True:
        cut = truncate(text, budget)
        shown = escape_markdown(cut) if escape else cut
        if len(shown) <= limit:
            return shown
        budget -= max(1, len(shown) - limit)


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


def highlighted(fragments: tuple[tuple[str, bool], ...]) -> str:
    """A search hit's best sentence, the matched words in bold (the core keeps it short)."""
    return "".join(
        f"**{_escape_plain(text)}**" if matched else _escape_plain(text)
        for text, matched in fragments
    )


def _within_limits(rendered: Rendered) -> Rendered:
    """Last line of defence: whatever was built, the message Discord gets is valid (Discord
    also refuses empty or blank texts where a text is given)."""
    rendered.content = _present(truncate(rendered.content or "", CONTENT_LIMIT))
    rendered.embeds = rendered.embeds[:EMBED_LIMIT]
    for embed in rendered.embeds:
        _clip(embed)
    _within_total(rendered.embeds)
    if rendered.content is None and not rendered.embeds:
        rendered.content = "…"
    return rendered


def _present(text: str | None) -> str | None:
    return text if text and text.strip() else None


def _clip(embed: discord.Embed) -> None:
    embed.title = _present(truncate(embed.title or "", TITLE_LIMIT))
    embed.description = _present(truncate(embed.description or "", DESCRIPTION_LIMIT))
    fields = embed.fields[:FIELD_LIMIT]
    embed.clear_fields()
    for f in fields:
        embed.add_field(
            name=_present(truncate(f.name or "", FIELD_NAME_LIMIT)) or BLANK,
            value=_present(truncate(f.value or "", FIELD_VALUE_LIMIT)) or BLANK,
            inline=bool(f.inline),
        )
    footer = _present(truncate(embed.footer.text or "", FOOTER_LIMIT))
    if footer is None:
        embed.remove_footer()
    else:
        embed.set_footer(text=footer)
    author = _present(truncate(embed.author.name or "", AUTHOR_LIMIT))
    if author is None:
        embed.remove_author()
    else:
        embed.set_author(name=author, url=embed.author.url)


def _within_total(embeds: list[discord.Embed]) -> None:
    """Shrink what is longest and says least first; drop whole embeds only as a last resort."""
    for shrink in (_shrink_description, _shrink_author, _shrink_title, _drop_field):
        while _excess(embeds) > 0 and shrink(embeds, _excess(embeds)):
            pass
    while embeds and _excess(embeds) > 0:
        embeds.pop()


def _excess(embeds: list[discord.Embed]) -> int:
    return sum(len(e) for e in embeds) - TOTAL_LIMIT


def _shrink_description(embeds: list[discord.Embed], excess: int) -> bool:
    longest = max(embeds, key=lambda e: len(e.description or ""))
    text = longest.description or ""
    if len(text) <= _KEEP_DESCRIPTION:
        return False
    longest.description = truncate(text, max(_KEEP_DESCRIPTION, len(text) - excess))
    return True


def _shrink_author(embeds: list[discord.Embed], excess: int) -> bool:
    longest = max(embeds, key=lambda e: len(e.author.name or ""))
    name = longest.author.name or ""
    if len(name) <= _KEEP_AUTHOR:
        return False
    longest.set_author(name=truncate(name, max(_KEEP_AUTHOR, len(name) - excess)))
    return True


def _shrink_title(embeds: list[discord.Embed], excess: int) -> bool:
    longest = max(embeds, key=lambda e: len(e.title or ""))
    title = longest.title or ""
    if len(title) <= _KEEP_TITLE:
        return False
    longest.title = truncate(title, max(_KEEP_TITLE, len(title) - excess))
    return True


def _drop_field(embeds: list[discord.Embed], excess: int) -> bool:
    crowded = max(embeds, key=lambda e: len(e.fields))
    if not crowded.fields:
        return False
    crowded.remove_field(-1)
    return True
