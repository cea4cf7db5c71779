"""`paperbot ingest` as cron runs it: its exit code tells whether the sources answered, and its
summary counts the records it skipped or dropped as duplicates. A local fake Hugging Face API on
port 0 plays each outage; the bundled sample source is the one that keeps working."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from process_harness import child_env, paperbot

FIXTURES = Path(__file__).parents[1] / "fixtures"
DAY = "2024-06-21"


class FakeHF:
    """Daily papers as `mode` says: "ok", "500", "not-json" or "slow" (past any timeout)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.page: list[Any] = json.loads((FIXTURES / "hf_daily_2024-06-21.json").read_text())
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> FakeHF:
        app = web.Application()
        app.router.add_get("/api/daily_papers", self._daily)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _daily(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.mode == "500":
            return web.Response(status=500, text="internal error")
        if self.mode == "not-json":
            return web.Response(status=200, text="<html>maintenance</html>")
        if self.mode == "slow":
            await asyncio.sleep(3)
        return web.json_response(self.page)


@pytest.fixture
async def hf() -> AsyncIterator[FakeHF]:
    fake = await FakeHF().start()
    yield fake
    await fake.close()


def ingest_env(hf: FakeHF, db_url: str, data_dir: Path, sample: bool = False) -> dict[str, str]:
    return child_env(
        PAPERBOT_DATA_DIR=str(data_dir),
        PAPERBOT_DATABASE__URL=db_url,
        PAPERBOT_SOURCES__HF__BASE_URL=hf.url,
        PAPERBOT_SOURCES__ARXIV__ENABLED="false",
        PAPERBOT_SOURCES__SAMPLE="true" if sample else "false",
        PAPERBOT_SOURCES__RETRIES="1",
        PAPERBOT_SOURCES__BACKOFF_SECONDS="0",
        PAPERBOT_SOURCES__TIMEOUT_SECONDS="0.5",
    )


async def ingest(hf: FakeHF, db_url: str, tmp_path: Path, sample: bool = False) -> tuple[int, str]:
    child = await paperbot(
        "ingest", "--date", DAY, env=ingest_env(hf, db_url, tmp_path / "data", sample), cwd=tmp_path
    )
    code = await child.wait(timeout=60)
    return code, child.log


@pytest.mark.parametrize("outage", ["500", "not-json", "slow"])
async def test_exits_1_when_no_source_succeeded(
    hf: FakeHF, db_url: str, tmp_path: Path, outage: str
) -> None:
    hf.mode = outage
    code, log = await ingest(hf, db_url, tmp_path)
    assert code == 1, log
    assert "hf FAILED" in log and "0 new" in log
    assert hf.requests == 2  # one retry, then the source is recorded as failed


async def test_exits_3_when_some_sources_failed(hf: FakeHF, db_url: str, tmp_path: Path) -> None:
    hf.mode = "500"
    code, log = await ingest(hf, db_url, tmp_path, sample=True)
    assert code == 3, log
    assert "hf FAILED" in log and "sample " in log


async def test_exits_0_and_counts_skipped_and_duplicate_records(
    hf: FakeHF, db_url: str, tmp_path: Path
) -> None:
    good = [item for item in hf.page if (item.get("paper") or {}).get("id")]
    broken = []
    for n in range(11):
        item = copy.deepcopy(good[0])
        item["paper"]["id"] = f"not an arXiv id {n}"
        broken.append(item)
    hf.page = [*good, *broken, copy.deepcopy(good[0])]  # and one id twice
    code, log = await ingest(hf, db_url, tmp_path)
    assert code == 0, log
    kept = sum(1 for item in good if not item["paper"].get("withdrawnAt"))  # one is withdrawn
    summary = f"hf {kept} (11 skipped, 1 duplicate); {kept} new"
    assert summary in log, log
    assert "hf: dropped 1 duplicate record(s) for 2024-06-21" in log
    assert len([line for line in log.splitlines() if "hf: skipped a record" in line]) == 11
