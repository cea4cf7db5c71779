"""arXiv: the RSS announcement for the latest day, the query API for any other day.

arXiv's terms allow one request every three seconds over one connection, so every request here
goes through one paced RetryingClient.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from zoneinfo import ZoneInfo

import httpx

from paperbot.errors import InvalidInput, SourceError
from paperbot.models import Paper, normalize_arxiv_id
from paperbot.ports import FetchResult
from paperbot.settings import SourcesSettings
from paperbot.sources.http import Clock, MalformedResponse, Params, RetryingClient, Sleep

logger = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
EASTERN = ZoneInfo("America/New_York")  # arXiv announces at midnight US Eastern

# How long we trust what we learnt about the feed's day before asking the feed again.
FEED_DAY_TTL_SECONDS = 3600.0
# Announcements that carry a paper's first appearance; their <published> is close to submission.
_FIRST_APPEARANCE = frozenset({"new", "cross"})
_FORBIDDEN_MARKUP = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_RSS_ABSTRACT_PREFIX = re.compile(r"^arXiv:\S+\s+Announce Type:\s*[\w-]+\s+Abstract:\s*")


class BadRecord(ValueError):
    """One entry we cannot turn into a Paper; it is skipped and the rest of the feed goes on."""


@dataclass(frozen=True, slots=True)
class Announcement:
    """What the RSS feed holds right now: the day it announces and the papers kept from it."""

    day: date | None
    result: FetchResult


class ArxivSource:
    """New papers in the configured arXiv categories."""

    name: str = "arxiv"

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: SourcesSettings,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        page_size: int = 200,
        max_pages: int = 50,
    ) -> None:
        arxiv = settings.arxiv
        self._http = RetryingClient(
            client,
            settings,
            source=self.name,
            min_interval=arxiv.min_interval_seconds,
            one_at_a_time=True,
            sleep=sleep,
            clock=clock,
        )
        self._clock = clock
        self._categories = tuple(arxiv.categories)
        self._announce_types = frozenset(arxiv.announce_types)
        self._rss_url = f"{arxiv.rss_base_url.rstrip('/')}/atom/{'+'.join(arxiv.categories)}"
        self._api_url = f"{arxiv.api_base_url.rstrip('/')}/api/query"
        self._page_size = page_size
        self._max_pages = max_pages
        self._feed_day: tuple[date, float] | None = None

    async def fetch_day(self, day: date) -> FetchResult:
        """The feed's papers when `day` is the day it announces; otherwise the query API's papers
        submitted on `day` (the feed keeps no history)."""
        if not self._known_before_feed(day):
            announcement = await self.fetch_announcement()
            if announcement.day == day:
                return announcement.result
            logger.info(
                "arxiv: the feed announces %s, asking the query API for %s", announcement.day, day
            )
        return await self.fetch_range(day, day)

    async def fetch_announcement(self) -> Announcement:
        """The latest announcement, keeping only the configured announce types."""
        feed = await self._http.fetch(self._rss_url, None, parse=_atom_feed)
        result = FetchResult(source=self.name)
        seen: set[str] = set()
        for entry in feed.findall(f"{ATOM}entry"):
            kind = (entry.findtext(f"{ARXIV}announce_type") or "").strip()
            if kind in self._announce_types:
                self._keep(result, seen, partial(parse_rss_entry, entry, kind))
        day = _feed_day(feed)
        if day is not None:
            self._feed_day = (day, self._clock())
        _log_duplicates(result, f"the feed of {day}")
        return Announcement(day, result)

    async def fetch_range(self, start: date, end: date) -> FetchResult:
        """Papers submitted from `start` to `end` (inclusive), newest first."""
        if end < start:
            raise ValueError(f"range ends ({end}) before it starts ({start})")
        categories = " OR ".join(f"cat:{category}" for category in self._categories)
        window = f"submittedDate:[{start:%Y%m%d}0000 TO {end:%Y%m%d}2359]"
        return await self._query(
            {
                "search_query": f"({categories}) AND {window}",
                "sortBy": "submittedDate",
                "sortOrder": "descending",
            }
        )

    async def fetch_ids(self, ids: Sequence[str]) -> FetchResult:
        """Specific papers by arXiv id (any version, old or new style)."""
        wanted = [normalize_arxiv_id(raw) for raw in ids]
        if not wanted or None in wanted:
            raise InvalidInput("give arXiv ids such as 2401.12345 or hep-th/9901001")
        return await self._query({"id_list": ",".join(i for i in wanted if i)})

    async def _query(self, params: dict[str, str]) -> FetchResult:
        result = FetchResult(source=self.name)
        seen: set[str] = set()
        start = 0
        for _ in range(self._max_pages):
            page: Params = {**params, "start": start, "max_results": self._page_size}
            feed = await self._http.fetch(self._api_url, page, parse=self._api_feed)
            entries = feed.findall(f"{ATOM}entry")
            for entry in entries:
                self._keep(result, seen, partial(parse_api_entry, entry))
            start += len(entries)
            total = _to_int(feed.findtext(f"{OPENSEARCH}totalResults"))
            if total is None or start >= total:
                break
            if not entries:
                # The API now and then serves an empty page mid-way; keep what we have.
                logger.warning("arxiv: empty page at %d of %d results, stopping", start, total)
                break
        else:
            logger.warning("arxiv: stopped after %d pages", self._max_pages)
        _log_duplicates(result, "the query API's answer")
        return result

    def _api_feed(self, response: httpx.Response) -> ET.Element:
        """The query API reports bad queries as a 200 with an error entry; asking again would
        get the same answer, so this raises SourceError rather than a retryable error."""
        feed = _atom_feed(response)
        for entry in feed.findall(f"{ATOM}entry"):
            entry_id = entry.findtext(f"{ATOM}id") or ""
            if "api/errors" in entry_id:
                message = _collapse(entry.findtext(f"{ATOM}summary")) or entry_id
                logger.error("arxiv: the query API refused the request: %s", message)
                raise SourceError(self.name, f"arXiv API error: {message[:200]}")
        return feed

    def _keep(self, result: FetchResult, seen: set[str], parse: Callable[[], Paper]) -> None:
        try:
            paper = parse()
        except BadRecord as exc:
            logger.warning("arxiv: skipped a record: %s", exc)
            result.skipped += 1
            return
        if paper.arxiv_id in seen:  # pages shift when papers arrive mid-query
            result.duplicates += 1
            return
        seen.add(paper.arxiv_id)
        result.papers.append(paper)

    def _known_before_feed(self, day: date) -> bool:
        if self._feed_day is None:
            return False
        feed_day, seen_at = self._feed_day
        return day < feed_day and self._clock() - seen_at < FEED_DAY_TTL_SECONDS


def parse_rss_entry(entry: ET.Element, announce_type: str) -> Paper:
    """A Paper from an rss.arxiv.org item; its <published> is the announcement, so it stands in
    for the publication time only on a paper's first appearance."""
    arxiv_id = _entry_id(entry)
    abstract = _RSS_ABSTRACT_PREFIX.sub("", _collapse(entry.findtext(f"{ATOM}summary")))
    published = _timestamp(entry.findtext(f"{ATOM}published"))
    return Paper(
        arxiv_id=arxiv_id,
        title=_title(entry, arxiv_id),
        abstract=abstract,
        authors=_split_creators(entry.findtext(f"{DC}creator")),
        categories=_categories(entry),
        published_at=published if announce_type in _FIRST_APPEARANCE else None,
        sources=("arxiv",),
    )


