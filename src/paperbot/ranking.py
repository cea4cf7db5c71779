"""How a digest orders its papers: keyword evidence, then the crowd, the team and freshness."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime

from paperbot.models import MatchReason, Paper

# Weights chosen so one title match outweighs a few hundred HF upvotes, and a team's
# explicit vote outweighs both: the channel's own judgement is the best signal it has.
EVIDENCE_CAP = 8.0
UPVOTE_WEIGHT = 0.6
TEAM_VOTE_WEIGHT = 1.5
FRESHNESS_WEIGHT = 1.0
# Per standard deviation of the channel's learned score over the day's papers (clipped at 2):
# a paper the channel's taste likes clearly can pass one matched in a title more.
TASTE_WEIGHT = 1.5
RANKED_UP = "ranked up: like papers this channel voted for"
RANKED_UP_ABOVE = 0.5  # standard deviations: taste must clearly like a paper to say it moved it


def evidence(reasons: Sequence[MatchReason]) -> float:
    """Sum of the strongest field per subscription; capped so a broad subscription set cannot
    drown a precise one."""
    return min(EVIDENCE_CAP, sum(reason.field.weight for reason in reasons))


def freshness(paper: Paper, today: date) -> float:
    """1 for a paper from today, halving every two days."""
    when: date | None = paper.featured_on
    if when is None and isinstance(paper.published_at, datetime):
        when = paper.published_at.date()
    if when is None:
        return 0.0
    age = max(0, (today - when).days)
    return float(0.5 ** (age / 2))


def score(paper: Paper, reasons: Sequence[MatchReason], team_votes: int, today: date) -> float:
    return (
        evidence(reasons)
        + UPVOTE_WEIGHT * math.log1p(max(0, paper.upvotes))
        + TEAM_VOTE_WEIGHT * team_votes
        + FRESHNESS_WEIGHT * freshness(paper, today)
    )
