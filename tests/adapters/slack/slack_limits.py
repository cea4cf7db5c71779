"""An independent check of a Slack message against Block Kit's limits and mrkdwn escaping.

Written apart from blocks.py on purpose: it restates the limits from Slack's documentation rather
than reusing the renderer's constants, so a wrong constant there cannot hide here.
"""

from __future__ import annotations

import re
from typing import Any

_LINK = re.compile(r"<https?://[^\s|<>]+\|[^<>]*>")
_MENTION = re.compile(r"<@[UW][A-Z0-9]+>")
_ENTITY = re.compile(r"&(amp|lt|gt);")


def u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def texts(node: Any) -> list[tuple[str, str]]:
    """Every (type, text) text object in a block tree."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            found.append((node["type"], node["text"]))
        for value in node.values():
            found.extend(texts(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(texts(value))
    return found


def assert_escaped(mrkdwn: str) -> None:
    """Outside links, mentions and entities, no raw `<`, `>` or `&` may remain."""
    rest = _ENTITY.sub("", _MENTION.sub("", _LINK.sub("", mrkdwn)))
    assert not set("<>&") & set(rest), f"unescaped mrkdwn: {mrkdwn[:200]!r}"


def assert_within_limits(payload: dict[str, Any], budget: int = 10_000) -> None:
    """One chat.postMessage / response_url body, as sent."""
    blocks = payload["blocks"]
    assert 1 <= len(blocks) <= 50
    assert payload["text"] and u16(payload["text"]) <= 4000
    assert_escaped(payload["text"])
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= u16(block["text"]["text"]) <= 150
        elif kind == "section":
            assert 1 <= u16(block["text"]["text"]) <= 3000
        elif kind == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(1 <= u16(e["text"]) <= 3000 for e in block["elements"])
        else:
            raise AssertionError(f"unexpected block type {kind}")
    all_texts = texts(blocks)
    for kind, text in all_texts:
        if kind == "mrkdwn":
            assert_escaped(text)
    # Slack refuses long payloads below the documented limits (msg_blocks_too_long near 12k).
    assert sum(u16(text) for _, text in all_texts) <= budget
