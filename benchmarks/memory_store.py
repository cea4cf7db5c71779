"""bench_memory.py's stores: a million backfilled papers and their subscriptions laid out as
`paperbot run` finds them under its data_dir (built once, reused while the schema holds), a
fresh copy of it for each run, the baseline's empty store, and the console bot's config."""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import corpus
from bench_ingest import make_dump
from paperbot.backfill import backfill
from paperbot.errors import InvalidInput
from paperbot.models import ChannelKey, ChannelSettings
from paperbot.query import parse
from paperbot.search import SearchIndex
from paperbot.search.analysis import SCHEMA_VERSION
from paperbot.settings import Settings
from paperbot.store.database import head_revision
from paperbot.store.store import Store

CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port, nothing listens: any fetch fails at once


def progress(message: str) -> None:
    print(f"[bench_memory] {message}", file=sys.stderr, flush=True)


def mb(path: Path) -> float:
    """Size on disk of a file, or of everything under a directory."""
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


@dataclass(frozen=True, slots=True)
class Layout:
    """Where `paperbot run` looks under a data_dir (asked of Settings, not hard-coded)."""

    data_dir: Path

    @property
    def settings(self) -> Settings:
        return Settings.model_construct(data_dir=self.data_dir)  # defaults only, no environment

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @property
    def database(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def search_index(self) -> Path:
        return self.settings.search_index_dir


def build_store(workdir: Path, papers: int, subscriptions: int) -> tuple[Layout, dict[str, int]]:
    """The store with `papers` backfilled papers and `subscriptions` subscriptions, built once;
    a build that did not finish, or was made for another schema, is built again. Returns where
    it is and what it holds (papers, subscriptions, channels)."""
    target = workdir / f"store-{papers}-papers-{subscriptions}-subscriptions"
    marker = target / "built.json"
    layout = Layout(target / "data")
    wanted = {"search_schema": SCHEMA_VERSION, "migration": head_revision()}
    if marker.exists():
        built = json.loads(marker.read_text())
        if built.get("versions") == wanted and "holds" in built:
            progress(f"reusing the store in {target}")
            return layout, built["holds"]
    shutil.rmtree(target, ignore_errors=True)
    dump = workdir / f"arxiv-{papers}.jsonl"  # bench_ingest's name: its dumps are reused
    if not dump.exists():
        make_dump(dump, papers, compress=False)
    started = time.perf_counter()
    store = Store.open(layout.database_url)
    search = SearchIndex.open(layout.search_index)
    shown = [started]

    def report(done: int, read: int) -> None:
        now = time.perf_counter()
        if now - shown[0] > 10:
            shown[0] = now
            rate = done / (now - started)
            eta = (papers - done) / rate if rate else 0.0
            progress(f"  {done:,}/{papers:,} papers, {rate:,.0f}/s, about {eta:,.0f} s to go")

    try:
        progress(f"backfill: {dump.name} ({mb(dump):,.0f} MB) into {layout.data_dir}")
        result = backfill(store, dump, search, progress=report)
        progress(f"  {result.papers:,} papers in {result.seconds:,.0f} s")
        assert store.count_papers() == papers and search.num_docs == papers
        stored, channels = add_subscriptions(store, subscriptions)
    finally:
        search.close()  # waits for tantivy's merges, as `paperbot backfill` does
        store.close()
    holds = {"papers": papers, "subscriptions": stored, "channels": channels}
    marker.write_text(json.dumps({"holds": holds, "versions": wanted}))
    return layout, holds


def add_subscriptions(store: Store, count: int) -> tuple[int, int]:
    """Store `count` synthetic subscriptions as `/papers subscribe` does (canonical queries; a
    query a channel already follows is refused); returns (subscriptions, channels)."""
    if count <= 0:
        return 0, 0
    progress(f"storing {count:,} subscriptions")
    defaults = ChannelSettings()
    channels: set[ChannelKey] = set()
    stored = 0
    for subscription in corpus.synthetic_subscriptions(count):
        try:
            canonical = str(parse(subscription.query))
        except InvalidInput:
            continue
        if subscription.channel not in channels:
            store.ensure_channel(subscription.channel, defaults)
            channels.add(subscription.channel)
        if store.add_subscription(subscription.channel, canonical, "bench") is not None:
            stored += 1
    progress(f"  {stored:,} subscriptions in {len(channels):,} channels")
    return stored, len(channels)


def write_config(run: Path, layout: Layout, max_resident_mb: int | None) -> Path:
    """A config for the console bot on `layout`, with every source on a closed local port
    (and the search index's memory budget, if given; else the bot's default)."""
    config = run / "config.toml"
    quoted = json.dumps  # a JSON string is a valid TOML basic string
    config.write_text(
        f"data_dir = {quoted(str(layout.data_dir))}\n"
        "[sources.hf]\n"
        f"base_url = {quoted(CLOSED_PORT_URL)}\n"
        "[sources.arxiv]\n"
        f"rss_base_url = {quoted(CLOSED_PORT_URL)}\n"
        f"api_base_url = {quoted(CLOSED_PORT_URL)}\n"
        "[http]\n"
        'host = "127.0.0.1"\n'
        "port = 0\n"
        + ("" if max_resident_mb is None else f"[search]\nmax_resident_mb = {max_resident_mb}\n")
    )
    return config


def fresh_copy(layout: Layout, run: Path) -> Layout:
    """A copy of the built store for the bot to change (it ingests the sample, records a
    digest), so every run starts from the same store."""
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    started = time.perf_counter()
    shutil.copytree(layout.data_dir, run / "data")
    progress(f"copied the store to {run} in {time.perf_counter() - started:.0f} s")
    return Layout(run / "data")


def empty_store(run: Path, subscriptions: int) -> Layout:
    """The baseline's store: the same subscriptions, no backfilled papers, no index yet."""
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    layout = Layout(run / "data")
    store = Store.open(layout.database_url)
    try:
        add_subscriptions(store, subscriptions)
    finally:
        store.close()
    return layout
