"""One deliverer per channel: leases deferred to, taken over when lapsed or dead, lost mid-digest;
and a digest cancelled mid-post leaves nothing doubled or dropped."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from delivery_helpers import KEY, matched, states

from paperbot.models import ChannelKey, Digest, DigestItem
from paperbot.service import Paperbot
from paperbot.store.coordination import Coordination
from paperbot.testing import FixedClock, RecordingPoster


async def test_a_live_lease_elsewhere_defers_and_a_lapsed_one_is_taken_over(
    bot: Paperbot, poster: RecordingPoster, clock: FixedClock
) -> None:
    ids = await matched(bot)
    other = Coordination(bot.store)
    assert other.acquire(f"digest:{KEY}", "otherhost/1/abc", timedelta(minutes=2))
    busy = await bot.deliver_digest(KEY)
    assert busy.skipped_reason and "another worker" in busy.skipped_reason
    assert poster.posts == []
    clock.advance(minutes=3)  # the other worker died without renewing
    report = await bot.deliver_digest(KEY)
    assert sorted(report.posted) == ids
    assert other.holder(f"digest:{KEY}") is None  # handed back when done


async def test_the_lease_of_a_dead_local_process_is_taken_at_once(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    ids = await matched(bot)
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    owner = f"{socket.gethostname()[:40]}/{dead_pid.pid}/dead00"
    assert Coordination(bot.store).acquire(f"digest:{KEY}", owner, timedelta(minutes=2))
    report = await bot.deliver_digest(KEY)
    assert sorted(report.posted) == ids
    # A live local process (this one, another bot instance) is never robbed.
    live = f"{socket.gethostname()[:40]}/{os.getppid()}/live00"
    assert Coordination(bot.store).acquire(f"digest:{KEY}", live, timedelta(minutes=2))
    again = await bot.deliver_digest(KEY, force_post=True)
    assert again.skipped_reason and "another worker" in again.skipped_reason


class StealingPoster(RecordingPoster):
    """After the first item, another worker takes the channel's lease (ours had lapsed)."""

    def __init__(self, bot: Paperbot, clock: FixedClock) -> None:
        super().__init__()
        self.bot, self.clock = bot, clock

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        message_id = await super().post_item(channel, digest, item, thread)
        if len(self.items()) == 1:
            self.clock.advance(seconds=5)
            assert Coordination(self.bot.store).acquire(
                f"digest:{channel}", "thief/1/abc", timedelta(minutes=5)
            )
            await asyncio.sleep(0.3)  # the renewer notices
        return message_id


async def test_a_worker_that_lost_its_lease_stops_posting(bot: Paperbot, clock: FixedClock) -> None:
    ids = await matched(bot)
    stealing = StealingPoster(bot, clock)
    bot.posters["console"] = stealing
    bot.delivery.leases.ttl = timedelta(seconds=0.15)
    report = await bot.deliver_digest(KEY)
    assert len(report.posted) == 1 and len(stealing.items()) == 1
    assert sorted(report.checking) == sorted(set(ids) - set(report.posted))
    # Left pending for the new holder to settle by asking the platform, never retried blindly.
    assert sorted(p for p, s in states(bot).items() if s == "pending") == sorted(report.checking)


class HangingPoster(RecordingPoster):
    """The second item never returns (a platform call stuck when the bot shuts down)."""

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        if len(self.items()) == 1:
            await asyncio.sleep(3600)
        return await super().post_item(channel, digest, item, thread)


async def test_cancelled_mid_digest_unsent_papers_retry_and_the_one_in_flight_is_settled(
    bot: Paperbot,
) -> None:
    hanging = HangingPoster()
    bot.posters["console"] = hanging
    ids = await matched(bot, count=4)
    task = asyncio.create_task(bot.deliver_digest(KEY))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if hanging.items():
            break
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    ledger = states(bot)
    first = hanging.items()[0]
    assert ledger[first] == "posted"
    in_flight = [p for p, s in ledger.items() if s == "pending"]
    assert len(in_flight) == 1
    assert sorted(p for p, s in ledger.items() if s == "retry") == sorted(
        set(ids) - {first, *in_flight}
    )
    assert Coordination(bot.store).holder(f"digest:{KEY}") is None
