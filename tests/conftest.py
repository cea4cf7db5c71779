"""Shared fixtures: real databases (a SQLite file per test, and PostgreSQL when a server is
given), a real search index, and the fakes from paperbot.testing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.store.store import Store
from paperbot.testing import FixedClock, RecordingPoster

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
    name = f"paperbot_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind paperbot supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'paperbot.sqlite'}"
    else:
        yield from _fresh_postgres_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'paperbot.sqlite'}"


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
