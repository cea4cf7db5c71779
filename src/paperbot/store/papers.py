"""Papers in and out of the `papers` table; rows become frozen `Paper`s before they leave."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    String,
    bindparam,
    cast,
    func,
    literal,
    select,
    update,
)

from paperbot.models import Paper
from paperbot.store.tables import meta, papers

_CHUNK = 500


def paper_from_row(row: RowMapping) -> Paper:
    return Paper(
        arxiv_id=row["arxiv_id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=tuple(row["authors"]),
        categories=tuple(row["categories"]),
        published_at=row["published_at"],
        featured_on=row["featured_on"],
        upvotes=row["upvotes"],
        comments=row["comments"],
        github_repo=row["github_repo"],
        github_stars=row["github_stars"],
        project_page=row["project_page"],
        ai_summary=row["ai_summary"],
        ai_keywords=tuple(row["ai_keywords"]),
        sources=tuple(row["sources"]),
    )


def _paper_values(paper: Paper) -> dict[str, Any]:
    return {
        "arxiv_id": paper.arxiv_id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "published_at": paper.published_at,
        "featured_on": paper.featured_on,
        "upvotes": paper.upvotes,
        "comments": paper.comments,
        "github_repo": paper.github_repo,
        "github_stars": paper.github_stars,
        "project_page": paper.project_page,
        "ai_summary": paper.ai_summary,
        "ai_keywords": list(paper.ai_keywords),
        "sources": list(paper.sources),
    }


def _storable(paper: Paper) -> Paper:
    repo, page = _fits(paper.github_repo, 300), _fits(paper.project_page, 500)
    if repo == paper.github_repo and page == paper.project_page:
        return paper
    return replace(paper, github_repo=repo, project_page=page)


def _fits(url: str | None, limit: int) -> str | None:
    """A link longer than its column is dropped, not cut: half a URL leads nowhere, and on
    PostgreSQL an overlong value would fail the whole batch."""
    return url if url is None or len(url) <= limit else None


@dataclass(slots=True)
class UpsertResult:
    """What an upsert did: papers seen for the first time, and known papers that changed, with
    the revisions they were given (inserted first, in order; 0 and 0 when nothing changed)."""

    inserted: list[Paper] = field(default_factory=list)
    updated: list[Paper] = field(default_factory=list)
    first_rev: int = 0
    last_rev: int = 0

    @property
    def changed(self) -> list[Paper]:
        return self.inserted + self.updated


def merge_batch(batch: Iterable[Paper]) -> dict[str, Paper]:
    """One paper per arXiv id, however many times a batch (or two sources) named it."""
    merged: dict[str, Paper] = {}
    for raw in batch:
        paper = _storable(raw)
        known = merged.get(paper.arxiv_id)
        merged[paper.arxiv_id] = paper if known is None else known.merged_with(paper)
    return merged


@dataclass(slots=True)
class UpsertPlan:
    """What an upsert will write: new papers, and known papers that changed, each with the
    version stored until now (so an ingest can tell which matches are new)."""

    inserted: list[Paper] = field(default_factory=list)
    updated: list[tuple[Paper, Paper]] = field(default_factory=list)  # (stored, merged)

    @property
    def changed(self) -> list[Paper]:
        return self.inserted + [merged for _, merged in self.updated]


def upsert_papers(
    conn: Connection,
    batch: Iterable[Paper],
    now: datetime,
    first_seen: Callable[[Paper], datetime | None] | None = None,
) -> UpsertResult:
    """Insert new papers and merge changes into known ones; an unchanged paper is not touched,
    so ingesting the same day twice writes nothing. `first_seen` dates a new paper (default:
    now; a backfill gives history its own dates, so old papers never look new)."""
    return write_plan(conn, plan_upsert(conn, batch), now, first_seen)


def plan_upsert(conn: Connection, batch: Iterable[Paper]) -> UpsertPlan:
    """Read what an upsert of `batch` would change; writes nothing."""
    incoming = merge_batch(batch)
    plan = UpsertPlan()
    ids = list(incoming)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = conn.execute(select(papers).where(papers.c.arxiv_id.in_(chunk))).mappings()
        known = {row["arxiv_id"]: paper_from_row(row) for row in rows}
        for arxiv_id in chunk:
            new = incoming[arxiv_id]
            old = known.get(arxiv_id)
            if old is None:
                plan.inserted.append(new)
            else:
                combined = old.merged_with(new)
                if combined != old:
                    plan.updated.append((old, combined))
    return plan


def write_plan(
    conn: Connection,
    plan: UpsertPlan,
    now: datetime,
    first_seen: Callable[[Paper], datetime | None] | None = None,
) -> UpsertResult:
    """Write what `plan_upsert` found (read in the same transaction, or just before it by the
    only writer: the ingest runs under a lease)."""
    result = UpsertResult(inserted=plan.inserted, updated=[merged for _, merged in plan.updated])
    if not result.changed:
        return result
    rev = _next_revisions(conn, len(result.changed))
    result.first_rev, result.last_rev = rev, rev + len(result.changed) - 1
    if result.inserted:
        seen = [_seen_at(first_seen, p, now) for p in result.inserted]
        if conn.dialect.name == "sqlite":
            _insert_sqlite(conn, result.inserted, seen, now, rev)
        else:
            conn.execute(
                papers.insert(),
                [
                    {**_paper_values(p), "first_seen_at": at, "updated_at": now, "rev": rev + i}
                    for i, (p, at) in enumerate(zip(result.inserted, seen, strict=True))
                ],
            )
    base = rev + len(result.inserted)
    for i, paper in enumerate(result.updated):
        conn.execute(
            update(papers)
            .where(papers.c.arxiv_id == paper.arxiv_id)
            .values(**_paper_values(paper), updated_at=now, rev=base + i)
        )
    return result


def _seen_at(
    first_seen: Callable[[Paper], datetime | None] | None, paper: Paper, now: datetime
) -> datetime:
    found = first_seen(paper) if first_seen is not None else None
    return now if found is None or found > now else found


# The order of the values `_insert_sqlite` builds; a schema change must update both.
_COLUMNS = [
    "arxiv_id", "title", "abstract", "authors", "categories", "published_at", "featured_on",
    "upvotes", "comments", "github_repo", "github_stars", "project_page", "ai_summary",
    "ai_keywords", "sources", "first_seen_at", "updated_at", "rev",
]  # fmt: skip
assert set(_COLUMNS) == {c.name for c in papers.columns}, "update _insert_sqlite"
_INSERT_SQLITE = (
    f"INSERT INTO papers ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    "ON CONFLICT (arxiv_id) DO NOTHING"
)


def _insert_sqlite(
    conn: Connection, batch: Sequence[Paper], seen: Sequence[datetime], now: datetime, rev: int
) -> None:
    """New papers in one executemany of rows serialised here exactly as the column types would
    (JSON text, naive UTC "YYYY-MM-DD HH:MM:SS.ffffff"): SQLAlchemy's per-value type processing
    cost more than the insert itself, and a backfill inserts millions of rows."""
    updated = _sqlite_time(now)
    rows = []
    for i, (p, at) in enumerate(zip(batch, seen, strict=True)):
        published = _sqlite_time(p.published_at)
        rows.append(
            (
                p.arxiv_id,
                p.title,
                p.abstract,
                _json(p.authors),
                _json_often(p.categories),
                published,
                p.featured_on.isoformat() if p.featured_on is not None else None,
                p.upvotes,
                p.comments,
                p.github_repo,
                p.github_stars,
                p.project_page,
                p.ai_summary,
                _json(p.ai_keywords),
                _json_often(p.sources),
                published if at is p.published_at else _sqlite_time(at),
                updated,
                rev + i,
            )
        )
    conn.exec_driver_sql(_INSERT_SQLITE, rows)


def _json(values: tuple[str, ...]) -> str:
    """json.dumps(list(values)), byte for byte, without the encoder's per-call overhead."""
    return "[" + ", ".join(map(_quote, values)) + "]"


