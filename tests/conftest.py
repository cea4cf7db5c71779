"""Shared fixtures: real databases (a SQLite file per test, and PostgreSQL when a server is
given), a real search index, and the fakes from paperbot.testing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.store.store import Store
from paperbot.testing import FixedClock, RecordingPoster, throwaway_database

FIXTURES = Path(__file__).parent / "fixtures"
POSTGRES_ENV = "PAPERBOT_TEST_POSTGRES_URL"


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def _fresh_postgres_database() -> Iterator[str]:
    admin = postgres_admin_url()
    if admin is None:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set: CI must run every test on PostgreSQL too")
        pytest.skip(f"no PostgreSQL server ({POSTGRES_ENV} unset)")
    with throwaway_database(admin) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind paperbot supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'paperbot.sqlite'}"
    else:
        yield from _fresh_postgres_database()


@pytest.fixture
def store(db_url: str, clock: FixedClock) -> Iterator[Store]:
    opened = Store.open(db_url, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def search_index() -> Iterator[SearchIndex]:
    index = SearchIndex.open(None)
    yield index
    index.close()


@pytest.fixture
def poster() -> RecordingPoster:
    return RecordingPoster()


@pytest.fixture
def bot(
    store: Store, search_index: SearchIndex, poster: RecordingPoster, clock: FixedClock
) -> Paperbot:
    return Paperbot(store, search_index, posters={"console": poster}, clock=clock)
