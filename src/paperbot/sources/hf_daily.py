"""Hugging Face Daily Papers: the community's picks of the day, with upvotes and code links."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from typing import Any

import httpx

from paperbot.errors import InvalidInput
from paperbot.models import Paper, normalize_arxiv_id
from paperbot.ports import FetchResult
from paperbot.settings import SourcesSettings
from paperbot.sources.http import MalformedResponse, Params, RetryingClient, Sleep

logger = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 200


class BadRecord(ValueError):
    """One item we cannot turn into a Paper; it is skipped and the rest of the page goes on."""


class HFDailySource:
    """Papers featured on huggingface.co/papers, keyed by the day they were featured."""

    name: str = "hf"

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: SourcesSettings,
        *,
        sleep: Sleep = asyncio.sleep,
        max_pages: int = 20,
    ) -> None:
        self._http = RetryingClient(client, settings, source=self.name, sleep=sleep)
        self._base_url = settings.hf.base_url.rstrip("/")
        self._page_limit = settings.hf.page_limit
        self._max_pages = max_pages

    async def fetch_day(self, day: date) -> FetchResult:
        """Every paper featured on `day`; pages until a short page, or one that adds nothing new
        (which guards against a server that ignores `p` and keeps sending page one)."""
        result = FetchResult(source=self.name)
        seen: set[str] = set()
        url = f"{self._base_url}/api/daily_papers"
        for page in range(self._max_pages):
            params: Params = {"date": day.isoformat(), "limit": self._page_limit, "p": page}
            items = await self._http.fetch(url, params, parse=_json_list)
            added = self._collect(items, result, seen, featured_on=day)
            if len(items) < self._page_limit or added == 0:
                break
        else:
            logger.warning("hf: stopped after %d pages for %s", self._max_pages, day)
        if result.duplicates:
            logger.info("hf: dropped %d duplicate record(s) for %s", result.duplicates, day)
        return result

    async def search(self, query: str) -> FetchResult:
        """Hugging Face's own paper search, for papers our store has not seen yet."""
        text = " ".join(query.split())
        if not text:
            raise InvalidInput("search needs some words")
        if len(text) > MAX_QUERY_LENGTH:
            raise InvalidInput(f"search is limited to {MAX_QUERY_LENGTH} characters")
        result = FetchResult(source=self.name)
        items = await self._http.fetch(
            f"{self._base_url}/api/papers/search", {"q": text}, parse=_json_list
        )
        self._collect(items, result, set(), featured_on=None)
        return result

    def _collect(
        self,
        items: list[Any],
        result: FetchResult,
        seen: set[str],
        *,
        featured_on: date | None,
    ) -> int:
        added = 0
        for item in items:
            try:
                paper = parse_item(item, featured_on)
            except BadRecord as exc:
                logger.warning("hf: skipped a record: %s", exc)
                result.skipped += 1
                continue
            if paper is None:
                continue
            if paper.arxiv_id in seen:
                result.duplicates += 1
                continue
            seen.add(paper.arxiv_id)
            result.papers.append(paper)
            added += 1
        return added


def _json_list(response: httpx.Response) -> list[Any]:
    try:
        body = response.json()
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        raise MalformedResponse(f"not JSON: {type(exc).__name__}") from None
    if not isinstance(body, list):
        raise MalformedResponse(f"expected a JSON list, got {type(body).__name__}")
    return body


def parse_item(item: object, featured_on: date | None) -> Paper | None:
    """A Paper from one daily-papers (or search) item; None for a withdrawn paper.

    Identity and title are required, so their absence raises BadRecord; optional fields of the
    wrong type are dropped instead, so one odd field never costs us the whole paper.
    """
    if not isinstance(item, dict):
        raise BadRecord(f"item is a {type(item).__name__}, not an object")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise BadRecord("item has no paper object")
    raw_id = paper.get("id")
    arxiv_id = normalize_arxiv_id(raw_id) if isinstance(raw_id, str) else None
    if arxiv_id is None:
        raise BadRecord(f"no arXiv id in paper.id={_short(raw_id)}")
    if paper.get("withdrawnAt"):
        logger.info("hf: %s is withdrawn, leaving it out", arxiv_id)
        return None
    title = _collapse(_text(paper, "title") or _text(item, "title"))
    if not title:
        raise BadRecord(f"{arxiv_id} has no title")
    abstract = _collapse(_text(paper, "summary") or _text(item, "summary"))
    if featured_on is None:
        featured = _timestamp(paper.get("submittedOnDailyAt"))
        featured_on = featured.date() if featured else None
    return Paper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract,
        authors=_authors(paper.get("authors")),
        published_at=_timestamp(paper.get("publishedAt") or item.get("publishedAt")),
        featured_on=featured_on,
        upvotes=_count(paper.get("upvotes")) or 0,
        comments=_count(item.get("numComments")) or 0,
        github_repo=_text(paper, "githubRepo"),
        github_stars=_count(paper.get("githubStars")),
        project_page=_text(paper, "projectPage"),
        ai_summary=_text(paper, "ai_summary"),
        ai_keywords=_keywords(paper.get("ai_keywords")),
        sources=("hf",),
    )


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return (value.strip() or None) if isinstance(value, str) else None


def _collapse(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def _count(value: object) -> int | None:
    # bool is an int in Python, but `true` upvotes is a wire-format bug, not a count.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _authors(value: object) -> tuple[str, ...]:
    """Names in order; hidden authors keep their name, since HF hides only their profile link."""
    if not isinstance(value, list):
        return ()
    names = (a.get("name") for a in value if isinstance(a, dict))
    return tuple(" ".join(n.split()) for n in names if isinstance(n, str) and n.strip())


def _keywords(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(k.strip() for k in value if isinstance(k, str) and k.strip()))


def _timestamp(value: object) -> datetime | None:
    """A tz-aware UTC datetime from HF's ISO strings (`...Z`); naive ones are taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
