"""What the ingest tests share: two channels and their papers, and what a channel's digest
would be handed (its candidates)."""

from __future__ import annotations

from datetime import UTC, datetime

from paperbot.models import ChannelKey, MatchField, Paper
from paperbot.store.store import Store
from paperbot.testing import make_paper

KEY = ChannelKey("slack", "T1", "C1")
OTHER = ChannelKey("slack", "T1", "C2")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def paper(n: int, title: str, abstract: str = "Nothing else.", **fields: object) -> Paper:
    return make_paper(title, abstract, arxiv_id=f"2611.{n:05d}", **fields)


def candidates(store: Store, key: ChannelKey) -> set[tuple[str, str, MatchField]]:
    return {(m.paper_id, m.subscription, m.field) for m in store.digest_candidates(key, EPOCH)}
