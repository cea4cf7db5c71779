"""/healthz and /metrics answered over real HTTP, on a port-0 site of their own and mounted on the
Slack adapter's own aiohttp application (HTTP mode: one port for everything)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from aiohttp import web
from deploy_fakes import SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import create_engine

from paperbot import commands
from paperbot.health import HealthServer, add_routes, start_health
from paperbot.metrics import Health, sample
from paperbot.models import ChannelKey, CommandContext
from paperbot.service import Paperbot
from paperbot.settings import HttpSettings, SlackSettings
from paperbot.store.store import Store
from paperbot.testing import FakeSource, make_paper

DAY = date(2026, 11, 20)
KEY = ChannelKey("slack", "T0001", "C0001")


@pytest.fixture
async def server(deploy_store: Store) -> AsyncIterator[HealthServer]:
    health = Health(deploy_store, sources=["hf", "arxiv"])
    async with HealthServer(health, host="127.0.0.1", port=0) as running:
        yield running


async def get(url: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(url, headers=headers)


async def test_healthz_up_with_every_platform_connected(
    server: HealthServer, deploy_store: Store
) -> None:
    async def socket_mode_connected() -> bool:
        return True

    health = Health(deploy_store, sources=["hf", "arxiv"])
    health.add_platform("slack", socket_mode_connected)
    health.add_platform("discord", lambda: True)
    deploy_store.record_source_result("hf", 12, None)
    deploy_store.record_source_result("arxiv", None, "HTTP 503 after 4 retries")
    async with HealthServer(health, port=0) as running:
        assert running.port != 0
        response = await get(f"{running.url}/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "error": None}
    assert body["platforms"] == {"slack": {"connected": True}, "discord": {"connected": True}}
    # A failing source is reported, but it does not make the process unhealthy.
    assert body["sources"]["hf"]["ok"] is True
    assert body["sources"]["hf"]["last_success_at"] is not None
    assert body["sources"]["arxiv"]["ok"] is False
    assert body["sources"]["arxiv"]["last_error"] == "HTTP 503 after 4 retries"


async def test_healthz_lists_configured_sources_never_fetched(server: HealthServer) -> None:
    response = await get(f"{server.url}/healthz")
    assert response.status_code == 200
    sources = response.json()["sources"]
    assert sources["hf"] == {
        "ok": False,
        "last_success_at": None,
        "last_error_at": None,
        "last_error": None,
    }
    assert set(sources) == {"hf", "arxiv"}


async def test_healthz_503_when_a_platform_is_disconnected(deploy_store: Store) -> None:
    def broken_probe() -> bool:
        raise RuntimeError("gateway gone")

    health = Health(deploy_store)
    health.add_platform("slack", lambda: True)
    health.add_platform(
        "discord", lambda: False, lambda: "gateway unreachable; reconnect attempt 3"
    )
    health.add_platform("other", broken_probe)
    async with HealthServer(health, port=0) as running:
        response = await get(f"{running.url}/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["platforms"]["slack"] == {"connected": True}  # the one that is up says so
    assert body["platforms"]["discord"] == {
        "connected": False,
        "error": "gateway unreachable; reconnect attempt 3",
    }
    assert body["platforms"]["other"] == {"connected": False, "error": "not connected"}


async def test_healthz_503_when_the_database_is_unreachable(tmp_path: object) -> None:
    unreachable = Store(create_engine("sqlite:////nonexistent-dir/for/sure/paperbot.sqlite"))
    async with HealthServer(Health(unreachable, sources=["hf"]), port=0) as running:
        response = await get(f"{running.url}/healthz")
        head = await httpx.AsyncClient().head(f"{running.url}/healthz")
    assert response.status_code == 503
    assert head.status_code == 503
    body = response.json()
    assert body["database"]["ok"] is False
    assert "unreachable" in body["database"]["error"]
    assert body["sources"]["hf"]["ok"] is False


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


async def test_metrics_count_what_the_core_did(server: HealthServer, deploy_bot: Paperbot) -> None:
    before = values((await get(f"{server.url}/metrics")).text)

    def was(name: str, **labels: str) -> float:
        return before.get((name, tuple(sorted(labels.items()))), 0.0)

    papers = [make_paper(f"Diffusion study {n}", "We study diffusion.") for n in range(3)]
    deploy_bot.sources = [FakeSource("arxiv", {DAY: papers}), FakeSource("hf").failing()]
    ctx = CommandContext(KEY, "U1")
    reply = await commands.handle(deploy_bot, ctx, "subscribe diffusion")
    assert not reply.is_error
    await deploy_bot.ingest_day(DAY)
    await commands.handle(deploy_bot, ctx, "no-such-command")
    await commands.handle(deploy_bot, ctx, "digest")

    response = await get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = values(response.text)
    assert after[("papers_ingested_total", ())] == was("papers_ingested_total") + 3
    source = (("source", "hf"),)
    assert after[("source_errors_total", source)] == was("source_errors_total", source="hf") + 1
    slack = (("platform", "slack"),)
    assert (
        after[("digests_posted_total", slack)] == was("digests_posted_total", platform="slack") + 1
    )
    count = ("command_latency_seconds_count", ())
    assert after[count] == was("command_latency_seconds_count") + 3
    assert after[("command_latency_seconds_sum", ())] > was("command_latency_seconds_sum")
    # Our own registry: no process or GC collectors of prometheus_client's global one.
    assert not any(name.startswith(("process_", "python_gc")) for name, _ in after)


async def test_metrics_count_failed_posts(deploy_bot: Paperbot, server: HealthServer) -> None:
    from paperbot.errors import PostError

    poster = deploy_bot.posters["slack"]
    assert hasattr(poster, "fail")
    poster.fail = lambda posted: PostError("HTTP 500") if posted.kind == "item" else None
    deploy_bot.delivery.sleep = _no_sleep
    before = sample("posts_failed_total", {"platform": "slack"})
    await deploy_bot.subscribe(KEY, "diffusion", "U1")
    deploy_bot.sources = [FakeSource("arxiv", {DAY: [make_paper("Diffusion", "diffusion")]})]
    await deploy_bot.ingest_day(DAY)
    report = await deploy_bot.deliver_digest(KEY)
    assert len(report.failed) == 1
    text = (await get(f"{server.url}/metrics")).text
    assert values(text)[("posts_failed_total", (("platform", "slack"),))] == before + 1


async def _no_sleep(seconds: float) -> None:
    return None


async def test_metrics_speak_openmetrics_to_prometheus(server: HealthServer) -> None:
    response = await get(
        f"{server.url}/metrics", Accept="application/openmetrics-text; version=1.0.0"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
    assert "command_latency_seconds" in response.text


async def test_routes_mount_on_the_slack_http_mode_app(
    deploy_bot: Paperbot, deploy_store: Store
) -> None:
    """The same port serves Slack's signed requests and the health endpoints."""
    from slack_sdk.web.async_client import AsyncWebClient

    from paperbot.adapters.slack import SlackAdapter

    settings = SlackSettings(
        bot_token=SecretStr(SLACK_BOT_TOKEN), signing_secret=SecretStr(SLACK_SIGNING_SECRET)
    )
    client = AsyncWebClient(token=SLACK_BOT_TOKEN, base_url="http://127.0.0.1:9/api/")
    adapter = SlackAdapter(settings, deploy_bot, client, host="127.0.0.1", port=0)
    health = Health(deploy_store)
    health.add_platform("slack", lambda: True)
    add_routes(adapter.web_app, health)
    runner = web.AppRunner(adapter.web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            assert (await http.get("/healthz")).json()["platforms"] == {
                "slack": {"connected": True}
            }
            assert "papers_ingested_total" in (await http.get("/metrics")).text
            unsigned = await http.post(settings.http_path, content=b"command=/papers")
            assert unsigned.status_code == 401
    finally:
        await runner.cleanup()


async def test_start_health_picks_its_place(deploy_store: Store) -> None:
    """The runner's one call: off, mounted on Slack's HTTP-mode app, or a site of its own."""
    health = Health(deploy_store)
    assert await start_health(HttpSettings(enabled=False), health) is None

    slack_app = web.Application()
    assert await start_health(HttpSettings(), health, slack_web_app=slack_app) is None
    paths = {route.resource.canonical for route in slack_app.router.routes() if route.resource}
    assert {"/healthz", "/metrics"} <= paths

    server = await start_health(HttpSettings(host="127.0.0.1", port=0), health)
    assert server is not None
    try:
        assert (await get(f"{server.url}/healthz")).status_code == 200
    finally:
        await server.stop()
