"""HFDailySource against recorded Daily Papers payloads served by httpx.MockTransport."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperbot.errors import InvalidInput, SourceError
from paperbot.ports import PaperSource
from paperbot.settings import HFSettings, SourcesSettings
from paperbot.sources.hf_daily import HFDailySource

FIXTURES = Path(__file__).parent.parent / "fixtures"
DAY = date(2024, 6, 21)
Handler = Callable[[httpx.Request], httpx.Response]


def load(name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


DAILY = load("hf_daily_2024-06-21.json")


class FakeSleep:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def make_source(
    handler: Handler, *, page_limit: int = 100, retries: int = 2
) -> tuple[HFDailySource, FakeSleep]:
    sleep = FakeSleep()
    settings = SourcesSettings(
        retries=retries, backoff_seconds=1.0, hf=HFSettings(page_limit=page_limit)
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HFDailySource(client, settings, sleep=sleep), sleep


def daily_handler(items: list[dict[str, Any]], seen: list[httpx.Request]) -> Handler:
    """Serves `items` the way the real endpoint pages them: `limit` per page, page `p`."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.host == "huggingface.co"
        assert request.url.path == "/api/daily_papers"
        assert request.headers["User-Agent"].startswith("paperbot/")
        limit = int(request.url.params["limit"])
        page = int(request.url.params["p"])
        return httpx.Response(200, json=items[page * limit : (page + 1) * limit])

    return handler


async def test_is_a_paper_source() -> None:
    source, _ = make_source(daily_handler(DAILY, []))
    assert isinstance(source, PaperSource)
    assert source.name == "hf"


async def test_parses_every_field_of_a_featured_paper() -> None:
    seen: list[httpx.Request] = []
    source, _ = make_source(daily_handler(DAILY, seen))

    result = await source.fetch_day(DAY)

    assert seen[0].url.params["date"] == "2024-06-21"
    assert seen[0].url.params["limit"] == "100"
    assert seen[0].url.params["p"] == "0"
    assert result.source == "hf"
    paper = result.papers[0]
    assert paper.arxiv_id == "2406.14629"
    assert paper.title == "Can LLMs Learn by Teaching? A Preliminary Study"
    assert paper.abstract.startswith("Teaching to improve student models")
    assert len(paper.authors) == 10
    assert paper.authors[0] == "Xuefei Ning"
    assert "Peiran Yao" in paper.authors  # hidden on HF, still an author
    assert paper.published_at == datetime(2024, 6, 20, 17, 31, 4, tzinfo=UTC)
    assert paper.published_at.utcoffset() is not None
    assert paper.featured_on == DAY
    assert paper.upvotes == 21
    assert paper.comments == 2
    assert paper.github_repo == "https://github.com/imagination-research/lbt"
    assert paper.github_stars == 96
    assert paper.project_page is None
    assert paper.ai_summary is not None and paper.ai_summary.startswith("LLMs improve")
    assert paper.ai_keywords[:2] == ("learning by teaching", "LbT")
    assert paper.sources == ("hf",)
    assert paper.hf_url == "https://huggingface.co/papers/2406.14629"


async def test_optional_fields_are_read_where_present() -> None:
    source, _ = make_source(daily_handler(DAILY, []))

    papers = {p.arxiv_id: p for p in (await source.fetch_day(DAY)).papers}

    assert papers["2406.07496"].project_page == "https://textgrad.com"
    assert papers["2406.07496"].ai_summary is None
    assert papers["2402.01878"].github_repo is None
    assert papers["2402.01878"].github_stars is None
    assert papers["2402.01878"].ai_keywords == ()


async def test_bad_record_is_skipped_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="paperbot.sources.hf_daily")
    source, _ = make_source(daily_handler(DAILY, []))

    result = await source.fetch_day(DAY)

    assert result.skipped == 1
    assert all(p.title != "A record without an arXiv id" for p in result.papers)
    skip_lines = [r for r in caplog.records if "skipped a record" in r.getMessage()]
    assert len(skip_lines) == 1


async def test_withdrawn_paper_is_left_out_but_not_counted_as_bad() -> None:
    source, _ = make_source(daily_handler(DAILY, []))

    result = await source.fetch_day(DAY)

    ids = [p.arxiv_id for p in result.papers]
    assert "2410.10254" not in ids
    assert ids == ["2406.14629", "2406.07496", "2402.01878", "2401.04658", "2402.06147"]
    assert result.skipped == 1  # only the record without an id


