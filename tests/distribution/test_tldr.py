"""TL;DRs by an OpenAI-compatible endpoint, faked with httpx.MockTransport: written once per
paper, within a daily budget, and never holding a digest back when the endpoint is slow or down."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from rich.console import Console

from paperbot.adapters.console import ConsolePoster
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.settings import load_settings
from paperbot.store.store import Store
from paperbot.summaries import SYSTEM_PROMPT, ChatCompletions, TldrWriter, clean_tldr
from paperbot.testing import FixedClock, make_paper
from paperbot.wiring import build_core

KEY = ChannelKey("console", "local", "terminal")
OTHER = ChannelKey("console", "local", "lab")
API_KEY = "sk-test-0123456789abcdef"
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class FakeLLM:
    """An OpenAI-compatible /chat/completions; `gate` holds answers back until the test says."""

    def __init__(self) -> None:
        self.requests: list[dict[str, object]] = []
        self.headers: list[httpx.Headers] = []
        self.status = 200
        self.gate: asyncio.Event | None = None
        self.fail_with: Exception | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.headers.append(request.headers)
        assert request.url == "http://llm.invalid/v1/chat/completions"
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"message": "overloaded"}})
        title = body["messages"][1]["content"].split("\n")[0].removeprefix("Title: ")
        answer = f"TL;DR: **{title}** shows that one sentence is enough. More text follows."
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 90, "completion_tokens": 10, "total_tokens": 100},
            },
        )

    def titles(self) -> list[str]:
        return [
            str(r["messages"][1]["content"]).split("\n")[0].removeprefix("Title: ")  # type: ignore[index]
            for r in self.requests
        ]


@pytest.fixture
def llm() -> FakeLLM:
    return FakeLLM()


def writer(store: Store, llm: FakeLLM, **options: object) -> TldrWriter:
    http = httpx.AsyncClient(transport=httpx.MockTransport(llm))
    completions = ChatCompletions(
        http, "http://llm.invalid/v1/", "tiny-model", SecretStr(API_KEY), timeout=5
    )
    return TldrWriter(store, completions, **options)  # type: ignore[arg-type]


def console_poster() -> tuple[ConsolePoster, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None, force_terminal=False)
    return ConsolePoster(console), out


async def papers_for_two_channels(bot: Paperbot, count: int = 3, **fields: object) -> list[str]:
    for key in (KEY, OTHER):
        await bot.subscribe(key, "diffusion", "U1")
    papers = [
        make_paper(
            f"Diffusion trick {n}",
            f"We diffuse in a new way, number {n}. It works well. Details follow.",
            **fields,
        )
        for n in range(count)
    ]
    await bot.blocking(bot.ingest_papers, papers)
    return [p.arxiv_id for p in papers]


async def test_each_paper_is_summarised_once_for_every_channel(
    bot: Paperbot, store: Store, llm: FakeLLM
) -> None:
    bot.tldr_writer = writer(store, llm)
    poster, out = console_poster()
    bot.add_poster(poster)
    await papers_for_two_channels(bot)
    first = await bot.deliver_digest(KEY)
    second = await bot.deliver_digest(OTHER)
    assert len(first.posted) == len(second.posted) == 3
    assert sorted(llm.titles()) == [f"Diffusion trick {n}" for n in range(3)]  # 3, not 6
    text = out.getvalue()
    for n in range(3):
        line = f"TL;DR: Diffusion trick {n} shows that one sentence is enough."
        assert text.count(line) == 2  # both channels, one request
    assert "More text follows" not in text
    request = llm.requests[0]
    assert request["model"] == "tiny-model" and request["messages"][0] == {  # type: ignore[index]
        "role": "system",
        "content": SYSTEM_PROMPT,
    }
    assert llm.headers[0]["authorization"] == f"Bearer {API_KEY}"
    assert store.summaries.usage(store.clock().replace(hour=0)).tokens == 300


async def test_a_slow_endpoint_never_holds_the_digest_back(
    bot: Paperbot, store: Store, llm: FakeLLM
) -> None:
    bot.tldr_writer = writer(store, llm, max_wait=0.05)
    poster, out = console_poster()
    bot.add_poster(poster)
    await papers_for_two_channels(bot, count=2)
    llm.gate = asyncio.Event()  # no answer until the first digest is out
    report = await bot.deliver_digest(KEY)
    assert len(report.posted) == 2 and len(llm.requests) == 2
    text = out.getvalue()
    assert "TL;DR" not in text and text.count("We diffuse in a new way") == 2  # the fallback
    llm.gate.set()
    for _ in range(100):  # the late answers are still stored for the next digest
        await asyncio.sleep(0.01)
        if len(store.summaries.get(report.posted)) == 2:
            break
    await bot.deliver_digest(OTHER)
    assert out.getvalue().count("TL;DR: Diffusion trick") == 2
    assert len(llm.requests) == 2


async def test_the_digests_of_one_hour_share_one_wait(
    bot: Paperbot, store: Store, llm: FakeLLM
) -> None:
    now = [0.0]
    tldr = writer(store, llm, max_wait=0.05, monotonic=lambda: now[0])
    bot.tldr_writer = tldr
    await papers_for_two_channels(bot, count=2)
    llm.gate = asyncio.Event()  # the endpoint is slow today
    assert len((await bot.deliver_digest(KEY)).posted) == 2
    assert tldr.last_wait == pytest.approx(0.05)
    now[0] = 10.0  # the next channel of the same hour: the burst's wait is spent
    assert len((await bot.deliver_digest(OTHER)).posted) == 2
    assert tldr.last_wait == 0.0
    assert len(llm.requests) == 2  # the second digest joined the requests under way
    third = ChannelKey("console", "local", "later")
    await bot.subscribe(third, "diffusion", "U1")
    now[0] = 100.0  # an hour with no digest for a while: a new burst, a new wait
    await bot.deliver_digest(third)
    assert tldr.last_wait == pytest.approx(0.05)
    llm.gate.set()
    await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500},
        {"fail_with": httpx.ConnectError("refused")},
        {"fail_with": httpx.ReadTimeout("slow")},
    ],
)
async def test_a_failing_endpoint_falls_back_to_hf_or_the_abstract(
    bot: Paperbot,
    store: Store,
    llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
    failure: dict[str, object],
) -> None:
    for name, value in failure.items():
        setattr(llm, name, value)
    bot.tldr_writer = writer(store, llm)
    poster, out = console_poster()
    bot.add_poster(poster)
    await bot.subscribe(KEY, "diffusion", "U1")
    await bot.subscribe(OTHER, "diffusion", "U1")
    with_hf = make_paper("Diffusion with HF", "Abstract text here.", ai_summary="HF says so.")
    plain = make_paper("Diffusion plain", "First sentence of it. Second one. Third one here.")
    await bot.blocking(bot.ingest_papers, [with_hf, plain])
    with caplog.at_level(logging.INFO):
        assert len((await bot.deliver_digest(KEY)).posted) == 2
    text = out.getvalue()
    assert "HF says so." in text and "First sentence of it. Second one." in text
    assert "TL;DR" not in text
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("paperbot.summ")]
    assert len(warnings) == 1 and "2 of 2 papers without a TL;DR" in warnings[0]
    assert API_KEY not in caplog.text
    assert all(r.exc_info is None for r in caplog.records)  # one line, no traceback
    # A dead endpoint is left alone for a while: the next channel's digest does not ask.
    asked = len(llm.requests)
    assert len((await bot.deliver_digest(OTHER)).posted) == 2
    assert len(llm.requests) == asked


async def test_the_daily_budget_caps_papers_and_tokens(
    bot: Paperbot, store: Store, llm: FakeLLM, clock: FixedClock
) -> None:
    bot.tldr_writer = writer(store, llm, daily_papers=2)
    poster, out = console_poster()
    bot.add_poster(poster)
    await papers_for_two_channels(bot, count=3)
    await bot.deliver_digest(KEY)
    assert len(llm.requests) == 2 and out.getvalue().count("TL;DR") == 2
    await bot.deliver_digest(OTHER)  # same day: the third paper is not summarised
    assert len(llm.requests) == 2
    clock.advance(days=1)  # a new UTC day, a new budget
    bot.tldr_writer = writer(store, llm, daily_tokens=350, concurrency=1)
    await bot.subscribe(KEY, "cat:cs.cv", "U1")
    late = [make_paper(f"Vision {n}", "We see. Clearly.", categories=("cs.CV",)) for n in range(3)]
    await bot.blocking(bot.ingest_papers, late)
    await bot.deliver_digest(KEY)
    # Each request books ~200 tokens (its most) and spends 100: a third would pass 350.
    assert len(llm.requests) == 4
    assert store.summaries.usage(clock().replace(hour=0)).tokens == 200


async def test_the_text_sent_is_bounded(bot: Paperbot, store: Store, llm: FakeLLM) -> None:
    tldr = writer(store, llm, max_input_chars=500)
    huge = make_paper("Diffusion " * 100, "word " * 20_000)
    await bot.blocking(bot.ingest_papers, [huge])
    await tldr.tldrs([huge])
    user = llm.requests[0]["messages"][1]["content"]  # type: ignore[index]
    assert len(user) <= 500 + len("Title: \n\nAbstract: ")


def test_answers_are_cleaned_to_one_plain_sentence() -> None:
    thinking = "<think>hmm, the user wants</think>\nTL;DR: It works on every task. Really."
    assert clean_tldr(thinking) == "It works on every task."
    assert clean_tldr('Summary: "A *new* model beats all baselines."') == (
        "A *new* model beats all baselines."
    )
    assert clean_tldr("See https://evil.example/x for a trick that wins big.") == (
        "See for a trick that wins big."
    )
    assert clean_tldr("   ") is None and clean_tldr("<think>never ends") is None
    assert len(clean_tldr("word " * 500) or "") <= 280


def test_tldrs_are_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPERBOT_CONFIG", raising=False)
    core = build_core(load_settings(data_dir=tmp_path))
    assert core.bot.tldr_writer is None
    asyncio.run(core.aclose())
    on = build_core(load_settings(data_dir=tmp_path, tldr={"enabled": True}))
    assert on.bot.tldr_writer is not None
    assert on.bot.tldr_writer.completions.url == "https://api.openai.com/v1/chat/completions"
    asyncio.run(on.aclose())
