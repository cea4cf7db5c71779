"""Claims that let several bot processes share one database without a lock service.

A lease is one row per name (`digest:<channel>`, `ingest`): taking it is a single INSERT ... ON
CONFLICT DO UPDATE whose WHERE only lets a free, lapsed or already-owned row change hands, so the
database decides who wins, on PostgreSQL and SQLite alike. A holder that dies just stops renewing;
its lease lapses and the next taker reconciles whatever it left half done.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from paperbot.models import ChannelKey
from paperbot.store.store import LedgerEntry, PostState, Store
from paperbot.store.tables import channels, leases, posts

log = logging.getLogger(__name__)

LEASE_TTL = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    owner: str
    acquired_at: datetime
    expires_at: datetime


class Coordination:
    """Lease and ledger queries for the scheduler and the delivery loop (blocking, short)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- leases ---------------------------------------------------------------------------

    def acquire(self, name: str, owner: str, ttl: timedelta, steal_from: str | None = None) -> bool:
        """Take (or extend) the lease `name`; True if `owner` holds it now.

        `steal_from` names a holder the caller has proven dead (a crashed process on this host), so
        its lease can be taken before it lapses; the check is part of the same statement, so a
        lease that changed hands meanwhile is left alone.
        """
        now = self.store.clock()
        insert = postgresql.insert if self.store.dialect == "postgresql" else sqlite.insert
        statement = insert(leases).values(
            name=name, owner=owner, acquired_at=now, expires_at=now + ttl
        )
        takeable = or_(leases.c.expires_at <= now, leases.c.owner == owner)
        if steal_from is not None:
            takeable = or_(takeable, leases.c.owner == steal_from)
        upsert = statement.on_conflict_do_update(
            index_elements=[leases.c.name],
            set_={
                "owner": statement.excluded.owner,
                "acquired_at": statement.excluded.acquired_at,
                "expires_at": statement.excluded.expires_at,
            },
            where=takeable,
        ).returning(leases.c.owner)
        with self.store.transaction() as conn:
            return conn.execute(upsert).first() is not None

    def renew(self, name: str, owner: str, ttl: timedelta) -> bool:
        """Push the lease's expiry on; False means it lapsed and someone else may hold it."""
        with self.store.transaction() as conn:
            result = conn.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.owner == owner)
                .values(expires_at=self.store.clock() + ttl)
            )
            return result.rowcount > 0

    def release(self, name: str, owner: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.owner == owner))

    def holder(self, name: str) -> Lease | None:
        """The current holder, lapsed or not (the caller compares `expires_at` with its clock)."""
        with self.store.engine.connect() as conn:
            row = conn.execute(select(leases).where(leases.c.name == name)).mappings().first()
        return None if row is None else Lease(**row)

    # --- the ledger, per channel ----------------------------------------------------------

    def pending_posts(self, key: ChannelKey) -> list[LedgerEntry]:
        """Intents of one channel whose post was never confirmed (what a crash leaves behind)."""
        query = (
            select(posts, channels.c.platform, channels.c.workspace, channels.c.channel)
            .join(channels, channels.c.id == posts.c.channel_id)
            .where(
                posts.c.state == PostState.PENDING,
                channels.c.platform == key.platform,
                channels.c.workspace == key.workspace,
                channels.c.channel == key.channel,
            )
            .order_by(posts.c.created_at, posts.c.paper_id)
        )
        with self.store.engine.connect() as conn:
            return [
                LedgerEntry(
                    channel=key,
                    paper_id=row["paper_id"],
                    state=row["state"],
                    message_id=row["message_id"],
                    digest_day=row["digest_day"],
                    created_at=row["created_at"],
                    digest_id=row["digest_id"],
                )
                for row in conn.execute(query).mappings()
            ]

    def channels_with_pending(self) -> list[ChannelKey]:
        query = (
            select(channels.c.platform, channels.c.workspace, channels.c.channel)
            .join(posts, posts.c.channel_id == channels.c.id)
            .where(posts.c.state == PostState.PENDING)
            .distinct()
        )
        with self.store.engine.connect() as conn:
            return sorted((ChannelKey(*row) for row in conn.execute(query).all()), key=str)

    def ledger_counts(self) -> dict[ChannelKey, dict[str, int]]:
        """Ledger rows per channel and state, for `paperbot status`."""
        query = (
            select(
                channels.c.platform,
                channels.c.workspace,
                channels.c.channel,
                posts.c.state,
                func.count(),
            )
            .join(posts, posts.c.channel_id == channels.c.id)
            .group_by(channels.c.platform, channels.c.workspace, channels.c.channel, posts.c.state)
        )
        counts: dict[ChannelKey, dict[str, int]] = defaultdict(dict)
        with self.store.engine.connect() as conn:
            for platform, workspace, channel, state, count in conn.execute(query).all():
                counts[ChannelKey(platform, workspace, channel)][state] = int(count)
        return dict(counts)

    def channel_created_at(self) -> dict[ChannelKey, datetime]:
        """When each channel was first seen: a slot before that is not a missed digest."""
        query = select(
            channels.c.platform, channels.c.workspace, channels.c.channel, channels.c.created_at
        )
        with self.store.engine.connect() as conn:
            return {
                ChannelKey(platform, workspace, channel): created
                for platform, workspace, channel, created in conn.execute(query).all()
            }


# --- holding leases from async code ------------------------------------------------------------


def owner_token() -> str:
    """Who holds a lease: host, pid and a nonce (two bots in one process are still two owners)."""
    return f"{socket.gethostname()[:40]}/{os.getpid()}/{secrets.token_hex(3)}"


def is_dead_local_owner(owner: str) -> bool:
    """True only when the owner ran on this host and its process is gone: after a crash and a
    quick restart its lease can be taken at once instead of waiting for it to lapse."""
    host, _, rest = owner.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname()[:40] or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(slots=True)
class HeldLease:
    name: str
    lost: bool = False


class LeaseKeeper:
    """Takes leases for one owner and renews them in the background while the work goes on."""

    def __init__(self, store: Store, ttl: timedelta = LEASE_TTL) -> None:
        self.coordination = Coordination(store)
        self.ttl = ttl
        self.owner = owner_token()

    async def take(self, name: str) -> bool:
        run, coordination = asyncio.to_thread, self.coordination
        if await run(coordination.acquire, name, self.owner, self.ttl):
            return True
        holder = await run(coordination.holder, name)
        if holder is None or not is_dead_local_owner(holder.owner):
            return False
        log.info("lease %s: its holder %s is gone; taking over", name, holder.owner)
        return await run(coordination.acquire, name, self.owner, self.ttl, holder.owner)

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[HeldLease | None]:
        """Yield the held lease, or None when someone else holds it."""
        if not await self.take(name):
            yield None
            return
        held = HeldLease(name)
        renewer = asyncio.create_task(self._renew(held))
        try:
            yield held
        finally:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer
            # Shielded: work cancelled at shutdown still hands its lease back.
            await asyncio.shield(asyncio.to_thread(self.coordination.release, name, self.owner))

    async def _renew(self, held: HeldLease) -> None:
        while not held.lost:
            await asyncio.sleep(self.ttl.total_seconds() / 3)
            try:
                renewed = await asyncio.to_thread(
                    self.coordination.renew, held.name, self.owner, self.ttl
                )
            except Exception:  # the database is away: stop rather than risk a double post
                log.exception("could not renew lease %s", held.name)
                renewed = False
            if not renewed:
                held.lost = True
                log.warning("lost lease %s; stopping before the next post", held.name)