async def test_pages_until_a_short_page() -> None:
    seen: list[httpx.Request] = []
    source, _ = make_source(daily_handler(DAILY, seen), page_limit=3)

    result = await source.fetch_day(DAY)

    assert [r.url.params["p"] for r in seen] == ["0", "1", "2"]  # 3 + 3 + 1 items
    assert len(result.papers) == 5
    assert result.skipped == 1


async def test_stops_on_an_empty_page() -> None:
    seen: list[httpx.Request] = []
    six = [item for item in DAILY if item["paper"].get("id") != "2402.06147"]
    source, _ = make_source(daily_handler(six, seen), page_limit=3)

    result = await source.fetch_day(DAY)

    assert [r.url.params["p"] for r in seen] == ["0", "1", "2"]
    assert len(result.papers) == 4


async def test_server_ignoring_the_page_parameter_does_not_loop_forever() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=DAILY[:2])

    source, _ = make_source(handler, page_limit=2)
    result = await source.fetch_day(DAY)

    assert len(seen) == 2
    assert [p.arxiv_id for p in result.papers] == ["2406.14629", "2406.07496"]


async def test_empty_weekend_day() -> None:
    source, sleep = make_source(daily_handler([], []))

    result = await source.fetch_day(date(2024, 6, 22))

    assert result.papers == []
    assert result.skipped == 0
    assert sleep.sleeps == []


async def test_garbage_json_is_retried_then_raises() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text='[{"paper": {"id": "2406.1', headers={"X-Error": "cut"})

    source, sleep = make_source(handler, retries=2)
    with pytest.raises(SourceError) as raised:
        await source.fetch_day(DAY)

    assert raised.value.source == "hf"
    assert "malformed" in raised.value.reason
    assert len(seen) == 3
    assert sleep.sleeps == [1.0, 2.0]


async def test_garbage_then_good_json_recovers() -> None:
    answers = [
        httpx.Response(200, text="<html>Bad gateway</html>"),
        httpx.Response(200, json=DAILY),
    ]
    source, sleep = make_source(lambda request: answers.pop(0))

    result = await source.fetch_day(DAY)

    assert len(result.papers) == 5
    assert sleep.sleeps == [1.0]


async def test_json_object_instead_of_list_is_malformed() -> None:
    source, _ = make_source(lambda request: httpx.Response(200, json={"error": "oops"}), retries=0)

    with pytest.raises(SourceError, match="expected a JSON list"):
        await source.fetch_day(DAY)


async def test_bad_date_answer_400_fails_without_retries() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(400, json={"error": '"date" must be a valid date'})

    source, sleep = make_source(handler)
    with pytest.raises(SourceError, match="HTTP 400"):
        await source.fetch_day(DAY)

    assert len(seen) == 1
    assert sleep.sleeps == []


async def test_timeout_then_success() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ReadTimeout("read timed out", request=request)
        return httpx.Response(200, json=DAILY)

    source, sleep = make_source(handler)
    result = await source.fetch_day(DAY)

    assert calls == 2
    assert len(result.papers) == 5
    assert sleep.sleeps == [1.0]


async def test_429_waits_for_retry_after() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "11"}), httpx.Response(200, json=DAILY)]
    source, sleep = make_source(lambda request: answers.pop(0))

    result = await source.fetch_day(DAY)

    assert sleep.sleeps == [11.0]
    assert len(result.papers) == 5


async def test_always_503_raises_after_retries() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503)

    source, sleep = make_source(handler, retries=3)
    with pytest.raises(SourceError, match="HTTP 503"):
        await source.fetch_day(DAY)

    assert len(seen) == 4
    assert sleep.sleeps == [1.0, 2.0, 4.0]


async def test_search_unwraps_results_and_dates_them_by_their_daily_feature() -> None:
    seen: list[httpx.Request] = []
    results = load("hf_search_linear_attention.json")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=results)

    source, _ = make_source(handler)
    result = await source.search("  linear   attention ")

    assert seen[0].url.path == "/api/papers/search"
    assert seen[0].url.params["q"] == "linear attention"
    assert [p.arxiv_id for p in result.papers] == ["2401.04658", "2410.10254"]
    assert result.papers[0].featured_on == date(2024, 1, 10)
    assert result.papers[0].upvotes == 27


@pytest.mark.parametrize("query", ["", "   ", "x" * 201])
async def test_search_refuses_empty_or_huge_queries(query: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request should be made")

    source, _ = make_source(handler)
    with pytest.raises(InvalidInput):
        await source.search(query)