_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii
_json_often = lru_cache(maxsize=4096)(_json)  # categories and sources repeat across papers


def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def read_meta(conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    rows = conn.execute(select(meta.c.key, meta.c.value).where(meta.c.key.in_(list(keys))))
    return {row.key: int(row.value) for row in rows}


def write_meta(conn: Connection, values: Mapping[str, int]) -> None:
    """Set `meta` values (one small row each), inserting the ones not there yet."""
    for key, value in values.items():
        if not conn.execute(update(meta).where(meta.c.key == key).values(value=value)).rowcount:
            conn.execute(meta.insert().values(key=key, value=value))


def _next_revisions(conn: Connection, count: int) -> int:
    """Reserve `count` revision numbers in one statement: its row lock (held to commit) keeps
    two writers from sharing one, on SQLite too, where a read before the write would not."""
    last = conn.execute(
        update(meta)
        .where(meta.c.key == "paper_rev")
        .values(value=meta.c.value + count)
        .returning(meta.c.value)
    ).scalar_one_or_none()
    if last is None:
        start = (conn.execute(select(func.max(papers.c.rev))).scalar_one_or_none() or 0) + 1
        conn.execute(meta.insert().values(key="paper_rev", value=start + count - 1))
        return int(start)
    return int(last) - count + 1


def get_papers(conn: Connection, ids: Sequence[str]) -> dict[str, Paper]:
    found: dict[str, Paper] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        for row in conn.execute(select(papers).where(papers.c.arxiv_id.in_(chunk))).mappings():
            found[row["arxiv_id"]] = paper_from_row(row)
    return found


# One expanding parameter for the ids, not a SQL literal coerced per id on every call.
_REVISIONS = select(papers.c.arxiv_id, papers.c.rev).where(
    papers.c.arxiv_id.in_(bindparam("ids", expanding=True))
)


class PaperCache:
    """Recently read papers by id with the revision they were read at: a thousand digests of one
    day read the same few thousand papers, and a revision check is much cheaper than decoding
    a row again. A paper changed by any process has a new revision, and revisions commit in
    order (`_next_revisions` holds a row lock to commit), so while the newest revision stays
    what it was when a paper was last checked, the paper is current: one indexed max() then
    answers for every cached paper."""

    def __init__(self, size: int = 5000) -> None:
        self.size = size
        # id -> (revision read, paper, newest revision of the store when last checked)
        self._papers: dict[str, tuple[int, Paper, int]] = {}

    def get_papers(self, conn: Connection, ids: Sequence[str]) -> dict[str, Paper]:
        found: dict[str, Paper] = {}
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return found
        latest = int(conn.execute(_LATEST).scalar_one_or_none() or 0)
        unsure: list[str] = []
        for arxiv_id in wanted:
            cached = self._papers.get(arxiv_id)
            if cached is not None and cached[2] == latest:
                found[arxiv_id] = cached[1]
            else:
                unsure.append(arxiv_id)
        missing: list[str] = []
        for start in range(0, len(unsure), _CHUNK):
            chunk = unsure[start : start + _CHUNK]
            for arxiv_id, rev in conn.execute(_REVISIONS, {"ids": chunk}):
                cached = self._papers.get(arxiv_id)
                if cached is not None and cached[0] == rev:
                    found[arxiv_id] = cached[1]
                    self._papers[arxiv_id] = (rev, cached[1], latest)
                else:
                    missing.append(arxiv_id)
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            for row in conn.execute(select(papers).where(papers.c.arxiv_id.in_(chunk))).mappings():
                paper = found[row["arxiv_id"]] = paper_from_row(row)
                self._papers.pop(paper.arxiv_id, None)
                self._papers[paper.arxiv_id] = (row["rev"], paper, latest)
        while len(self._papers) > self.size:  # dicts keep insertion order: oldest first
            del self._papers[next(iter(self._papers))]
        return found


_LATEST = select(func.max(papers.c.rev))


def papers_in_revisions(conn: Connection, first: int, last: int) -> list[tuple[int, Paper]]:
    rows = conn.execute(
        select(papers).where(papers.c.rev >= first, papers.c.rev <= last).order_by(papers.c.rev)
    ).mappings()
    return [(row["rev"], paper_from_row(row)) for row in rows]


def revisions_seen_since(conn: Connection, since: datetime) -> list[tuple[str, int]]:
    """(id, revision) of the papers first seen since `since`, in revision order: no row
    decoded, and all in one row ("id=rev id=rev ..."). A command reads this while an ingest
    runs, and SQLite's driver lets go of the GIL for every row it steps: each of thousands of
    rows then waited for the ingest's thread to give the GIL back (0.8 s for 4,000)."""
    aggregate = func.string_agg if conn.dialect.name == "postgresql" else func.group_concat
    word = papers.c.arxiv_id + literal("=") + cast(papers.c.rev, String)
    packed = conn.execute(
        select(aggregate(word, literal(" "))).where(papers.c.first_seen_at >= since)
    ).scalar_one_or_none()
    found = []
    for item in (packed or "").split():
        arxiv_id, _, rev = item.rpartition("=")
        found.append((arxiv_id, int(rev)))
    found.sort(key=itemgetter(1))
    return found


def papers_changed_since(conn: Connection, rev: int, limit: int) -> list[tuple[int, Paper]]:
    rows = conn.execute(
        select(papers).where(papers.c.rev > rev).order_by(papers.c.rev).limit(limit)
    ).mappings()
    return [(row["rev"], paper_from_row(row)) for row in rows]


def papers_seen_since(conn: Connection, since: datetime) -> Iterator[Paper]:
    rows = conn.execute(
        select(papers).where(papers.c.first_seen_at >= since).order_by(papers.c.first_seen_at)
    ).mappings()
    for row in rows:
        yield paper_from_row(row)
