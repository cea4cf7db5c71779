"""The core's operations: ingest, subscriptions, digests, votes and search. Adapters and the
scheduler call these; none of them knows a platform."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, ParamSpec, TypeVar

from paperbot import catchall, metrics, new_subscriptions
from paperbot.analysis import AnalyzedPaper, analyze_paper
from paperbot.candidates import DigestBuilder
from paperbot.delivery import DigestDelivery
from paperbot.errors import InvalidInput
from paperbot.ingest import IngestStats, LiveSubscriptions, SyncReport, ingest_and_index
from paperbot.ingest.fetching import fetch_day
from paperbot.ingest.report import IngestReport
from paperbot.matching import default_rarity
from paperbot.models import (
    Channel,
    ChannelKey,
    ChannelSettings,
    DeliveryReport,
    Digest,
    DigestItem,
    MatchReason,
    Paper,
    Subscription,
)
from paperbot.ports import ChatPoster, PaperSource
from paperbot.query import describe, parse
from paperbot.query.explain import explain_expansions
from paperbot.search import SearchIndex
from paperbot.search.lookup import SearchOutcome, find_papers
from paperbot.store.store import Store, utc_now
from paperbot.store.taste import TasteStore
from paperbot.summaries import TldrWriter
from paperbot.taste import Taste
from paperbot.vocabulary import Vocabulary, curated, mine_pairs

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

PREVIEW_WINDOW = new_subscriptions.PREVIEW_WINDOW
SOURCE_STATUS_AGE = 5.0  # seconds a digest may go by the source statuses read before


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    subscription: Subscription | None
    canonical: str
    recent_matches: int
    reading: str = ""  # how the query was read, when that is more than its words


class Paperbot:
    """One instance per process; safe to call from many tasks at once."""

    def __init__(
        self,
        store: Store,
        search: SearchIndex,
        sources: Sequence[PaperSource] = (),
        posters: Mapping[str, ChatPoster] | None = None,
        channel_defaults: ChannelSettings | None = None,
        max_subscriptions: int = 50,
        clock: Callable[[], datetime] = utc_now,
        worker_id: str = "",
    ) -> None:
        self.store = store
        self.search_index = search
        self.sources = list(sources)
        self.posters: dict[str, ChatPoster] = dict(posters or {})
        self.channel_defaults = channel_defaults or ChannelSettings()
        self.max_subscriptions = max_subscriptions
        self.clock = clock
        self.worker_id = worker_id
        self.digests = DigestBuilder(store, self.failing_sources)
        self.digests.explain = self._explain_reasons
        self._tldr_writer: TldrWriter | None = None
        self.delivery = DigestDelivery(
            store, self.posters, self.digests, clock, self.channel_defaults
        )
        self.taste = Taste(TasteStore(store), clock)
        self.digests.taste = self.taste
        # Kept across ingests and synced with the store by its change counter: rebuilding it
        # for 100,000 subscriptions costs more than matching a day (benchmarks/bench_day.py).
        self.live_subscriptions = LiveSubscriptions()
        # The recent papers the catch-all guard judges a new subscription on, kept.
        self.judged = new_subscriptions.JudgedSample()
        self.last_sync: SyncReport | None = None
        self.last_ingest: IngestStats | None = None
        # The curated acronyms plus those mined from papers (loaded from the store once).
        self._vocabulary: Vocabulary | None = None
        # Called with the updated Channel after a settings change (the scheduler reschedules).
        self.channel_listeners: list[Callable[[Channel], None]] = []

    @property
    def tldr_writer(self) -> TldrWriter | None:
        """Writes TL;DRs onto every digest built, when the optional language model is on."""
        return self._tldr_writer

    @tldr_writer.setter
    def tldr_writer(self, writer: TldrWriter | None) -> None:
        self._tldr_writer = writer
        self.digests.annotate = writer.annotate if writer is not None else None

    async def blocking(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking store call off the event loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def add_poster(self, poster: ChatPoster) -> None:
        self.posters[poster.platform] = poster

    # --- ingest ---------------------------------------------------------------------------

    async def ingest_day(self, day: date) -> IngestReport:
        """Fetch `day` from every source at once; a failing source is recorded and skipped."""
        report = IngestReport()
        batch = await fetch_day(self.sources, day, self.store, report)
        inserted, updated, matched = await self.blocking(self.ingest_papers, batch)
        report.inserted, report.updated, report.matched = inserted, updated, matched
        self.taste.retrain_stale_soon()  # models whose retrain a vote asked for and never got
        log.info("%s for %s", report.summary, day)
        return report

    def ingest_papers(self, batch: Sequence[Paper]) -> tuple[int, int, int]:
        """Upsert, match and index a batch (blocking); returns (inserted, updated, matches).
        Stored papers are never left unmatched, even by a crash (see paperbot.ingest)."""
        # Before the papers' transactions: the mined pairs get their own, and today's papers
        # are already matched with what they define.
        self.learn_acronyms(batch)
        self.last_sync = self.live_subscriptions.sync(self.store)
        with self.judged.ingesting():
            result, matched, self.last_ingest = ingest_and_index(
                self.store,
                self.live_subscriptions,
                batch,
                self.analyze,
                lambda: self.search_index.catch_up(self.store),
            )
        if self.last_ingest.matched_any:  # the day is in: the guard's next judgement counts it
            self._take_judged_sample()
        if not self.last_ingest.matched_any:
            return 0, 0, 0
        metrics.papers_ingested(len(result.inserted))
        return len(result.inserted), len(result.updated), matched

    # --- vocabulary -----------------------------------------------------------------------

    @property
    def vocabulary(self) -> Vocabulary:
        """The curated acronyms and those mined so far (blocking on first use: reads the store)."""
        if self._vocabulary is None:
            self._vocabulary = curated().learn(self.store.learned_acronyms())
        return self._vocabulary

    def analyze(self, paper: Paper) -> AnalyzedPaper:
        return analyze_paper(paper, self.vocabulary)

    def warm_up(self) -> None:
        """Do ahead (blocking) what a process's first subscribe would wait for: the acronym
        table read, the bundled sample analysed (the catch-all guard judges a young store on
        it; the index measures rarity on it), the store's recent papers the guard judges on
        and those a new subscription looks back over."""
        parse("warm up")
        default_rarity()
        self._take_judged_sample()
        try:  # the look back's papers: analysed here, not by the first subscribe
            since = self.clock() - new_subscriptions.SUBSCRIBE_LOOKBACK
            self.live_subscriptions.recent.seen_since(self.store, since, self.analyze)
        except Exception as error:  # a database outage: the first subscribe reads them
            log.warning("analysing the look back's papers failed: %s", str(error)[:200])

    def learn_acronyms(self, papers: Sequence[Paper]) -> None:
        """Mine "long form (LF)" definitions from `papers`, store them and use them (blocking).
        A paper fetched again counts again: `papers` in the table is how often a pair was read."""
        pairs = list(mine_pairs(f"{p.title}. {p.abstract}" for p in papers))
        if pairs:
            self.store.record_acronyms(pairs)
            self._vocabulary = self.vocabulary.learn(pairs)

    # --- channels and subscriptions -------------------------------------------------------

    async def channel(self, key: ChannelKey) -> Channel:
        return await self.blocking(self.store.ensure_channel, key, self.channel_defaults)

    async def subscriptions(self, key: ChannelKey) -> list[Subscription]:
        await self.channel(key)
        return await self.blocking(self.store.list_subscriptions, key)

    async def subscribe(self, key: ChannelKey, query: str, user: str) -> SubscribeResult:
        node = parse(query)
        # The store's reads and writes, the guard and the look back in one worker-thread hop:
        # while an ingest holds the GIL, each hop waits for it twice (the worker starting, the
        # loop resuming), and a subscribe made five.
        return await self.blocking(self._subscribe_now, key, node, user)

    def _subscribe_now(self, key: ChannelKey, node: Any, user: str) -> SubscribeResult:
        # Its reads in one database session (on PostgreSQL each costs a pre-ping and a
        # rollback); each read still sees what was committed before it (PostgreSQL's read
        # committed; SQLite's driver begins no transaction for a read), so the look back sees
        # every chunk an ingest committed before the subscription was added.
        with self.store.reading():
            return self._subscribe_in_session(key, node, user)

    def _subscribe_in_session(self, key: ChannelKey, node: Any, user: str) -> SubscribeResult:
        canonical = str(node)
        self.store.ensure_channel(key, self.channel_defaults)
        current = self.store.list_subscriptions(key)
        if any(s.query == canonical for s in current):
            return SubscribeResult(None, canonical, 0)
        catchall.refuse_fillers(node)
        self._refuse_broad(node)
        if len(current) >= self.max_subscriptions:
            raise InvalidInput(
                f"this channel has {len(current)} subscriptions, the most allowed; "
                "unsubscribe from one first"
            )
        subscription = self.store.add_subscription(key, canonical, user)
        if subscription is None:
            return SubscribeResult(None, canonical, 0)
        recent = self._match_recent(subscription)
        log.info("%s subscribed %s to %r", user, key, canonical)
        return SubscribeResult(subscription, canonical, recent, describe(node))

    def _refuse_broad(self, node: Any) -> None:
        if self.live_subscriptions.index.follows(str(node)):
            return  # another channel follows it already: judged then, and its matches stored
        catchall.refuse_broad(node, self._judged_papers())

    def _judged_papers(self) -> list[AnalyzedPaper]:
        return self.judged.get(
            self.store, self.live_subscriptions.recent, self.analyze, self.clock()
        )

    def _take_judged_sample(self) -> None:
        """Ahead of the next subscribe, which would take it itself (and does if this fails)."""
        try:
            self.judged.take(self.store, self.live_subscriptions.recent, self.analyze, self.clock())
        except Exception as error:  # a database outage: the next subscribe tries again
            log.warning("taking the catch-all guard's sample failed: %s", str(error)[:200])

    def _match_recent(self, subscription: Subscription) -> int:
        return new_subscriptions.match_recent(
            self.store,
            self.live_subscriptions.recent,
            self.analyze,
            subscription,
            self.clock(),
        )

    async def unsubscribe(self, key: ChannelKey, query: str) -> str | None:
        """Remove a subscription given as typed, by its canonical form, or as `#N` from `list`;
        returns what was removed."""
        current = await self.subscriptions(key)
        target: str | None = None
        stripped = query.strip()
        if stripped.startswith("#") and stripped[1:].isdigit():
            number = int(stripped[1:])
            if not 1 <= number <= len(current):
                raise InvalidInput(f"there is no subscription #{number}; see /papers list")
            target = current[number - 1].query
        else:
            try:
                canonical = str(parse(stripped))
            except InvalidInput:
                canonical = stripped  # never a valid subscription, so never followed
            target = next((s.query for s in current if s.query in (canonical, stripped)), None)
        if target is None:
            return None
        removed = await self.blocking(self.store.remove_subscription, key, target)
        return target if removed else None

    async def preview(self, query: str, limit: int = 5) -> tuple[str, list[DigestItem], int]:
        """What `query` would have matched over the last week: (canonical, best items, total)."""
        node = parse(query)
        now = self.clock()
        papers = await self.blocking(self.store.papers_seen_since, now - PREVIEW_WINDOW)
        vocabulary = await self.blocking(lambda: self.vocabulary)
        items = new_subscriptions.preview_matches(node, papers, vocabulary, now.date())
        return str(node), items[:limit], len(items)

    async def pause_workspace(self, platform: str, workspace: str, reason: str) -> int:
        """Pause every channel of one workspace (the app was removed there); returns how many
        were running. Other workspaces are not touched."""
        channels = await self.blocking(self.store.list_channels, platform)
        paused = 0
        for channel in channels:
            if channel.key.workspace == workspace:
                paused += await self.blocking(self.store.pause_channel, channel.key, reason)
        return paused

    async def resume_workspace(self, platform: str, workspace: str, reasons: Sequence[str]) -> int:
        """Resume a workspace's channels paused for one of `reasons` (the app is back)."""
        channels = await self.blocking(self.store.list_channels, platform)
        resumed = 0
        for channel in channels:
            key, reason = channel.key, channel.pause_reason
            if key.workspace == workspace and channel.settings.paused and reason in reasons:
                await self.blocking(self.store.resume_channel, key)
                resumed += 1
        return resumed

    async def update_settings(self, key: ChannelKey, **changes: Any) -> Channel:
        channel = await self.channel(key)
        settings = replace(channel.settings, **changes)
        updated = await self.blocking(self.store.update_channel, key, settings)
        for listener in list(self.channel_listeners):
            listener(updated)
        return updated

    # --- digests --------------------------------------------------------------------------

    async def build_digest(self, key: ChannelKey, now: datetime | None = None) -> Digest:
        """What the channel's digest would hold now (candidates: see DigestBuilder)."""
        return await self.digests.build_for(key, self.channel_defaults, now or self.clock())

    def _explain_reasons(
        self, reasons: dict[str, list[MatchReason]], papers: Mapping[str, Paper]
    ) -> None:
        explain_expansions(reasons, papers, self.analyze, self.vocabulary)

    async def missing_sources(self) -> list[str]:
        """Sources whose latest attempt failed: the digest says it is incomplete."""
        return await self.blocking(self.failing_sources)

    def failing_sources(self) -> list[str]:
        """`missing_sources`, blocking: the digest builder asks from its worker thread. Read
        at most a few seconds ago (another instance's result may show that much later): the
        digests of an hour's channels share the read."""
        names = {source.name for source in self.sources}
        return [
            s.source
            for s in self.store.source_statuses(max_age=SOURCE_STATUS_AGE)
            if s.source in names
            and s.last_error_at is not None
            and (s.last_success_at is None or s.last_error_at > s.last_success_at)
        ]

    async def deliver_digest(
        self, key: ChannelKey, force_post: bool = False, reply_to: str | None = None
    ) -> DeliveryReport:
        """Post the channel's digest now (see delivery.DigestDelivery for the guarantees)."""
        return await self.delivery.deliver(key, force_post, reply_to=reply_to)

    async def deliver_more(self, key: ChannelKey, reply_to: str | None = None) -> DeliveryReport:
        """The next batch of matched papers into today's digest thread."""
        return await self.delivery.deliver_more(key, reply_to)

    # --- votes ----------------------------------------------------------------------------

    async def record_vote(
        self, key: ChannelKey, message_id: str, user: str, value: int, added: bool = True
    ) -> str | None:
        """Turn a reaction into a vote (or take it back); returns the paper voted on, or None
        when the message is not one of our paper posts."""
        paper_id = await self.blocking(self.store.paper_for_message, key, message_id)
        if paper_id is None:
            return None
        if added:
            changed = await self.blocking(self.store.set_vote, key, paper_id, user, value)
        else:
            changed = await self.blocking(self.store.retract_vote, key, paper_id, user, value)
        if changed:
            self.taste.votes_changed(key)
            log.info(
                "vote %+d %s by %s on %s in %s",
                value,
                "added" if added else "retracted",
                user,
                paper_id,
                key,
            )
        return paper_id

    async def top(
        self, key: ChannelKey, since: datetime | None, limit: int = 10
    ) -> list[DigestItem]:
        ranked = await self.blocking(self.store.top_voted, key, since, limit)
        papers = await self.blocking(self.store.get_papers, [paper_id for paper_id, _ in ranked])
        return [
            DigestItem(papers[paper_id], team_votes=votes, score=float(votes))
            for paper_id, votes in ranked
            if paper_id in papers
        ]

    # --- search ---------------------------------------------------------------------------

    async def refresh_search(self) -> None:
        """Index what other processes stored; a failure (database outage) waits for the next."""
        try:
            await self.blocking(self.search_index.refresh, self.store)
        except Exception as error:  # the periodic job logs and carries on
            log.warning("search refresh failed: %s", str(error)[:200])

    async def search(self, text: str, limit: int = 10) -> list[DigestItem]:
        return list((await self.find_papers(text, limit)).items)

    async def find_papers(self, text: str, limit: int = 10) -> SearchOutcome:
        """`/papers search`: a pasted id or link, or words (see paperbot.search.lookup)."""
        return await self.blocking(find_papers, self.store, self.search_index, text, limit)
