"""Building a channel's digest from its candidates: matched papers not posted there yet, within
the channel's keep window, ranked together whether they matched today or a few days ago."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from paperbot.digest import build_digest
from paperbot.models import (
    Channel,
    ChannelKey,
    ChannelSettings,
    Digest,
    DigestItem,
    MatchReason,
    Paper,
)
from paperbot.store.store import Store
from paperbot.taste import DigestTaste, Taste

log = logging.getLogger(__name__)
MissingSources = Callable[[], Sequence[str]]  # blocking: asked from the worker thread


def _none() -> Sequence[str]:
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
        # The channel's learned taste: ranking and "also worth a look" (never fails a digest).
        self.taste: Taste | None = None

    async def build(
        self,
        channel: Channel,
        now: datetime,
        only: Collection[str] | None = None,
        limit: int | None = None,
    ) -> Digest:
        """The digest `channel` would get at `now`; `only` narrows the candidates to those ids
        (a resumed digest posts its own papers), `limit` overrides the channel's size."""
        # Reading, taste and ranking in one worker-thread hop: each hop costs a thread handoff
        # (on a busy machine a scheduling wait), and ranking a channel's candidates would hold
        # the loop.
        digest = await asyncio.to_thread(self._build_now, channel, now, only, limit)
        return digest if self.annotate is None else await self.annotate(digest)

    async def build_for(self, key: ChannelKey, defaults: ChannelSettings, now: datetime) -> Digest:
        """`build` for a channel given by key: its row read in the same worker-thread hop and
        database session as the rest (one session less: on PostgreSQL a pre-ping and a
        rollback), created with `defaults` the first time it is seen."""
        digest = await asyncio.to_thread(self._build_for, key, defaults, now)
        return digest if self.annotate is None else await self.annotate(digest)

    def _build_for(self, key: ChannelKey, defaults: ChannelSettings, now: datetime) -> Digest:
        with self.store.reading():
            channel = self.store.get_channel(key)
            if channel is not None:
                return self._build_now(channel, now, None, None)
        # A channel never seen: created in a transaction of its own, which the session opened
        # above (its snapshot taken before) would not see.
        return self._build_now(self.store.ensure_channel(key, defaults), now, None, None)

    def _build_now(
        self, channel: Channel, now: datetime, only: Collection[str] | None, limit: int | None
    ) -> Digest:
        key = channel.key
        day = now.astimezone(ZoneInfo(channel.settings.timezone)).date()
        matched_since = now - timedelta(days=channel.settings.keep_days)
        size = channel.settings.max_items if limit is None else limit
        # Every read of the build in one database session (see Store.reading); taste last,
        # since a failing model is ignored and would leave the session unusable on PostgreSQL.
        with self.store.reading():
            missing = self.missing_sources()
            reasons, papers, votes = self._read(key, matched_since, only)
            taste = self._taste(channel, list(papers.values()), only)
        suggestions = [
            DigestItem(s.paper, score=s.learned, note=f"close to: {s.close_to}", suggested=True)
            for s in (taste.suggestions if taste else ())
        ]
        learned = taste.learned if taste else None
        digest = build_digest(key, day, reasons, papers, votes, size, missing, learned, suggestions)
        return digest if self.explain is None else self._explained(digest)

    def _read(
        self, key: ChannelKey, matched_since: datetime, only: Collection[str] | None
    ) -> tuple[dict[str, list[MatchReason]], dict[str, Paper], dict[str, int]]:
        """The channel's candidates (as reasons by paper), their papers and the team's votes,
        read in one database session."""
        inputs = self.store.digest_inputs(key, matched_since, only)
        reasons: dict[str, list[MatchReason]] = defaultdict(list)
        for match in inputs.candidates:
            reasons[match.paper_id].append(MatchReason(match.subscription, match.field))
        return reasons, inputs.papers, inputs.votes

    def _explained(self, digest: Digest) -> Digest:
        """The digest with its shown items' reasons explained: only those, since explaining
        re-reads a paper, and a channel has many more candidates than it shows (the detail
        plays no part in the ranking)."""
        assert self.explain is not None
        shown = {item.paper.arxiv_id: list(item.reasons) for item in digest.items if item.reasons}
        if not shown:
            return digest
        self.explain(shown, {item.paper.arxiv_id: item.paper for item in digest.items})
        items = tuple(
            replace(item, reasons=tuple(shown[item.paper.arxiv_id]))
            if item.paper.arxiv_id in shown
            else item
            for item in digest.items
        )
        return replace(digest, items=items)

    def _taste(
        self, channel: Channel, matched: list[Paper], only: Collection[str] | None
    ) -> DigestTaste | None:
        """The channel's taste for this digest; a model that fails leaves the digest as it was.
        With `only` (a resumed digest), the suggestions are those it had reserved already."""
        if self.taste is None:
            return None
        try:
            if only is not None:
                left = [pid for pid in only if pid not in {p.arxiv_id for p in matched}]
                return self.taste.for_resumed(channel.key, matched, left)
            return self.taste.for_digest(channel.key, matched, channel.last_digest_at)
        except Exception as exc:
            log.warning("taste for %s unavailable, digest ranked without it: %r", channel.key, exc)
            return None
