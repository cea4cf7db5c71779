"""Turning a channel's unposted matches into a ranked, capped, platform-neutral Digest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from paperbot.models import ChannelKey, Digest, DigestItem, MatchReason, Paper
from paperbot.ranking import score


def strongest_reasons(reasons: Sequence[MatchReason]) -> tuple[MatchReason, ...]:
    """One reason per subscription, its strongest field, strongest first."""
    best: dict[str, MatchReason] = {}
    for reason in reasons:
        known = best.get(reason.subscription)
        if known is None or reason.field.weight > known.field.weight:
            best[reason.subscription] = reason
    return tuple(sorted(best.values(), key=lambda r: (-r.field.weight, r.subscription)))


def rank_items(
    reasons_by_paper: Mapping[str, Sequence[MatchReason]],
    papers: Mapping[str, Paper],
    team_votes: Mapping[str, int],
    today: date,
) -> list[DigestItem]:
    items = []
    for paper_id, reasons in reasons_by_paper.items():
        paper = papers.get(paper_id)
        if paper is None:
            continue
        best = strongest_reasons(reasons)
        votes = team_votes.get(paper_id, 0)
        items.append(DigestItem(paper, best, score(paper, best, votes, today), votes))
    # Ties break on id so the same inputs always give the same digest.
    items.sort(key=lambda item: (-item.score, item.paper.arxiv_id))
    return items


def build_digest(
    channel: ChannelKey,
    day: date,
    reasons_by_paper: Mapping[str, Sequence[MatchReason]],
    papers: Mapping[str, Paper],
    team_votes: Mapping[str, int],
    max_items: int,
    missing_sources: Sequence[str] = (),
) -> Digest:
    ranked = rank_items(reasons_by_paper, papers, team_votes, day)
    chosen = ranked[:max_items]
    return Digest(
        channel=channel,
        day=day,
        items=tuple(chosen),
        missing_sources=tuple(missing_sources),
        remaining=len(ranked) - len(chosen),
    )
