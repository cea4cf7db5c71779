"""`/healthz` and `/metrics` over HTTP, on Slack's HTTP-mode port when that runs, else on their own.

One port for everything keeps a container to one published port and one probe. The routes are
plain aiohttp handlers, so they mount on the Slack adapter's `web_app` (before it starts:
aiohttp freezes an application's routes when it starts) or on an application of their own.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from paperbot.metrics import REGISTRY, Health
from paperbot.settings import HttpSettings

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"


def add_routes(
    app: web.Application, health: Health, registry: CollectorRegistry = REGISTRY
) -> None:
    """Mount GET (and HEAD) `/healthz` and `/metrics` on `app`."""

    async def healthz(request: web.Request) -> web.Response:
        report = await health.check()
        # 503 makes Docker's HEALTHCHECK, Kubernetes and load balancers see "unhealthy".
        return web.json_response(report.as_json(), status=200 if report.healthy else 503)

    async def metrics(request: web.Request) -> web.Response:
        # Prometheus asks for OpenMetrics in its Accept header; curl gets the classic text.
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        response = web.Response(body=encode(registry))
        response.headers["Content-Type"] = content_type
        return response

    app.router.add_get(HEALTH_PATH, healthz)
    app.router.add_get(METRICS_PATH, metrics)


def make_app(health: Health, registry: CollectorRegistry = REGISTRY) -> web.Application:
    app = web.Application()
    add_routes(app, health, registry)
    return app


class HealthServer:
    """The health endpoints on their own port, for when no Slack HTTP mode serves them."""

    def __init__(
        self,
        health: Health,
        host: str = "127.0.0.1",
        port: int = 3000,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.host = host
        self.port = port
        self._app = make_app(health, registry)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and serve; with port 0 the system picks one, and `self.port` tells which."""
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        for address in self._runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        log.info(
            "health: serving %s and %s on %s:%d", HEALTH_PATH, METRICS_PATH, self.host, self.port
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def start_health(
    settings: HttpSettings, health: Health, slack_web_app: web.Application | None = None
) -> HealthServer | None:
    """Serve the endpoints the one way that applies: mounted on Slack's HTTP-mode application
    when it runs (it owns `http.port`; call this before it starts), else on a site of their
    own at `http.host:http.port`. Returns the server to stop, if one was started."""
    if not settings.enabled:
        return None
    if slack_web_app is not None:
        add_routes(slack_web_app, health)
        return None
    server = HealthServer(health, settings.host, settings.port)
    await server.start()
    return server
