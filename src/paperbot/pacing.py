"""Pacing posts to each platform's published limits, so a fan-out to many channels rarely meets
a 429 at all (posters still retry the ones that come)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from paperbot.models import ChannelKey


@dataclass(frozen=True, slots=True)
class PaceRule:
    """How fast a platform takes posts: a gap per channel, and rates per workspace and per bot."""

    channel_gap: float = 0.0
    workspace_rate: float | None = None
    workspace_burst: int = 1
    bot_rate: float | None = None
    bot_burst: int = 1


# Slack: chat.postMessage takes about 1 message per second per channel and several hundred a
# minute per workspace. Discord: 5 messages per 5 s per channel, 50 requests per second per bot.
# A channel's gap is counted from the previous answer, so the server sees at least that gap.
PACE_RULES: dict[str, PaceRule] = {
    "slack": PaceRule(channel_gap=1.0, workspace_rate=5.0, workspace_burst=10),
    "discord": PaceRule(channel_gap=1.0, bot_rate=40.0, bot_burst=40),
}


class Pacer:
    """Spaces posts so a fan-out to many channels never bursts past a platform's limits.

    Per channel a post waits out the gap since the previous one was answered: the server took
    that one before answering, so it sees at least the gap however long requests queue on the
    way (a channel's posts are sequential). Per workspace and per bot a token bucket (GCRA)
    spreads posts over time; and at most `max_in_flight` requests are out at once, so a thousand
    digests do not open a thousand connections. Posters still retry a 429 themselves; pacing is
    what keeps 429s rare.
    """

    def __init__(
        self,
        rules: Mapping[str, PaceRule] | None = None,
        max_in_flight: int = 64,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rules = dict(PACE_RULES if rules is None else rules)
        self.clock = clock
        self.sleep = sleep
        self._last_end: dict[ChannelKey, float] = {}
        self._tat: dict[tuple[str, ...], float] = {}
        self._in_flight = asyncio.Semaphore(max_in_flight)

    @asynccontextmanager
    async def turn(self, key: ChannelKey) -> AsyncIterator[None]:
        """Wait for this channel's turn to post, then hold a request slot while posting."""
        rule = self.rules.get(key.platform)
        if rule is not None:
            last = self._last_end.get(key)
            if last is not None:
                await self._until(last + rule.channel_gap)
            await self._until(self._book(key, rule))
        async with self._in_flight:
            try:
                yield
            finally:
                self._last_end[key] = self.clock()

    def _book(self, key: ChannelKey, rule: PaceRule) -> float:
        """Book the earliest time every bucket allows, in one step (no await, so atomic)."""
        now = self.clock()
        buckets: list[tuple[tuple[str, ...], float, int]] = []
        if rule.workspace_rate:
            buckets.append(
                ((key.platform, key.workspace), rule.workspace_rate, rule.workspace_burst)
            )
        if rule.bot_rate:
            buckets.append(((key.platform,), rule.bot_rate, rule.bot_burst))
        at = now
        for name, rate, burst in buckets:
            at = max(at, self._tat.get(name, now) - (burst - 1) / rate)
        for name, rate, _ in buckets:
            self._tat[name] = max(self._tat.get(name, now), at) + 1 / rate
        return at

    async def _until(self, when: float) -> None:
        delay = when - self.clock()
        if delay > 0:
            await self.sleep(delay)
