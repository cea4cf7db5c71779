"""Platform-neutral wording of a paper (summary, authors, why it matched) that every renderer
shares, so Slack, Discord and the console say the same thing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from paperbot.models import DigestItem, MatchReason, Paper

ALSO_WORTH = "Also worth a look"
"""The digest section of papers that matched no subscription but the channel's taste picked."""
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def short_authors(authors: Sequence[str], limit: int = 3) -> str:
    """ "A, B, C et al." for long lists; empty when unknown."""
    if not authors:
        return ""
    if len(authors) <= limit:
        return ", ".join(authors)
    return ", ".join(authors[:limit]) + " et al."


def summary(paper: Paper, max_chars: int = 320) -> str:
    """One or two sentences: HF's AI summary when it has one, else the abstract's opening."""
    text = " ".join((paper.ai_summary or paper.abstract).split())
    sentences = _SENTENCE_END.split(text)
    chosen = sentences[0] if sentences else ""
    if len(sentences) > 1 and len(chosen) + len(sentences[1]) + 1 <= max_chars:
        chosen = f"{chosen} {sentences[1]}"
    return truncate(chosen, max_chars)


def item_summary(item: DigestItem, max_chars: int = 320) -> str:
    """A digest item's text: its TL;DR when one was written, else the paper's summary."""
    if item.tldr:
        return truncate(f"TL;DR: {item.tldr}", max_chars)
    return summary(item.paper, max_chars)


def truncate(text: str, limit: int) -> str:
    """Cut at a word boundary and mark the cut; never returns more than `limit` characters."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def why(reasons: Sequence[MatchReason]) -> str:
    """ "matched: diffusion (title), "world model" (abstract)"."""
    if not reasons:
        return ""
    parts = [f"{reason.detail or reason.subscription} ({reason.field})" for reason in reasons]
    return "matched: " + ", ".join(parts)


def links(paper: Paper) -> list[tuple[str, str]]:
    """(label, url) pairs in the order a reader wants them."""
    if paper.is_sample:
        return [("arXiv search", paper.title_search_url)]
    found = [("arXiv", paper.abs_url), ("PDF", paper.pdf_url)]
    if paper.hf_url:
        found.append(("HF", paper.hf_url))
    if paper.github_repo:
        found.append(("Code", paper.github_repo))
    if paper.project_page:
        found.append(("Project", paper.project_page))
    return found


def stats(item: DigestItem) -> str:
    """ "▲ 42 on HF · team +3 · ★ 1.2k" with only the parts that say something."""
    parts = []
    if item.paper.upvotes:
        parts.append(f"▲ {item.paper.upvotes} on HF")
    if item.team_votes:
        parts.append(f"team {item.team_votes:+d}")
    if item.paper.github_stars:
        parts.append(f"★ {_compact(item.paper.github_stars)}")
    return " · ".join(parts)


def _compact(number: int) -> str:
    return f"{number / 1000:.1f}k" if number >= 1000 else str(number)