def parse_api_entry(entry: ET.Element) -> Paper:
    """A Paper from an export.arxiv.org query API entry."""
    arxiv_id = _entry_id(entry)
    names = (_collapse(a.findtext(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author"))
    return Paper(
        arxiv_id=arxiv_id,
        title=_title(entry, arxiv_id),
        abstract=_collapse(entry.findtext(f"{ATOM}summary")),
        authors=tuple(name for name in names if name),
        categories=_categories(entry),
        published_at=_timestamp(entry.findtext(f"{ATOM}published")),
        sources=("arxiv",),
    )


def _atom_feed(response: httpx.Response) -> ET.Element:
    body = response.content
    # Atom never needs a DTD; refusing one up front rules out entity-expansion tricks.
    if _FORBIDDEN_MARKUP.search(body):
        raise MalformedResponse("DOCTYPE or ENTITY declarations are refused")
    try:
        root = ET.fromstring(body)  # noqa: S314 - DTDs and entities are refused above
    except ET.ParseError as exc:
        raise MalformedResponse(f"not XML: {exc}") from None
    if root.tag != f"{ATOM}feed":
        raise MalformedResponse(f"not an Atom feed: <{root.tag}>")
    return root


def _entry_id(entry: ET.Element) -> str:
    raw = (entry.findtext(f"{ATOM}id") or "").strip()
    arxiv_id = normalize_arxiv_id(raw)
    if arxiv_id is None:
        raise BadRecord(f"no arXiv id in <id>{raw[:40]}</id>")
    return arxiv_id


def _title(entry: ET.Element, arxiv_id: str) -> str:
    title = _collapse(entry.findtext(f"{ATOM}title"))
    if not title:
        raise BadRecord(f"{arxiv_id} has no title")
    return title


def _categories(entry: ET.Element) -> tuple[str, ...]:
    """Categories with the primary first, as the rest of paperbot expects."""
    primary = entry.find(f"{ARXIV}primary_category")
    terms = [primary.get("term")] if primary is not None else []
    terms += [category.get("term") for category in entry.findall(f"{ATOM}category")]
    return tuple(dict.fromkeys(t.strip() for t in terms if t and t.strip()))


def _split_creators(text: str | None) -> tuple[str, ...]:
    """RSS puts every author in one dc:creator, comma-separated, sometimes with a final 'and'."""
    if not text:
        return ()
    names = (_collapse(part).removeprefix("and ") for part in text.split(","))
    return tuple(name for name in names if name)


def _log_duplicates(result: FetchResult, where: str) -> None:
    if result.duplicates:
        logger.info("arxiv: dropped %d duplicate record(s) in %s", result.duplicates, where)


def _feed_day(feed: ET.Element) -> date | None:
    """The announcement day: the entries' own (Eastern) publication date, or for an empty feed
    (weekends, holidays) the day it was rebuilt, in Eastern time."""
    days: Counter[date] = Counter()
    for entry in feed.findall(f"{ATOM}entry"):
        published = _parse_iso(entry.findtext(f"{ATOM}published"))
        if published is not None:
            local = published.astimezone(EASTERN) if published.tzinfo else published
            days[local.date()] += 1
    if days:
        return days.most_common(1)[0][0]
    updated = _timestamp(feed.findtext(f"{ATOM}updated"))
    return updated.astimezone(EASTERN).date() if updated else None


def _parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def _timestamp(text: str | None) -> datetime | None:
    parsed = _parse_iso(text)
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _collapse(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def _to_int(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text else None
    except ValueError:
        return None
