"""Papers in and out of the `papers` table; rows become frozen `Paper`s before they leave."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select, update

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
    """What an upsert did: papers seen for the first time, and known papers that changed."""

    inserted: list[Paper] = field(default_factory=list)
    updated: list[Paper] = field(default_factory=list)

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


def upsert_papers(conn: Connection, batch: Iterable[Paper], now: datetime) -> UpsertResult:
    """Insert new papers and merge changes into known ones; an unchanged paper is not touched,
    so ingesting the same day twice writes nothing."""
    incoming = merge_batch(batch)
    result = UpsertResult()
    ids = list(incoming)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = conn.execute(select(papers).where(papers.c.arxiv_id.in_(chunk))).mappings()
        known = {row["arxiv_id"]: paper_from_row(row) for row in rows}
        for arxiv_id in chunk:
            new = incoming[arxiv_id]
            old = known.get(arxiv_id)
            if old is None:
                result.inserted.append(new)
            else:
                combined = old.merged_with(new)
                if combined != old:
                    result.updated.append(combined)
    if not result.changed:
        return result
    rev = _next_revisions(conn, len(result.changed))
    if result.inserted:
        conn.execute(
            papers.insert(),
            [
                {**_paper_values(p), "first_seen_at": now, "updated_at": now, "rev": rev + i}
                for i, p in enumerate(result.inserted)
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


def _next_revisions(conn: Connection, count: int) -> int:
    """Reserve `count` revision numbers; the row lock keeps two writers from sharing one."""
    row = conn.execute(
        select(meta.c.value).where(meta.c.key == "paper_rev").with_for_update()
    ).scalar_one_or_none()
    if row is None:
        start = (conn.execute(select(func.max(papers.c.rev))).scalar_one_or_none() or 0) + 1
        conn.execute(meta.insert().values(key="paper_rev", value=start + count - 1))
        return int(start)
    conn.execute(update(meta).where(meta.c.key == "paper_rev").values(value=row + count))
    return int(row) + 1


def get_papers(conn: Connection, ids: Sequence[str]) -> dict[str, Paper]:
    found: dict[str, Paper] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        for row in conn.execute(select(papers).where(papers.c.arxiv_id.in_(chunk))).mappings():
            found[row["arxiv_id"]] = paper_from_row(row)
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
