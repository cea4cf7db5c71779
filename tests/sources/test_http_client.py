"""RetryingClient against httpx.MockTransport, with a fake clock so nothing really sleeps."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise

import httpx
import pytest

from paperbot.errors import SourceError
from paperbot.settings import SourcesSettings
from paperbot.sources.http import (
    MAX_RETRY_AFTER_SECONDS,
    MalformedResponse,
    RetryingClient,
    parse_retry_after,
)

URL = "https://api.example.org/things"
NOW = datetime(2025, 10, 14, 12, 0, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A monotonic clock that only moves when someone sleeps, recording every sleep."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(
    handler: Handler,
    fake: FakeTime,
    *,
    retries: int = 3,
    min_interval: float = 0.0,
    one_at_a_time: bool = False,
) -> RetryingClient:
    settings = SourcesSettings(retries=retries, backoff_seconds=2.0, timeout_seconds=7.5)
    return RetryingClient(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        settings,
        source="test",
        min_interval=min_interval,
        one_at_a_time=one_at_a_time,
        sleep=fake.sleep,
        clock=fake.clock,
        wall_clock=lambda: NOW,
    )


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering each request with the next scripted response (or raising it)."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


async def test_sends_user_agent_and_per_request_timeout() -> None:
    fake = FakeTime()
    handler, seen = scripted(httpx.Response(200, text="ok"))
    client = make_client(handler, fake)

    response = await client.get(URL, {"q": "diffusion", "page": 2})

    assert response.text == "ok"
    request = seen[0]
    assert request.headers["User-Agent"] == SourcesSettings().user_agent
    assert "paperbot" in request.headers["User-Agent"]
    assert request.url.params["q"] == "diffusion"
    assert request.url.params["page"] == "2"
    assert request.extensions["timeout"]["read"] == 7.5
    assert fake.sleeps == []


async def test_timeout_then_success_retries_after_backoff() -> None:
    fake = FakeTime()
    handler, seen = scripted(httpx.ReadTimeout("slow"), httpx.Response(200, text="ok"))

    response = await make_client(handler, fake).get(URL)

    assert response.status_code == 200
    assert len(seen) == 2
    assert fake.sleeps == [2.0]


async def test_503_then_200_succeeds() -> None:
    fake = FakeTime()
    handler, seen = scripted(httpx.Response(503), httpx.Response(200, text="back"))

    response = await make_client(handler, fake).get(URL)

    assert response.text == "back"
    assert len(seen) == 2
    assert fake.sleeps == [2.0]


async def test_429_waits_exactly_retry_after_seconds() -> None:
    fake = FakeTime()
    handler, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, text="ok")
    )

    await make_client(handler, fake).get(URL)

    assert len(seen) == 2
    assert fake.sleeps == [7.0]


async def test_retry_after_as_http_date() -> None:
    fake = FakeTime()
    later = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    handler, _ = scripted(
        httpx.Response(503, headers={"Retry-After": later}), httpx.Response(200, text="ok")
    )

    await make_client(handler, fake).get(URL)

    assert fake.sleeps == [30.0]


async def test_huge_retry_after_is_capped() -> None:
    fake = FakeTime()
    handler, _ = scripted(
        httpx.Response(429, headers={"Retry-After": "86400"}), httpx.Response(200, text="ok")
    )

    await make_client(handler, fake).get(URL)

    assert fake.sleeps == [MAX_RETRY_AFTER_SECONDS]


async def test_always_5xx_raises_source_error_after_all_retries() -> None:
    fake = FakeTime()
    handler, seen = scripted(httpx.Response(502))

    with pytest.raises(SourceError) as raised:
        await make_client(handler, fake, retries=3).get(URL)

    assert len(seen) == 4
    assert fake.sleeps == [2.0, 4.0, 8.0]
    assert raised.value.source == "test"
    assert "HTTP 502" in raised.value.reason
    assert "4 attempts" in raised.value.reason


async def test_persistent_timeouts_are_reported_as_timeouts() -> None:
    fake = FakeTime()
    handler, seen = scripted(httpx.ConnectTimeout("no route"))

    with pytest.raises(SourceError, match="timeout"):
        await make_client(handler, fake, retries=1).get(URL)

    assert len(seen) == 2


async def test_client_error_fails_at_once_without_retries() -> None:
    fake = FakeTime()
    handler, seen = scripted(httpx.Response(400, json={"error": "Invalid date"}))

    with pytest.raises(SourceError, match="HTTP 400"):
        await make_client(handler, fake).get(URL)

    assert len(seen) == 1
    assert fake.sleeps == []


async def test_malformed_body_is_retried_then_fails() -> None:
    fake = FakeTime()
    handler, seen = scripted(httpx.Response(200, text="<html>proxy error</html>"))

    def parse(response: httpx.Response) -> str:
        raise MalformedResponse("not JSON")

    with pytest.raises(SourceError, match="malformed response"):
        await make_client(handler, fake, retries=2).fetch(URL, None, parse=parse)

    assert len(seen) == 3


async def test_malformed_then_good_body_returns_parsed_value() -> None:
    fake = FakeTime()
    handler, _ = scripted(httpx.Response(200, text="{trunc"), httpx.Response(200, text="[1]"))

    def parse(response: httpx.Response) -> str:
        if not response.text.endswith("]"):
            raise MalformedResponse("truncated")
        return response.text

    assert await make_client(handler, fake).fetch(URL, None, parse=parse) == "[1]"


async def test_other_parse_errors_propagate_without_retry() -> None:
    fake = FakeTime()
    handler, seen = scripted(httpx.Response(200, text="error entry"))

    def parse(response: httpx.Response) -> str:
        raise SourceError("test", "the server says the query is wrong")

    with pytest.raises(SourceError, match="query is wrong"):
        await make_client(handler, fake).fetch(URL, None, parse=parse)

    assert len(seen) == 1


async def test_min_interval_spaces_requests() -> None:
    fake = FakeTime()
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(fake.now)
        fake.now += 0.4  # the request itself takes a little while
        return httpx.Response(200)

    client = make_client(handler, fake, min_interval=3.0)
    for _ in range(3):
        await client.get(URL)

    gaps = [b - a for a, b in pairwise(sent_at)]
    assert len(gaps) == 2
    assert all(gap >= 3.0 for gap in gaps)
    assert fake.sleeps == [pytest.approx(3.0), pytest.approx(3.0)]


async def test_min_interval_also_spaces_retries() -> None:
    fake = FakeTime()
    sent_at: list[float] = []
    answers = [httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200)]

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(fake.now)
        return answers.pop(0)

    await make_client(handler, fake, min_interval=3.0).get(URL)

    assert sent_at[1] - sent_at[0] >= 3.0


async def test_one_at_a_time_never_overlaps_requests() -> None:
    fake = FakeTime()
    in_flight = 0
    most = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200)

    client = RetryingClient(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        SourcesSettings(),
        source="test",
        one_at_a_time=True,
        sleep=fake.sleep,
        clock=fake.clock,
    )
    await asyncio.gather(*(client.get(URL) for _ in range(4)))

    assert most == 1


async def test_unpaced_client_does_overlap_requests() -> None:
    """The control for the test above: without the lock, the same handler sees overlap."""
    fake = FakeTime()
    in_flight = 0
    most = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200)

    client = RetryingClient(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        SourcesSettings(),
        source="test",
        sleep=fake.sleep,
    )
    await asyncio.gather(*(client.get(URL) for _ in range(4)))

    assert most > 1


async def test_one_log_line_per_retry_and_failure_without_query(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeTime()
    handler, _ = scripted(httpx.Response(503))
    caplog.set_level(logging.DEBUG, logger="paperbot.sources.http")

    with pytest.raises(SourceError):
        await make_client(handler, fake, retries=2).get(URL, {"token": "s3cret"})

    messages = [r.getMessage() for r in caplog.records if r.name == "paperbot.sources.http"]
    assert len(messages) == 3  # two retries, one final failure
    assert all("HTTP 503" in m and "api.example.org/things" in m for m in messages)
    assert not any("s3cret" in m for m in messages)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("12", 12.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        (format_datetime(NOW + timedelta(minutes=2), usegmt=True), 120.0),
        (format_datetime(NOW - timedelta(minutes=2), usegmt=True), 0.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected
