"""Each channel's taste, kept up to date: retrained from its own votes in the background (after
a vote, debounced, and at start-up and after an ingest for channels whose stored model is
stale), persisted in the database, and read back to rank a digest and to suggest "also worth a
look" papers. A digest never trains: it uses the stored model as it is (a retrain a few seconds
behind is fine), or goes on without taste when there is none, so building digests for a
thousand channels neither costs a thousand retrains nor takes the database's write lock.

Nothing learned here is shared between channels: a model is trained on one channel's votes and
stored in that channel's row. What is shared is the feature hashing (no state) and a cache of
paper vectors (derived from the papers alone).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from scipy import sparse

from paperbot.errors import InvalidInput
from paperbot.models import ChannelKey, Paper
from paperbot.store.store import utc_now
from paperbot.store.taste import StoredTaste, TasteStore, TrainedModel
from paperbot.taste.features import VectorCache
from paperbot.taste.model import TasteModel, fit_rows, strongest_words
from paperbot.taste.similar import most_like

log = logging.getLogger(__name__)

MIN_UP_VOTES = 5
"""Below this many papers voted up, a model knows too little to reorder anyone's digest."""
MAX_TRAINING = 400
"""The channel's latest voted papers a model learns from: recent taste, bounded retrain time."""
WEAK_NEGATIVES = 300
"""The latest papers a channel did not vote on, learned from as weak negatives (a small weight,
model.WEAK_WEIGHT): benchmarks/bench_taste.py measures them beside votes alone and beside papers
shown and left unvoted (see benchmarks/README.md)."""
SUGGESTION_POOL = 3000
DEFAULT_ALSO_WORTH = 3
MAX_ALSO_WORTH = 10
SUGGEST_ABOVE = 1.0
"""A suggestion must score this many standard deviations above the day's papers."""
RETRAIN_DELAY = 2.0
"""Seconds a retrain waits after a vote, so a burst of votes costs one retrain."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    paper: Paper
    close_to: str  # the title of the voted-up paper it is most like
    learned: float


@dataclass(frozen=True, slots=True)
class DigestTaste:
    """What taste adds to one digest: a learned score per matched paper (in standard deviations
    from the day's mean, clipped) and the "also worth a look" papers."""

    learned: dict[str, float] = field(default_factory=dict)
    suggestions: tuple[Suggestion, ...] = ()


@dataclass(frozen=True, slots=True)
class TasteSummary:
    up_votes: int
    down_votes: int
    learned: bool
    pull_up: tuple[str, ...] = ()
    pull_down: tuple[str, ...] = ()
    trained_at: datetime | None = None
    also_worth: int = DEFAULT_ALSO_WORTH
    needed: int = MIN_UP_VOTES


class Taste:
    """One per process. Blocking methods run in worker threads (the service calls them through
    `Paperbot.blocking`); `votes_changed` is called on the event loop."""

    def __init__(
        self,
        store: TasteStore,
        clock: Callable[[], datetime] = utc_now,
        *,
        default_also_worth: int = DEFAULT_ALSO_WORTH,
        min_up_votes: int = MIN_UP_VOTES,
        retrain_delay: float = RETRAIN_DELAY,
        weak_negatives: int = WEAK_NEGATIVES,
    ) -> None:
        self.store = store
        self.now = clock
        self.default_also_worth = default_also_worth
        self.min_up_votes = min_up_votes
        self.retrain_delay = retrain_delay
        self.weak_negatives = weak_negatives
        self.vectors = VectorCache()
        self._retraining: set[ChannelKey] = set()
        self._again: set[ChannelKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- training -------------------------------------------------------------------------

    def votes_changed(self, key: ChannelKey) -> None:
        """Retrain soon, in the background; a storm of votes coalesces into one or two."""
        if key in self._retraining:
            self._again.add(key)
            return
        self._retraining.add(key)
        task = asyncio.get_running_loop().create_task(self._retrain_soon(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retrain_soon(self, key: ChannelKey) -> None:
        try:
            while True:
                await asyncio.sleep(self.retrain_delay)
                self._again.discard(key)
                try:
                    await asyncio.to_thread(self.refresh, key)
                except Exception as exc:
                    # The next vote, ingest or start-up retrains it; one line is enough.
                    log.warning("taste: retraining %s failed: %r", key, exc)
                if key not in self._again:
                    return
        finally:
            self._retraining.discard(key)

    def retrain_stale_soon(self) -> None:
        """In the background: retrain every channel whose stored model is stale (votes that
        came while the process was down, a retrain that failed or was cancelled)."""
        task = asyncio.get_running_loop().create_task(self._retrain_stale())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retrain_stale(self) -> None:
        try:
            count = await asyncio.to_thread(self.retrain_stale)
        except Exception as exc:
            log.warning("taste: looking for stale models failed: %r", exc)
            return
        if count:
            log.info("taste: retrained %d stale channel models", count)

    def retrain_stale(self) -> int:
        """Retrain the channels whose votes changed since their model was trained (blocking);
        those a vote's retrain is already waiting for are left to it."""
        done = 0
        for key in self.store.stale():
            if key in self._retraining:
                continue
            try:
                self.refresh(key)
            except Exception as exc:
                log.warning("taste: retraining %s failed: %r", key, exc)
                continue
            done += 1
        return done

    async def aclose(self) -> None:
        """Stop waiting retrains: the next start-up retrains whatever they would have."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def settle(self) -> None:
        """Wait for background retrains (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def refresh(self, key: ChannelKey) -> TasteModel | None:
        """The channel's model, retrained first if its votes changed since; None while it has
        fewer than `min_up_votes` papers voted up. Background work only: it may write."""
        stored = self.store.load(key)
        fingerprint = self.store.vote_fingerprint(key)
        if stored is not None and stored.fingerprint == fingerprint:
            return self._usable(stored)
        return self._retrain(key, fingerprint)

    def stored_model(self, key: ChannelKey) -> TasteModel | None:
        """The model as last trained, never retrained here (digests, `/papers taste`)."""
        stored = self.store.load(key)
        return None if stored is None else self._usable(stored)

    def _usable(self, stored: StoredTaste) -> TasteModel | None:
        if not stored.model or stored.up_votes < self.min_up_votes:
            return None
        return TasteModel.from_bytes(
            stored.model,
            stored.up_votes,
            stored.down_votes,
            stored.weak,
        )

    def _retrain(self, key: ChannelKey, fingerprint: str) -> TasteModel | None:
        voted = self.store.training_votes(key, MAX_TRAINING)
        weak_ids = self.store.background_ids(key, self.weak_negatives)
        fetch = self.store.store.get_papers  # only for papers whose vectors are not cached
        ups, up_rows = self.vectors.rows_by_id([pid for pid, net in voted if net > 0], fetch)
        downs, down_rows = self.vectors.rows_by_id([pid for pid, net in voted if net < 0], fetch)
        weak, weak_rows = self.vectors.rows_by_id(weak_ids, fetch)
        model: TasteModel | None = None
        blob = b""
        if ups:
            rows = sparse.vstack([up_rows, down_rows, weak_rows], format="csr")
            model = fit_rows(rows, len(ups), len(downs), len(weak))
            blob = model.to_bytes()
        self.store.save_model(
            key,
            TrainedModel(
                model=blob,
                fingerprint=fingerprint,
                up_votes=len(ups),
                down_votes=len(downs),
                weak=len(weak),
                trained_at=self.now(),
            ),
        )
        if model is None or len(ups) < self.min_up_votes:
            return None
        log.info("taste: retrained %s on %d up, %d down", key, len(ups), len(downs))
        return model

    # --- digests --------------------------------------------------------------------------

    def also_worth(self, key: ChannelKey) -> int:
        stored = self.store.load(key)
        if stored is None or stored.also_worth is None:
            return self.default_also_worth
        return stored.also_worth

    def set_also_worth(self, key: ChannelKey, count: int) -> None:
        if not 0 <= count <= MAX_ALSO_WORTH:
            raise InvalidInput(f"also is a whole number from 0 (off) to {MAX_ALSO_WORTH}")
        self.store.set_also_worth(key, count)

    def for_digest(
        self, key: ChannelKey, matched: Sequence[Paper], since: datetime | None
    ) -> DigestTaste | None:
        """Learned scores for the digest's matched papers and the day's best unmatched ones;
        None when the channel has no stored model (the digest is then ranked as before)."""
        stored = self.store.load(key)
        model = None if stored is None else self._usable(stored)
        if stored is None or model is None:
            return None
        now = self.now()
        floor = now - timedelta(days=2)
        since = floor if since is None or since < floor else since
        also = self.default_also_worth if stored.also_worth is None else stored.also_worth
        wanted = self.store.candidate_ids(key, since, SUGGESTION_POOL) if also else []
        pool, pool_rows = self.vectors.rows_by_id(wanted, self.store.store.get_papers)
        # Ranking compares the digest's own papers with each other; suggestions compare the
        # day's unmatched papers: each set is scaled on its own.
        rows = sparse.vstack([self.vectors.rows(matched), pool_rows], format="csr")
        scores = model.decision(rows)
        pool_scores = scores[len(matched) :]
        own, pool_z = _zscores(scores[: len(matched)]), _zscores(pool_scores)
        learned = {p.arxiv_id: float(own[n]) for n, p in enumerate(matched)}
        # The best by the score itself: z-scores are clipped, and the dozens of papers at the
        # clip would otherwise go by pool order (benchmarks/bench_taste.py: the papers shown
        # were relevant 0.49 of the time that way, 0.63 this way).
        order = [
            int(i) for i in np.argsort(-pool_scores, kind="stable") if pool_z[i] >= SUGGEST_ABOVE
        ]
        picked = [(pool[i], float(pool_z[i])) for i in order[:also]]
        papers = self.store.store.get_papers([pid for pid, _ in picked]) if picked else {}
        chosen = [(papers[pid], z) for pid, z in picked if pid in papers]
        titles = self._closest_voted(key, [paper for paper, _ in chosen])
        suggestions = tuple(
            Suggestion(paper, title, z) for (paper, z), title in zip(chosen, titles, strict=True)
        )
        return DigestTaste(learned, suggestions)

    def for_resumed(
        self, key: ChannelKey, matched: Sequence[Paper], suggested: Sequence[str]
    ) -> DigestTaste | None:
        """A digest finished after a crash: the same suggestions it had reserved (`suggested`,
        the ids it still has to post beyond its matched papers), whatever the model says now."""
        model = self.stored_model(key)
        papers = self.store.store.get_papers(list(suggested))
        chosen = [papers[pid] for pid in suggested if pid in papers]
        if model is None and not chosen:
            return None
        learned: dict[str, float] = {}
        if model is not None and matched:
            own = _zscores(model.decision(self.vectors.rows(matched)))
            learned = {p.arxiv_id: float(own[n]) for n, p in enumerate(matched)}
        titles = self._closest_voted(key, chosen)
        return DigestTaste(
            learned, tuple(Suggestion(p, t, 0.0) for p, t in zip(chosen, titles, strict=True))
        )

    def _closest_voted(self, key: ChannelKey, chosen: Sequence[Paper]) -> list[str]:
        """The title of the paper voted up that each of `chosen` is most like."""
        if not chosen:
            return []
        voted = [pid for pid, net in self.store.training_votes(key, MAX_TRAINING) if net > 0]
        liked, liked_rows = self.vectors.rows_by_id(voted, self.store.store.get_papers)
        if not liked:
            return ["" for _ in chosen]
        closest = []
        for row in self.vectors.rows(chosen):
            # One dense row at a time: a sparse product against the transpose would build
            # an index over all 2**20 feature columns for every digest.
            dense = np.zeros(row.shape[1], dtype=np.float32)
            dense[row.indices] = row.data
            closest.append(liked[int(np.argmax(liked_rows @ dense))])
        papers = self.store.store.get_papers(sorted(set(closest)))
        return [papers[pid].title if pid in papers else "" for pid in closest]

    # --- /papers like and /papers taste ---------------------------------------------------

    def like(self, key: ChannelKey, target: str, limit: int = 5) -> tuple[Paper, list[Paper]]:
        """The papers most like the one `target` names, among the latest ones stored."""
        return most_like(self.store, self.vectors, key, target, limit)

    def describe(self, key: ChannelKey) -> TasteSummary:
        try:
            model = self.stored_model(key)
        except Exception as exc:
            log.warning("taste: model for %s unavailable: %r", key, exc)
            model = None
        stored = self.store.load(key)
        also = self.also_worth(key)
        up: tuple[str, ...] = ()
        down: tuple[str, ...] = ()
        if model is not None:
            voted = self.store.training_votes(key, MAX_TRAINING)
            papers = self.store.store.get_papers([pid for pid, _ in voted])
            up, down = strongest_words(model, [papers[pid] for pid, _ in voted if pid in papers])
        if stored is None or model is None:
            # Not learned (yet): count the votes themselves, since the stored row, if any, is
            # only as new as the last retrain, which runs a little after a vote.
            voted = self.store.training_votes(key, MAX_TRAINING)
            ups = sum(1 for _, value in voted if value > 0)
            return TasteSummary(
                ups, len(voted) - ups, False, also_worth=also, needed=self.min_up_votes
            )
        return TasteSummary(
            up_votes=stored.up_votes,
            down_votes=stored.down_votes,
            learned=model is not None,
            pull_up=up,
            pull_down=down,
            trained_at=stored.trained_at,
            also_worth=also,
            needed=self.min_up_votes,
        )


def _zscores(values: np.ndarray) -> np.ndarray:
    """Standard deviations from the mean, clipped at 2; all 0 when the values do not vary."""
    spread = float(values.std()) if values.size > 1 else 0.0
    if spread == 0:
        return np.zeros_like(values)
    clipped: np.ndarray = np.clip((values - values.mean()) / spread, -2.0, 2.0)
    return clipped
