"""Discord's message limits, checked on the JSON a message is sent as (what Discord checks)."""

from __future__ import annotations

from typing import Any

import discord

from paperbot.adapters.discord.embeds import Rendered

LIMITS = {
    "content": 2000,
    "title": 256,
    "description": 4096,
    "fields": 25,
    "field.name": 256,
    "field.value": 1024,
    "footer": 2048,
    "author": 256,
    "total": 6000,
    "embeds": 10,
}


def violations(message: dict[str, Any]) -> list[str]:
    """Every limit a message payload breaks; [] means Discord accepts it."""
    found: list[str] = []

    def check(what: str, text: str | None, limit: int) -> int:
        size = len(text or "")
        if size > limit:
            found.append(f"{what}: {size} > {limit}")
        if text is not None and not text.strip():
            found.append(f"{what}: blank")
        return size

    content = message.get("content")
    if content is not None:
        check("content", content, LIMITS["content"])
    embeds = message.get("embeds") or []
    if len(embeds) > LIMITS["embeds"]:
        found.append(f"embeds: {len(embeds)} > {LIMITS['embeds']}")
    if not content and not embeds:
        found.append("message: empty")
    total = 0
    for embed in embeds:
        total += check("title", embed.get("title"), LIMITS["title"])
        total += check("description", embed.get("description"), LIMITS["description"])
        fields = embed.get("fields") or []
        if len(fields) > LIMITS["fields"]:
            found.append(f"fields: {len(fields)} > {LIMITS['fields']}")
        for f in fields:
            total += check("field.name", f.get("name"), LIMITS["field.name"])
            total += check("field.value", f.get("value"), LIMITS["field.value"])
        total += check("footer", (embed.get("footer") or {}).get("text"), LIMITS["footer"])
        total += check("author", (embed.get("author") or {}).get("name"), LIMITS["author"])
    if total > LIMITS["total"]:
        found.append(f"total: {total} > {LIMITS['total']}")
    return found


def as_payload(rendered: Rendered) -> dict[str, Any]:
    """What discord.py would send for a Rendered message."""
    return {
        "content": rendered.content,
        "embeds": [embed.to_dict() for embed in rendered.embeds],
    }


def embed_text(embed: discord.Embed | dict[str, Any]) -> str:
    """All the visible text of an embed, for assertions on what a reader sees."""
    data = embed.to_dict() if isinstance(embed, discord.Embed) else embed
    parts = [data.get("title"), data.get("description")]
    parts += [f"{f['name']} {f['value']}" for f in data.get("fields", [])]
    parts += [(data.get("footer") or {}).get("text"), (data.get("author") or {}).get("name")]
    return "\n".join(p for p in parts if p)
