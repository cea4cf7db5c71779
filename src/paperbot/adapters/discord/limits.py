"""Discord's message limits, and the last line of defence that makes any embed fit them:
Discord refuses a whole message when any one limit is exceeded."""

from __future__ import annotations

import discord

from paperbot.presentation import truncate

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

# What `within_total` leaves of each part before it gives up a whole embed.
_KEEP_DESCRIPTION = 80
_KEEP_AUTHOR = 40
_KEEP_TITLE = 80


def present(text: str | None) -> str | None:
    """None for an empty or blank text, which Discord refuses where a text is given."""
    return text if text and text.strip() else None


def clip(embed: discord.Embed) -> None:
    """Cut every part of `embed` to its own limit (blank parts dropped or made BLANK)."""
    embed.title = present(truncate(embed.title or "", TITLE_LIMIT))
    embed.description = present(truncate(embed.description or "", DESCRIPTION_LIMIT))
    fields = embed.fields[:FIELD_LIMIT]
    embed.clear_fields()
    for f in fields:
        embed.add_field(
            name=present(truncate(f.name or "", FIELD_NAME_LIMIT)) or BLANK,
            value=present(truncate(f.value or "", FIELD_VALUE_LIMIT)) or BLANK,
            inline=bool(f.inline),
        )
    footer = present(truncate(embed.footer.text or "", FOOTER_LIMIT))
    if footer is None:
        embed.remove_footer()
    else:
        embed.set_footer(text=footer)
    author = present(truncate(embed.author.name or "", AUTHOR_LIMIT))
    if author is None:
        embed.remove_author()
    else:
        embed.set_author(name=author, url=embed.author.url)


def within_total(embeds: list[discord.Embed]) -> None:
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
