"""Building a channel's digest from its candidates: matched papers not posted there yet, within
the channel's keep window, ranked together whether they matched today or a few days ago."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from paperbot.digest import build_digest
from paperbot.models import Channel, Digest, MatchReason, Paper
from paperbot.store.store import Store

MissingSources = Callable[[], Awaitable[Sequence[str]]]


async def _none() -> Sequence[str]:
    return ()


class DigestBuilder:
    """Ranks a channel's candidates into a Digest; blocking store calls run in a thread."""

    def __init__(self, store: Store, missing_sources: MissingSources = _none) -> None:
        self.store = store
        self.missing_sources = missing_sources
        # A last step on every digest built (the optional TL;DRs); it must never fail one.
        self.annotate: Callable[[Digest], Awaitable[Digest]] | None = None
        # Says how each match was made ("MoE as 'mixture of experts'"), editing the reasons.
        self.explain: Callable[[dict[str, list[MatchReason]], dict[str, Paper]], None] | None = None

    async def build(
        self,
        channel: Channel,
        now: datetime,
        only: Collection[str] | None = None,
        limit: int | None = None,
    ) -> Digest:
        """The digest `channel` would get at `now`; `only` narrows the candidates to those ids
        (a resumed digest posts its own papers), `limit` overrides the channel's size."""
        key = channel.key
        day = now.astimezone(ZoneInfo(channel.settings.timezone)).date()
        matched_since = now - timedelta(days=channel.settings.keep_days)
        stored = await asyncio.to_thread(self.store.digest_candidates, key, matched_since)
        reasons: dict[str, list[MatchReason]] = defaultdict(list)
        for match in stored:
            if only is None or match.paper_id in only:
                reasons[match.paper_id].append(MatchReason(match.subscription, match.field))
        papers = await asyncio.to_thread(self.store.get_papers, list(reasons))
        if self.explain is not None:
            await asyncio.to_thread(self.explain, reasons, papers)
        votes = await asyncio.to_thread(self.store.vote_totals, key, list(reasons))
        missing = await self.missing_sources()
        size = channel.settings.max_items if limit is None else limit
        digest = build_digest(key, day, reasons, papers, votes, size, missing)
        return digest if self.annotate is None else await self.annotate(digest)
