"""A cap on how much of the search index stays mapped into the bot's resident memory.

tantivy reads its files through mmap: every page a search touches stays mapped, and counted in
the process's RSS, until the kernel wants the memory back. Over days of varied searches most
of a million-paper index (~500 MB) ends up resident, although those pages are clean copies of
files the page cache holds anyway. When the process passes its budget, the search side opens
the index afresh and lets the old reader go: tantivy unmaps the old files itself once no search
holds them (nothing is unmapped under a running search), and the next searches map back what
they need from the page cache, without disk reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable

# After a reopen that could not bring the process under its budget (most of the memory is not
# the index), wait for this much growth before trying again instead of reopening every search.
RETRY_GROWTH_BYTES = 32 * 2**20


def process_rss() -> int | None:
    """This process's resident bytes, or None where /proc is not there (not Linux)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            resident_pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


class ResidencyCap:
    """Decides, after each search, whether the index should be reopened to shed its pages."""

    def __init__(
        self, max_bytes: int | None, read_rss: Callable[[], int | None] | None = None
    ) -> None:
        self.max_bytes = max_bytes or None  # 0 or None: no cap
        self._rss_source = read_rss
        self._next_check = self.max_bytes
        self.reopened = 0

    def over(self) -> bool:
        """Whether resident memory has passed the budget (and any retry threshold)."""
        if self._next_check is None:
            return False
        rss = self._read_rss()
        return rss is not None and rss > self._next_check

    def shed(self) -> int | None:
        """Record a reopen; if the process is still over budget, back off. Returns the RSS
        after it."""
        assert self.max_bytes is not None
        self.reopened += 1
        rss = self._read_rss()
        if rss is not None and rss > self.max_bytes:
            self._next_check = rss + RETRY_GROWTH_BYTES
        else:
            self._next_check = self.max_bytes
        return rss

    def _read_rss(self) -> int | None:
        return (self._rss_source or process_rss)()
