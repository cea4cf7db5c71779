"""Explicit wiring: settings in, a ready core out. No plugin discovery; every part is named here."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from paperbot.models import ChannelSettings
from paperbot.ports import PaperSource
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.settings import Settings
from paperbot.sources.arxiv import ArxivSource
from paperbot.sources.hf_daily import HFDailySource
from paperbot.sources.sample import SampleSource
from paperbot.store.store import Store, utc_now
from paperbot.summaries import ChatCompletions, TldrWriter


def channel_defaults(settings: Settings) -> ChannelSettings:
    c = settings.channels
    return ChannelSettings(
        timezone=c.timezone,
        digest_hour=c.digest_hour,
        max_items=c.max_items,
        digest_days=tuple(c.digest_days),
        threaded=c.threaded,
        post_when_empty=c.post_when_empty,
        keep_days=c.keep_days,
    )


def build_sources(
    settings: Settings, client: httpx.AsyncClient, include_sample: bool = False
) -> list[PaperSource]:
    sources: list[PaperSource] = []
    if settings.sources.hf.enabled:
        sources.append(HFDailySource(client, settings.sources))
    if settings.sources.arxiv.enabled:
        sources.append(ArxivSource(client, settings.sources))
    if settings.sources.sample or include_sample:
        sources.append(SampleSource())
    return sources


@dataclass
class Core:
    settings: Settings
    store: Store
    search: SearchIndex
    bot: Paperbot
    http: httpx.AsyncClient

    async def aclose(self) -> None:
        await self.bot.taste.aclose()
        await self.http.aclose()
        self.search.close()
        self.store.close()


def open_store(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Store:
    return Store.open(settings.database_url, clock=clock, echo=settings.database.echo)


def build_core(
    settings: Settings,
    include_sample: bool = False,
    clock: Callable[[], datetime] = utc_now,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Core:
    """Open the store (migrating it), the search index (catching it up) and the sources."""
    store = open_store(settings, clock)
    search = SearchIndex.open(
        settings.search_index_dir, max_resident_bytes=settings.search.max_resident_mb * 2**20
    )
    search.catch_up(store)
    http = httpx.AsyncClient(
        timeout=settings.sources.timeout_seconds,
        headers={"User-Agent": settings.sources.user_agent},
        follow_redirects=True,
        transport=transport,
    )
    bot = Paperbot(
        store,
        search,
        build_sources(settings, http, include_sample),
        channel_defaults=channel_defaults(settings),
        max_subscriptions=settings.channels.max_subscriptions,
        clock=clock,
        worker_id=socket.gethostname()[:40],
    )
    bot.taste.default_also_worth = settings.taste.also_worth
    bot.taste.min_up_votes = settings.taste.min_up_votes
    bot.tldr_writer = build_tldr_writer(settings, store, http)
    return Core(settings, store, search, bot, http)


def build_tldr_writer(
    settings: Settings, store: Store, http: httpx.AsyncClient
) -> TldrWriter | None:
    """The TL;DR writer when settings turn it on; it shares the sources' HTTP pool."""
    tldr = settings.tldr
    if not tldr.enabled:
        return None
    completions = ChatCompletions(
        http, tldr.base_url, tldr.model, tldr.api_key, timeout=tldr.timeout_seconds
    )
    return TldrWriter(
        store,
        completions,
        daily_papers=tldr.daily_papers,
        daily_tokens=tldr.daily_tokens,
        max_wait=tldr.max_wait_seconds,
        max_input_chars=tldr.max_input_chars,
        concurrency=tldr.concurrency,
    )
