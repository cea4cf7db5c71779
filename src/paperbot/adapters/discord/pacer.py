"""Spacing of outgoing Discord requests, so a digest fan-out to many channels never bursts.

discord.py already waits when Discord answers 429; pacing keeps us from provoking those 429s in
the first place (a burst of hundreds of channels would otherwise hit the 50 requests/s global
limit and every channel's ~1 message/s bucket at once). Clock and sleep are injected so tests
run in virtual time.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_CHANNEL_INTERVAL = 1.0
DEFAULT_GLOBAL_RATE = 40.0
_MAX_TRACKED_KEYS = 10_000


class Pacer:
    """At most one request per `interval` for each key, and `global_rate` requests/s in all."""

    def __init__(
        self,
        channel_interval: float = DEFAULT_CHANNEL_INTERVAL,
        global_rate: float = DEFAULT_GLOBAL_RATE,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if channel_interval < 0 or global_rate <= 0:
            raise ValueError("pacing needs a non-negative interval and a positive global rate")
        self.channel_interval = channel_interval
        self.global_interval = 1.0 / global_rate
        self.clock = clock
        self.sleep = sleep
        self._next_global = 0.0
        self._global_lock = asyncio.Lock()
        # Per key: (lock serialising that key's requests, earliest time of its next request).
        self._keys: OrderedDict[Hashable, tuple[asyncio.Lock, list[float]]] = OrderedDict()

    async def wait(self, key: Hashable, interval: float | None = None) -> None:
        """Return when a request for `key` may go out; `interval` overrides the per-key spacing."""
        lock, next_at = self._slot(key)
        async with lock:
            await self._sleep_until(next_at[0])
            await self._wait_global()
            spacing = self.channel_interval if interval is None else interval
            next_at[0] = self.clock() + spacing

    async def _wait_global(self) -> None:
        async with self._global_lock:
            now = self.clock()
            start = max(now, self._next_global)
            self._next_global = start + self.global_interval
        await self._sleep_until(start)

    async def _sleep_until(self, when: float) -> None:
        delay = when - self.clock()
        if delay > 0:
            await self.sleep(delay)

    def _slot(self, key: Hashable) -> tuple[asyncio.Lock, list[float]]:
        slot = self._keys.get(key)
        if slot is None:
            slot = (asyncio.Lock(), [0.0])
            self._keys[key] = slot
            self._forget_idle()
        else:
            self._keys.move_to_end(key)
        return slot

    def _forget_idle(self) -> None:
        """Keep memory bounded: drop the least recently used keys nobody is waiting on."""
        while len(self._keys) > _MAX_TRACKED_KEYS:
            oldest, (lock, next_at) = next(iter(self._keys.items()))
            if lock.locked() or next_at[0] > self.clock():
                break
            del self._keys[oldest]
