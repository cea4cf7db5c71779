"""The migrations on real databases: subscription rows turned into query rows, and every
downgrade keeps the rows that hang off the tables it changes (a SQLite table copy of channels
would cascade-delete them)."""

from __future__ import annotations

from ingest_helpers import KEY, OTHER, candidates, paper

from paperbot.ingest import LiveSubscriptions
from paperbot.models import MatchField
from paperbot.store.store import Store
from paperbot.testing import FixedClock


def test_the_migration_turns_subscription_rows_into_query_rows(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect
    from sqlalchemy import text as sql

    from paperbot.store.database import _MIGRATIONS, create_db_engine

    engine = create_db_engine(db_url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")
    Store(engine, FixedClock()).upsert_papers([paper(1, "Diffusion"), paper(2, "Robots")])
    at = FixedClock()()
    with engine.begin() as conn:  # the channels and per-subscription rows of the old schema
        for key in (KEY, OTHER):
            conn.execute(
                sql(
                    "INSERT INTO channels (platform, workspace, channel, timezone, digest_hour, "
                    "max_items, digest_days, threaded, post_when_empty, paused, created_at) "
                    "VALUES (:p, :w, :c, 'UTC', 9, 10, 'mon', true, false, false, :at)"
                ),
                {"p": key.platform, "w": key.workspace, "c": key.channel, "at": at},
            )
        ids = {}
        for channel_id, query in ((1, "diffusion"), (2, "diffusion"), (2, "robot")):
            ids[channel_id, query] = conn.execute(
                sql(
                    "INSERT INTO subscriptions (channel_id, query, created_by, created_at) "
                    "VALUES (:c, :q, 'U', :at) RETURNING id"
                ),
                {"c": channel_id, "q": query, "at": at},
            ).scalar_one()
        for channel_id, query, paper_id in (
            (1, "diffusion", "2611.00001"),
            (2, "diffusion", "2611.00001"),
            (2, "robot", "2611.00002"),
        ):
            conn.execute(
                sql(
                    "INSERT INTO matches (subscription_id, paper_id, channel_id, field, matched_at)"
                    " VALUES (:s, :p, :c, 'title', :at)"
                ),
                {"s": ids[channel_id, query], "p": paper_id, "c": channel_id, "at": at},
            )
    engine.dispose()
    migrated = Store.open(db_url, clock=FixedClock())
    try:
        title = MatchField.TITLE
        assert candidates(migrated, KEY) == {("2611.00001", "diffusion", title)}
        assert candidates(migrated, OTHER) == {
            ("2611.00001", "diffusion", title),
            ("2611.00002", "robot", title),
        }
        migrated.add_subscription(KEY, "graph", "U")  # the change counter exists and counts
        assert LiveSubscriptions().sync(migrated).full
        assert migrated.subscription_changes(0)[0] == 1
        # 0009s: the rows kept through SQLite's table copy, without the key's check.
        assert inspect(migrated.engine).get_foreign_keys("query_matches") == []
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0008r")
        assert [fk["name"] for fk in inspect(engine).get_foreign_keys("query_matches")] == [
            "fk_query_matches_query_id_queries"
        ]
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        assert candidates(migrated, OTHER) == {
            ("2611.00001", "diffusion", title),
            ("2611.00002", "robot", title),
        }
        # Down past 0007 (which drops channels.resumed_at) with rows in every table that hangs
        # off channels: a SQLite table copy of channels would cascade-delete them all.
        children = ("subscriptions", "posts", "digests", "votes", "roundups")
        with engine.begin() as conn:
            conn.execute(
                sql(
                    "INSERT INTO posts (channel_id, paper_id, state, digest_day, created_at) "
                    "VALUES (1, '2611.00001', 'posted', :day, :at)"
                ),
                {"day": at.date(), "at": at},
            )
            conn.execute(
                sql(
                    "INSERT INTO digests (channel_id, day, state, created_at) "
                    "VALUES (1, :day, 'done', :at)"
                ),
                {"day": at.date(), "at": at},
            )
            conn.execute(
                sql(
                    "INSERT INTO votes (channel_id, paper_id, user_id, value, voted_at) "
                    "VALUES (2, '2611.00002', 'U', 1, :at)"
                ),
                {"at": at},
            )
            conn.execute(
                sql("INSERT INTO roundups (channel_id, weekday, hour) VALUES (2, 'fri', 9)")
            )
        with engine.connect() as conn:
            kept = {
                t: conn.execute(sql(f"SELECT count(*) FROM {t}")).scalar_one() for t in children
            }
        assert kept == {"subscriptions": 4, "posts": 1, "digests": 1, "votes": 1, "roundups": 1}
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0006")
        assert "resumed_at" not in {c["name"] for c in inspect(engine).get_columns("channels")}
        with engine.connect() as conn:
            after = {
                t: conn.execute(sql(f"SELECT count(*) FROM {t}")).scalar_one() for t in children
            }
            assert conn.execute(sql("SELECT count(*) FROM channels")).scalar_one() == 2
        assert after == kept
        # And on down past 0003, which drops channels.keep_days: the same cascade.
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0002")
        assert "keep_days" not in {c["name"] for c in inspect(engine).get_columns("channels")}
        with engine.connect() as conn:
            oldest = {
                t: conn.execute(sql(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("subscriptions", "posts", "votes")
            }
        assert oldest == {"subscriptions": 4, "posts": 1, "votes": 1}
    finally:
        migrated.close()
        engine.dispose()
