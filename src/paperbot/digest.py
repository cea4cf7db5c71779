"""Turning a channel's unposted matches into a ranked, capped, platform-neutral Digest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from paperbot.models import ChannelKey, Digest, DigestItem, MatchReason, Paper
from paperbot.ranking import RANKED_UP, RANKED_UP_ABOVE, TASTE_WEIGHT, score


def strongest_reasons(reasons: Sequence[MatchReason]) -> tuple[MatchReason, ...]:
    """One reason per subscription, its strongest field, strongest first."""
    if len(reasons) == 1:  # most papers of a digest: matched by one subscription in one field
        return (reasons[0],)
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
    learned: Mapping[str, float] | None = None,
) -> list[DigestItem]:
    """Matched papers, best first; with `learned` (the channel's taste), keyword evidence and
    taste together, and a note on each paper taste moved up."""
    items = [
        DigestItem(paper, best, -negative, votes)
        for negative, _, paper, best, votes in _scored(reasons_by_paper, papers, team_votes, today)
    ]
    if learned:
        items = _with_taste(items, learned)
    return items


def _with_taste(items: list[DigestItem], learned: Mapping[str, float]) -> list[DigestItem]:
    before = {item.paper.arxiv_id: n for n, item in enumerate(items)}
    tasted = [
        replace(item, score=item.score + TASTE_WEIGHT * learned.get(item.paper.arxiv_id, 0.0))
        for item in items
    ]
    tasted.sort(key=lambda item: (-item.score, item.paper.arxiv_id))
    return [
        replace(item, note=RANKED_UP)
        if n < before[item.paper.arxiv_id]
        and learned.get(item.paper.arxiv_id, 0.0) >= RANKED_UP_ABOVE
        else item
        for n, item in enumerate(tasted)
    ]


def build_digest(
    channel: ChannelKey,
    day: date,
    reasons_by_paper: Mapping[str, Sequence[MatchReason]],
    papers: Mapping[str, Paper],
    team_votes: Mapping[str, int],
    max_items: int,
    missing_sources: Sequence[str] = (),
    learned: Mapping[str, float] | None = None,
    suggestions: Sequence[DigestItem] = (),
) -> Digest:
    """`suggestions` ("also worth a look") follow the matched papers, as items of their own."""
    if learned:
        ranked = rank_items(reasons_by_paper, papers, team_votes, day, learned)
        chosen, total = ranked[:max_items], len(ranked)
    else:
        chosen, total = _top_items(reasons_by_paper, papers, team_votes, day, max_items)
    extra = [item for item in suggestions if item.paper.arxiv_id not in reasons_by_paper]
    return Digest(
        channel=channel,
        day=day,
        items=(*chosen, *extra),
        missing_sources=tuple(missing_sources),
        remaining=total - len(chosen),
    )


def _scored(
    reasons_by_paper: Mapping[str, Sequence[MatchReason]],
    papers: Mapping[str, Paper],
    team_votes: Mapping[str, int],
    today: date,
) -> list[tuple[float, str, Paper, tuple[MatchReason, ...], int]]:
    """Every matched paper as (-score, id, paper, reasons, votes), best first: tuples, so a
    digest makes items only for the papers it shows (a channel has ~150 candidates and shows
    ~10; making an item costs more than scoring it). Ties break on id so the same inputs always
    give the same digest; ids are unique, so tuples never compare further."""
    scored = []
    for paper_id, reasons in reasons_by_paper.items():
        paper = papers.get(paper_id)
        if paper is None:
            continue
        best = strongest_reasons(reasons)
        votes = team_votes.get(paper_id, 0)
        scored.append((-score(paper, best, votes, today), paper_id, paper, best, votes))
    scored.sort()
    return scored


def _top_items(
    reasons_by_paper: Mapping[str, Sequence[MatchReason]],
    papers: Mapping[str, Paper],
    team_votes: Mapping[str, int],
    today: date,
    size: int,
) -> tuple[list[DigestItem], int]:
    """`rank_items(...)[:size]` without taste, and how many were ranked."""
    scored = _scored(reasons_by_paper, papers, team_votes, today)
    chosen = [DigestItem(p, best, -neg, votes) for neg, _, p, best, votes in scored[:size]]
    return chosen, len(scored)
