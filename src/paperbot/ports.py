"""The seams between the core and the outside world, as Protocols the adapters implement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from paperbot.models import ChannelKey, Digest, DigestItem, Paper, Reply


@dataclass(slots=True)
class FetchResult:
    """What one source returned for one request: the good papers and how many records it skipped."""

    source: str
    papers: list[Paper] = field(default_factory=list)
    skipped: int = 0
    duplicates: int = 0  # records repeating an arXiv id already in this result, dropped


@runtime_checkable
class PaperSource(Protocol):
    """Fetches papers for a day; raises SourceError once its own retries are spent."""

    name: str

    async def fetch_day(self, day: date) -> FetchResult: ...


@runtime_checkable
class ChatPoster(Protocol):
    """Posts core messages to one platform and returns the platform's message ids.

    Implementations retry rate limits themselves, raise ChannelUnavailable when the bot lost the
    channel and PostError when a post failed for now.
    """

    platform: str

    async def post_header(self, channel: ChannelKey, digest: Digest) -> str:
        """Post the digest's header; the id returned anchors the thread of items."""
        ...

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str: ...

    async def post_reply(self, channel: ChannelKey, reply: Reply) -> str: ...

    async def update_header(self, channel: ChannelKey, header_id: str, digest: Digest) -> None:
        """Rewrite a posted header so its list is `digest.items` (what its thread holds)."""
        ...

    async def find_header(self, channel: ChannelKey, digest: Digest, since: datetime) -> str | None:
        """The id of the header posted for `digest` (by `digest.ref`) since `since`, or None;
        raises CannotTell when the platform cannot be asked."""
        ...

    async def post_answer(self, channel: ChannelKey, reply_to: str, reply: Reply) -> bool:
        """Answer a command's requester later (Slack: its response_url); False if that is no
        longer possible, so the caller says it in the channel instead."""
        ...

    async def find_posted(
        self, channel: ChannelKey, paper_id: str, since: datetime, thread: str | None = None
    ) -> str | None:
        """The id of a message about `paper_id` posted since `since`, or None if there is none.

        Raises CannotTell when the platform cannot be asked; the caller then never resends.
        """
        ...
