"""How long to wait before trying again: capped exponential backoff with jitter."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Backoff:
    """Attempt n waits between half and all of min(cap, base * 2^n): growing, never above the
    cap, never zero (a tight loop), and spread out, so many clients back from one outage do not
    all return in the same second."""

    base: float = 1.0
    cap: float = 60.0
    rand: Callable[[], float] = random.random
    attempts: int = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2.0**self.attempts)
        self.attempts += 1
        return ceiling / 2 + ceiling / 2 * self.rand()

    def reset(self) -> None:
        self.attempts = 0
