"""Pacing: one post per second per channel and a global budget, in virtual time."""

from __future__ import annotations

import asyncio
import itertools

from conftest import VirtualTime
from paperbot.adapters.discord.pacer import Pacer


async def test_one_channel_is_spaced_and_many_channels_share_the_global_budget(
    virtual_time: VirtualTime,
) -> None:
    pacer = Pacer(1.0, 40.0, clock=virtual_time.clock, sleep=virtual_time.sleep)
    sent: list[tuple[str, float]] = []

    async def post(channel: str) -> None:
        await pacer.wait(channel)
        sent.append((channel, virtual_time.now))

    start = virtual_time.now
    await asyncio.gather(*(post(f"c{n % 100}") for n in range(300)))  # 3 posts x 100 channels
    for channel in {c for c, _ in sent}:
        times = [t for c, t in sent if c == channel]
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times))
    # Never more than 40 in any one-second window, and no slower than the budget demands.
    moments = sorted(t for _, t in sent)
    assert all(moments[i + 40] - moments[i] >= 1.0 - 1e-9 for i in range(len(moments) - 40))
    assert virtual_time.now - start <= 300 / 40 * 1.2


async def test_a_lone_post_does_not_wait(virtual_time: VirtualTime) -> None:
    pacer = Pacer(1.0, 40.0, clock=virtual_time.clock, sleep=virtual_time.sleep)
    await pacer.wait("c1")
    await pacer.wait("c2")
    assert virtual_time.sleeps == [] or max(virtual_time.sleeps) <= 1 / 40 + 1e-9
