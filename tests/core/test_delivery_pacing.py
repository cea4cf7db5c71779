"""Pacing: the gap between posts to one channel, a workspace's rate, requests in flight."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from delivery_helpers import KEY, matched

from paperbot.delivery import Pacer, PaceRule
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.testing import Posted, RecordingPoster, VirtualTime


class TimedPoster(RecordingPoster):
    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self.clock = clock
        self.times: list[tuple[ChannelKey, float]] = []

    def _record(self, posted: Posted) -> str:
        self.times.append((posted.channel, self.clock()))
        return super()._record(posted)


async def test_posts_to_one_channel_keep_the_platform_gap(bot: Paperbot) -> None:
    virtual = VirtualTime()
    timed = TimedPoster(virtual.clock)
    bot.posters["console"] = timed
    bot.delivery.pacer = Pacer(
        {"console": PaceRule(channel_gap=1.0)}, clock=virtual.clock, sleep=virtual.sleep
    )
    await matched(bot, count=4)
    await bot.deliver_digest(KEY)
    stamps = [t for _, t in timed.times]
    assert len(stamps) == 5  # header and four papers
    assert min(b - a for a, b in itertools.pairwise(stamps)) >= 1.0


async def test_pacer_spreads_a_workspace_but_not_separate_workspaces() -> None:
    virtual = VirtualTime()
    pacer = Pacer(
        {"slack": PaceRule(workspace_rate=20.0, workspace_burst=1)},
        clock=virtual.clock,
        sleep=virtual.sleep,
    )
    stamps: list[tuple[str, float]] = []

    async def post(key: ChannelKey) -> None:
        async with pacer.turn(key):
            stamps.append((key.workspace, virtual.clock()))

    same = [ChannelKey("slack", "T1", f"C{n}") for n in range(5)]
    await asyncio.gather(*(post(key) for key in same))
    t1 = sorted(t for w, t in stamps if w == "T1")
    assert min(b - a for a, b in itertools.pairwise(t1)) >= 0.05 - 1e-9  # 20/s in one workspace
    stamps.clear()
    start = virtual.clock()
    await asyncio.gather(*(post(ChannelKey("slack", f"W{n}", "C1")) for n in range(5)))
    assert max(t for _, t in stamps) == start  # five workspaces: all at once


async def test_pacer_bounds_requests_in_flight() -> None:
    pacer = Pacer({}, max_in_flight=3)
    active = peak = 0

    async def post(n: int) -> None:
        nonlocal active, peak
        async with pacer.turn(ChannelKey("x", "w", f"c{n}")):
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1

    await asyncio.gather(*(post(n) for n in range(12)))
    assert peak == 3
