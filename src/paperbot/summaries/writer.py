"""TL;DRs for the papers of a digest about to be posted: from the database when a paper has one,
else from the language model, within a daily budget and a deadline.

Whatever goes wrong (a slow or failing endpoint, a spent budget), the digest goes out on time:
papers without a TL;DR show Hugging Face's AI summary or the abstract's first sentences, as they
would with TL;DRs off. A paper is summarised once, however many channels post it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from paperbot.models import Digest, Paper
from paperbot.store.store import Store
from paperbot.summaries.client import ChatCompletions, SummaryError
from paperbot.summaries.prompt import MAX_OUTPUT_TOKENS, clean_tldr, messages_for

log = logging.getLogger(__name__)

# After a round in which every request failed, the endpoint is left alone this long, so a dead
# endpoint costs each digest nothing rather than a timeout.
COOL_OFF_SECONDS = 300.0
# Digests built within this many seconds of each other are one burst (channels sharing an
# hour): together they wait at most `max_wait`, not `max_wait` each, or a thousand channels
# prepared a few at a time would go out long after their hour.
BURST_GAP_SECONDS = 60.0


class TldrWriter:
    def __init__(
        self,
        store: Store,
        completions: ChatCompletions,
        *,
        daily_papers: int = 200,
        daily_tokens: int = 200_000,
        max_wait: float = 20.0,
        max_input_chars: int = 3000,
        concurrency: int = 4,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.completions = completions
        self.daily_papers = daily_papers
        self.daily_tokens = daily_tokens
        self.max_wait = max_wait
        self.max_input_chars = max_input_chars
        self.clock = clock or store.clock
        self.monotonic = monotonic
        self._gate = asyncio.Semaphore(concurrency)
        # One request per paper in this process, however many digests want it at once.
        self._in_flight: dict[str, asyncio.Task[str | None]] = {}
        self._booked_tokens = 0  # by requests under way, not yet in the database
        self._quiet_until = 0.0
        self._burst_deadline = 0.0
        self._last_call = float("-inf")
        self.last_wait = 0.0  # what the latest digest could wait, in seconds (observability)

    async def annotate(self, digest: Digest) -> Digest:
        """The digest with a TL;DR on each item that got one in time."""
        if not digest.items:
            return digest
        try:
            found = await self.tldrs([item.paper for item in digest.items])
        except Exception as exc:  # the digest goes out without TL;DRs rather than not at all
            log.warning("tldr: skipped for this digest: %s", f"{type(exc).__name__}: {exc}"[:200])
            return digest
        items = tuple(replace(item, tldr=found.get(item.paper.arxiv_id)) for item in digest.items)
        return replace(digest, items=items)

    async def tldrs(self, papers: Sequence[Paper]) -> dict[str, str]:
        """TL;DRs by paper id, for those that have one or get one within `max_wait`."""
        ids = [paper.arxiv_id for paper in papers]
        known = await asyncio.to_thread(self.store.summaries.get, ids)
        # An empty text records a paper the model gave nothing usable for: not asked again.
        found = {paper_id: text for paper_id, text in known.items() if text}
        missing = [p for p in papers if p.arxiv_id not in known and p.abstract.strip()]
        if not missing or self.monotonic() < self._quiet_until:
            return found
        tasks = await self._start(missing)
        if not tasks:
            return found
        self.last_wait = self._wait_allowed()
        done, _ = await asyncio.wait(tasks.values(), timeout=self.last_wait)
        # Pending requests keep running (their answers are stored for the next digest); this
        # digest just does not wait for them.
        failures: Counter[str] = Counter()
        spent = endpoint_failures = 0
        for paper_id, task in tasks.items():
            if task not in done:
                failures[f"not answered within {self.last_wait:.3g} s"] += 1
                continue
            error = task.exception()
            if isinstance(error, BudgetSpent):
                spent += 1
            elif isinstance(error, SummaryError):
                endpoint_failures += 1
                failures[str(error)] += 1
            elif error is not None:
                failures[f"{type(error).__name__}"] += 1
            elif task.result() is not None:
                found[paper_id] = task.result()  # type: ignore[assignment]
            else:
                failures["no usable sentence"] += 1
        if spent:
            log.info("tldr: daily token budget spent; %d papers shown with summaries", spent)
        if failures:
            if endpoint_failures and endpoint_failures == len(tasks) - spent:
                self._quiet_until = self.monotonic() + COOL_OFF_SECONDS
            reasons = ", ".join(f"{n} {why}" for why, n in failures.most_common(3))
            log.warning(
                "tldr: %d of %d papers without a TL;DR (%s); showing their summaries instead",
                sum(failures.values()),
                len(tasks),
                reasons,
            )
        return found

    def _wait_allowed(self) -> float:
        """Seconds this digest may wait: what is left of its burst's `max_wait`."""
        now = self.monotonic()
        if now - self._last_call > BURST_GAP_SECONDS:
            self._burst_deadline = now + self.max_wait
        self._last_call = now
        return max(0.0, self._burst_deadline - now)

    async def _start(self, papers: Sequence[Paper]) -> dict[str, asyncio.Task[str | None]]:
        """Tasks for the papers the day's paper budget still allows (joining requests under
        way); the token budget is checked by each request before it goes out."""
        usage = await asyncio.to_thread(self.store.summaries.usage, self._midnight())
        tasks: dict[str, asyncio.Task[str | None]] = {}
        room = self.daily_papers - usage.papers - len(self._in_flight)
        skipped = 0
        for paper in papers:
            running = self._in_flight.get(paper.arxiv_id)
            if running is not None:
                tasks[paper.arxiv_id] = running
                continue
            if room <= 0:
                skipped += 1
                continue
            room -= 1
            task = asyncio.create_task(self._summarise(paper), name=f"tldr {paper.arxiv_id}")
            self._in_flight[paper.arxiv_id] = task
            task.add_done_callback(self._finished)
            tasks[paper.arxiv_id] = task
        if skipped:
            log.info("tldr: daily paper budget spent; %d papers shown with summaries", skipped)
        return tasks

    def _midnight(self) -> datetime:
        return self.clock().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def _finished(self, task: asyncio.Task[str | None]) -> None:
        paper_id = task.get_name().removeprefix("tldr ")
        if self._in_flight.get(paper_id) is task:
            del self._in_flight[paper_id]
        if not task.cancelled():
            task.exception()  # retrieved here: a late failure was already counted, or is moot

    async def _summarise(self, paper: Paper) -> str | None:
        messages = messages_for(paper, self.max_input_chars)
        # Booked before the request at its most (input at ~4 characters a token, plus the
        # longest answer allowed), so requests running side by side cannot overshoot the budget.
        estimate = sum(len(m["content"]) for m in messages) // 4 + MAX_OUTPUT_TOKENS
        async with self._gate:
            used = (await asyncio.to_thread(self.store.summaries.usage, self._midnight())).tokens
            if used + self._booked_tokens + estimate > self.daily_tokens:
                raise BudgetSpent
            self._booked_tokens += estimate
            try:
                completion = await self.completions.complete(messages)
                text = clean_tldr(completion.text)
                await asyncio.to_thread(
                    self.store.summaries.add,
                    paper.arxiv_id,
                    text or "",
                    self.completions.model,
                    completion.tokens,
                )
            finally:
                self._booked_tokens -= estimate
        return text


class BudgetSpent(Exception):
    """The day's token budget has no room for this request."""
