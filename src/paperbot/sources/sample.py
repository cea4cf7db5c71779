"""The bundled offline source: real titles and abstracts shipped in the package, so the console
demo and the tests have papers without any network."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, time
from functools import lru_cache
from importlib import resources

from paperbot.models import Paper
from paperbot.ports import FetchResult

PAPERS_PER_DAY = 60


@lru_cache(maxsize=1)
def sample_papers() -> tuple[Paper, ...]:
    """All sample papers (about 360), in their stored order."""
    raw = resources.files("paperbot.data").joinpath("sample_papers.json.gz").read_bytes()
    records = json.loads(gzip.decompress(raw))
    return tuple(
        Paper(
            arxiv_id=r["arxiv_id"],
            title=r["title"],
            abstract=r["abstract"],
            categories=tuple(r["categories"]),
            upvotes=r["upvotes"],
            sources=("sample",),
        )
        for r in records
    )


class SampleSource:
    """Serves a rotating slice of the sample each day, as if they were that day's papers."""

    name = "sample"

    def __init__(self, per_day: int = PAPERS_PER_DAY) -> None:
        self.per_day = per_day

    async def fetch_day(self, day: date) -> FetchResult:
        papers = sample_papers()
        start = (day.toordinal() * self.per_day) % len(papers)
        chosen = [papers[(start + i) % len(papers)] for i in range(min(self.per_day, len(papers)))]
        published = datetime.combine(day, time(0, 0), tzinfo=UTC)
        return FetchResult(
            source=self.name,
            papers=[_dated(p, day, published) for p in chosen],
        )


def _dated(paper: Paper, day: date, published: datetime) -> Paper:
    from dataclasses import replace

    return replace(paper, featured_on=day, published_at=published)
