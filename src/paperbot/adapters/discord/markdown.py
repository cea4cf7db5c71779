"""Discord markdown for text the bot did not write: paper metadata shown as typed, and user text
that never renders as a live mention or link."""

from __future__ import annotations

import re

from paperbot.presentation import truncate

_BREAK = "\u200b"  # a zero-width space: splits a mention or link without showing anything
# Markdown that would change how a paper's text looks; URLs are left whole so they stay links.
_URL = re.compile(r"<[^: >]+:/[^ >]+>|(?:https?|steam)://[^\s<]+[^<.,:;\"'\]\s]")
# What Discord would render live in text: <@id>, <@!id>, <@&id>, <#id>, </name:id>,
# @everyone, @here, and links (a scheme's "://", "<http", "www.").
_LIVE = re.compile(r"<[@#/]|@(?:everyone|here)|:/|\bwww\.")
_INLINE_MARKDOWN = re.compile(r"([\\*_~|`\[\]])")
# Headings, quotes, list items, and "-# " (Discord's small print) at the start of a line.
_LINE_MARKDOWN = re.compile(r"^(\s*)(?=(?:#{1,3}|>{1,3}|-#|[-+])\s)", re.MULTILINE)
_NUMBERED_LINE = re.compile(r"^(\s*\d+)\.(?=\s)", re.MULTILINE)


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
    return _LIVE.sub(lambda m: m.group()[0] + _BREAK + m.group()[1:], text)


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


def highlighted(fragments: tuple[tuple[str, bool], ...]) -> str:
    """A search hit's best sentence, the matched words in bold (the core keeps it short)."""
    return "".join(
        f"**{_escape_plain(text)}**" if matched else _escape_plain(text)
        for text, matched in fragments
    )
