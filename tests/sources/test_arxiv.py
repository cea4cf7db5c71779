"""ArxivSource against recorded RSS and query-API Atom served by httpx.MockTransport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from paperbot.errors import InvalidInput, SourceError
from paperbot.ports import PaperSource
from paperbot.settings import ArxivSettings, SourcesSettings
from paperbot.sources.arxiv import ArxivSource

FIXTURES = Path(__file__).parent.parent / "fixtures"
FEED_DAY = date(2025, 10, 14)
Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


RSS = fixture("arxiv_rss_2025-10-14.xml")
ATOM_HEADERS = {"Content-Type": "application/atom+xml; charset=utf-8"}


class FakeTime:
    """A monotonic clock that only moves when someone sleeps, recording every sleep."""

    def __init__(self) -> None:
        self.now = 50_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeArxiv:
    """rss.arxiv.org and export.arxiv.org in one handler, recording each request and its time."""

    def __init__(self, time: FakeTime, *, rss: bytes = RSS) -> None:
        self.time = time
        self.rss = rss
        self.requests: list[httpx.Request] = []
        self.sent_at: list[float] = []
        self.api_answers: list[httpx.Response] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.sent_at.append(self.time.now)
        self.time.now += 0.25  # a request takes a moment
        assert request.headers["User-Agent"] == SourcesSettings().user_agent
        if request.url.host == "rss.arxiv.org":
            return httpx.Response(200, content=self.rss, headers=ATOM_HEADERS)
        assert (request.url.host, request.url.path) == ("export.arxiv.org", "/api/query")
        if self.api_answers:
            return self.api_answers.pop(0)
        if "id_list" in request.url.params:
            return httpx.Response(200, content=fixture("arxiv_api_id_list.xml"))
        first = request.url.params["start"] == "0"
        page = "arxiv_api_page1.xml" if first else "arxiv_api_page2.xml"
        return httpx.Response(200, content=fixture(page), headers=ATOM_HEADERS)

    @property
    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == "export.arxiv.org"]


def make_source(
    server: FakeArxiv,
    *,
    announce_types: tuple[str, ...] = ("new", "cross"),
    page_size: int = 200,
    retries: int = 2,
) -> ArxivSource:
    settings = SourcesSettings(
        retries=retries,
        backoff_seconds=1.0,
        arxiv=ArxivSettings(categories=["cs.LG", "cs.CL"], announce_types=list(announce_types)),
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(server))
    return ArxivSource(
        client, settings, sleep=server.time.sleep, clock=server.time.clock, page_size=page_size
    )


async def test_is_a_paper_source() -> None:
    source = make_source(FakeArxiv(FakeTime()))
    assert isinstance(source, PaperSource)
    assert source.name == "arxiv"


async def test_feed_day_comes_from_the_rss_feed_with_joined_categories() -> None:
    server = FakeArxiv(FakeTime())

    result = await make_source(server).fetch_day(FEED_DAY)

    assert len(server.requests) == 1
    assert str(server.requests[0].url) == "https://rss.arxiv.org/atom/cs.LG+cs.CL"
    assert result.source == "arxiv"
    assert [p.arxiv_id for p in result.papers] == ["2510.11683", "2510.11702", "2510.10988"]


async def test_rss_items_are_parsed_into_papers() -> None:
    server = FakeArxiv(FakeTime())

    paper = (await make_source(server).fetch_day(FEED_DAY)).papers[0]

    assert paper.title.startswith("Boundary-Guided Policy Optimization for Memory-efficient RL")
    assert paper.abstract.startswith("A key challenge in applying reinforcement learning")
    assert "Announce Type" not in paper.abstract
    assert paper.authors == ("Nianyi Lin", "Jiajie Zhang", "Lei Hou", "Juanzi Li")
    assert paper.categories == ("cs.LG", "cs.AI", "cs.CL")
    assert paper.published_at == datetime(2025, 10, 14, 4, 0, tzinfo=UTC)
    assert paper.sources == ("arxiv",)


async def test_rss_entry_without_an_id_is_skipped_and_counted() -> None:
    result = await make_source(FakeArxiv(FakeTime())).fetch_day(FEED_DAY)

    assert result.skipped == 1
    assert all("Untitled announcement" not in p.title for p in result.papers)


async def test_announce_types_select_replacements_and_strip_versions() -> None:
    server = FakeArxiv(FakeTime())
    source = make_source(server, announce_types=("replace", "replace-cross"))

    result = await source.fetch_day(FEED_DAY)

    assert [p.arxiv_id for p in result.papers] == ["2503.01496", "2406.07496"]
    assert result.skipped == 0  # the broken item is a "new" one, filtered out before parsing
    # A replacement's announcement date says nothing about when the paper came out.
    assert all(p.published_at is None for p in result.papers)


async def test_a_past_day_goes_to_the_query_api_paced_three_seconds_apart() -> None:
    time = FakeTime()
    server = FakeArxiv(time)

    result = await make_source(server).fetch_day(date(2025, 10, 10))

    rss, api_first, api_second = server.requests
    assert rss.url.host == "rss.arxiv.org"
    params = api_first.url.params
    assert params["search_query"] == (
        "(cat:cs.LG OR cat:cs.CL) AND submittedDate:[202510100000 TO 202510102359]"
    )
    assert params["sortBy"] == "submittedDate"
    assert params["sortOrder"] == "descending"
    assert params["start"] == "0"
    assert params["max_results"] == "200"
    assert api_second.url.params["start"] == "2"
    assert len(result.papers) == 3
    gaps = [b - a for a, b in pairwise(server.sent_at)]
    assert gaps and all(gap >= 3.0 for gap in gaps)
    assert len(time.sleeps) == 2


async def test_after_reading_the_feed_older_days_skip_it() -> None:
    server = FakeArxiv(FakeTime())
    source = make_source(server)

    await source.fetch_day(FEED_DAY)
    await source.fetch_day(date(2025, 10, 13))

    hosts = [r.url.host for r in server.requests]
    assert hosts == ["rss.arxiv.org", "export.arxiv.org", "export.arxiv.org"]


async def test_empty_weekend_feed_is_an_empty_day_not_an_api_query() -> None:
    server = FakeArxiv(FakeTime(), rss=fixture("arxiv_rss_weekend.xml"))

    result = await make_source(server).fetch_day(date(2025, 10, 18))

    assert len(server.requests) == 1
    assert result.papers == []
    assert result.skipped == 0


async def test_fetch_range_pages_and_parses_api_entries() -> None:
    server = FakeArxiv(FakeTime())

    result = await make_source(server, page_size=2).fetch_range(date(2024, 2, 2), date(2024, 2, 6))

    starts = [(r.url.params["start"], r.url.params["max_results"]) for r in server.api_requests]
    assert starts == [("0", "2"), ("2", "2")]
    query = server.api_requests[0].url.params["search_query"]
    assert query.endswith("submittedDate:[202402020000 TO 202402062359]")
    assert [p.arxiv_id for p in result.papers] == ["2402.04051", "2402.06147", "2402.01878"]
    lmc = result.papers[0]
    assert lmc.title == (
        "Analysis of Linear Mode Connectivity via Permutation-Based Weight Matching"
    )
    assert lmc.abstract.startswith("Recently, Ainsworth et al. showed that using weight matching")
    assert "\n" not in lmc.abstract and "  " not in lmc.abstract
    assert lmc.authors == ("Akira Ito", "Masanori Yamada", "Atsutoshi Kumagai")
    assert lmc.published_at == datetime(2024, 2, 6, 14, 53, 7, tzinfo=UTC)
    # DeAL lists cs.AI first, but its primary category is cs.CL: primary goes first.
    assert result.papers[1].categories == ("cs.CL", "cs.AI", "cs.LG")


async def test_fetch_range_refuses_a_backwards_range() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        await make_source(FakeArxiv(FakeTime())).fetch_range(date(2024, 2, 6), date(2024, 2, 2))


async def test_old_style_ids_and_versions_are_normalised() -> None:
    server = FakeArxiv(FakeTime())

    result = await make_source(server).fetch_ids(["hep-th/9711200v3", "arXiv:2410.10254v1"])

    assert server.api_requests[0].url.params["id_list"] == "hep-th/9711200,2410.10254"
    assert [p.arxiv_id for p in result.papers] == ["hep-th/9711200", "2410.10254"]
    assert result.papers[0].categories == ("hep-th",)
    assert result.papers[0].abs_url == "https://arxiv.org/abs/hep-th/9711200"


async def test_fetch_ids_refuses_junk() -> None:
    with pytest.raises(InvalidInput):
        await make_source(FakeArxiv(FakeTime())).fetch_ids(["2401.12345", "drop table"])


async def test_error_entry_in_a_200_raises_without_retrying() -> None:
    time = FakeTime()
    server = FakeArxiv(time)
    server.api_answers = [httpx.Response(200, content=fixture("arxiv_api_error.xml"))]

    with pytest.raises(SourceError) as raised:
        await make_source(server).fetch_range(date(2024, 2, 2), date(2024, 2, 2))

    assert raised.value.source == "arxiv"
    assert "incorrect id format for 2402.0405" in raised.value.reason
    assert len(server.api_requests) == 1


async def test_doctype_is_refused_as_malformed() -> None:
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY lol "lol">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol;</title></feed>'
    )
    server = FakeArxiv(FakeTime(), rss=evil)

    with pytest.raises(SourceError, match="DOCTYPE"):
        await make_source(server, retries=1).fetch_day(FEED_DAY)

    assert len(server.requests) == 2  # refused bodies are retried like any malformed one


async def test_html_error_page_is_malformed_then_recovers() -> None:
    time = FakeTime()
    server = FakeArxiv(time)
    server.api_answers = [httpx.Response(200, content=b"<html><body>Rate exceeded.</body></html>")]

    result = await make_source(server, page_size=2).fetch_range(date(2024, 2, 2), date(2024, 2, 6))

    assert len(result.papers) == 3
    assert len(server.api_requests) == 3


async def test_429_with_retry_after_is_honoured_and_requests_stay_spaced() -> None:
    time = FakeTime()
    server = FakeArxiv(time)
    server.api_answers = [httpx.Response(429, headers={"Retry-After": "10"})]

    result = await make_source(server, page_size=2).fetch_range(date(2024, 2, 2), date(2024, 2, 6))

    assert len(result.papers) == 3
    assert 10.0 in time.sleeps
    gaps = [b - a for a, b in pairwise(server.sent_at)]
    assert all(gap >= 3.0 for gap in gaps)


async def test_concurrent_fetches_share_one_connection_and_the_pace() -> None:
    time = FakeTime()
    in_flight = 0
    most = 0
    sent_at: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        sent_at.append(time.now)
        await asyncio.sleep(0)
        in_flight -= 1
        start = request.url.params["start"]
        page = "arxiv_api_page1.xml" if start == "0" else "arxiv_api_page2.xml"
        return httpx.Response(200, content=fixture(page))

    settings = SourcesSettings(arxiv=ArxivSettings(categories=["cs.LG"]))
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    source = ArxivSource(client, settings, sleep=time.sleep, clock=time.clock, page_size=2)

    await asyncio.gather(
        source.fetch_range(date(2024, 2, 2), date(2024, 2, 6)),
        source.fetch_range(date(2024, 2, 2), date(2024, 2, 6)),
    )

    assert most == 1
    assert len(sent_at) == 4
    ordered = sorted(sent_at)
    assert all(b - a >= 3.0 for a, b in pairwise(ordered))


async def test_not_an_atom_feed_is_malformed() -> None:
    server = FakeArxiv(FakeTime(), rss=b"<rss version='2.0'><channel/></rss>")

    with pytest.raises(SourceError, match="not an Atom feed"):
        await make_source(server, retries=0).fetch_day(FEED_DAY)
