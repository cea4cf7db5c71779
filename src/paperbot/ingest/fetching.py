"""A day fetched from every source at once: each source's result (or failure) recorded in the
store and counted in the ingest's report, and a failing source skipped, not fatal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import date

from paperbot import metrics
from paperbot.errors import SourceError
from paperbot.ingest.report import IngestReport
from paperbot.models import Paper
from paperbot.ports import FetchResult, PaperSource
from paperbot.store.store import Store

log = logging.getLogger(__name__)


async def fetch_day(
    sources: Sequence[PaperSource], day: date, store: Store, report: IngestReport
) -> list[Paper]:
    """Every source's papers of `day`, in the sources' order; `report` says what each gave."""
    results = await asyncio.gather(
        *(source.fetch_day(day) for source in sources), return_exceptions=True
    )
    batch: list[Paper] = []
    for source, result in zip(sources, results, strict=True):
        if isinstance(result, FetchResult):
            report.fetched[source.name] = len(result.papers)
            report.skipped[source.name] = result.skipped
            report.duplicates[source.name] = result.duplicates
            batch.extend(result.papers)
            await asyncio.to_thread(
                store.record_source_result, source.name, len(result.papers), None
            )
        else:
            reason = result.reason if isinstance(result, SourceError) else repr(result)
            report.failed[source.name] = reason
            log.warning("source %s failed for %s: %s", source.name, day, reason)
            metrics.source_error(source.name)
            await asyncio.to_thread(store.record_source_result, source.name, None, reason)
    return batch
