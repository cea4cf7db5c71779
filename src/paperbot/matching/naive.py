"""The reference semantics: every subscription against every paper, and the match it yields."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from paperbot.analysis import AnalyzedPaper
from paperbot.models import MatchField, Subscription
from paperbot.query import evaluate, parse


class Match(NamedTuple):
    """A tuple, not a dataclass: a busy day yields hundreds of thousands of these."""

    subscription: Subscription
    arxiv_id: str
    field: MatchField


def match_naively(
    subscriptions: Iterable[Subscription], docs: Iterable[AnalyzedPaper]
) -> list[Match]:
    """Every subscription against every paper: the reference the index must agree with."""
    parsed = [(s, parse(s.query)) for s in subscriptions]
    found = []
    for doc in docs:
        for subscription, query in parsed:
            verdict = evaluate(query, doc)
            if verdict.matched:
                found.append(
                    Match(subscription, doc.arxiv_id, verdict.field or MatchField.ABSTRACT)
                )
    return found
