"""What the delivery tests share: a channel subscribed to diffusion with matching papers, the
ledger's states, recorded backoff sleeps, a crash's leftovers and a poster that loses answers."""

from __future__ import annotations

from datetime import date

from paperbot.errors import CannotTell, PostOutcomeUnknown
from paperbot.models import ChannelKey, Digest, DigestItem, Paper
from paperbot.service import Paperbot
from paperbot.testing import FakeSource, RecordingPoster, make_paper

KEY = ChannelKey("console", "local", "general")
DAY = date(2026, 11, 20)


def papers(count: int = 4) -> list[Paper]:
    return [
        make_paper(f"Diffusion study {n}", "We study diffusion.", arxiv_id=f"2611.{n:05d}")
        for n in range(1, count + 1)
    ]


async def matched(bot: Paperbot, key: ChannelKey = KEY, count: int = 4) -> list[str]:
    """Subscribe `key` to diffusion and ingest `count` matching papers; returns their ids."""
    await bot.subscribe(key, "diffusion", "U1")
    found = papers(count)
    bot.sources = [FakeSource("arxiv", {DAY: found})]
    await bot.ingest_day(DAY)
    return [p.arxiv_id for p in found]


def states(bot: Paperbot, key: ChannelKey = KEY) -> dict[str, str]:
    return {entry.paper_id: entry.state for entry in bot.store.ledger(key)}


class Sleeps:
    """Records backoff delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def crash_leftovers(bot: Paperbot, ids: list[str]) -> None:
    """What a crash mid-digest leaves: every paper reserved, none completed."""
    reserved = await bot.blocking(bot.store.reserve_posts, KEY, ids, DAY, "dead-worker")
    assert reserved == ids


class LosesTheAnswer(RecordingPoster):
    """The platform takes the post, then the answer is lost on the way back (a timeout)."""

    def __init__(self, lose: str, can_tell: bool) -> None:
        super().__init__()
        self.lose = lose
        self.can_tell = can_tell

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        message_id = await super().post_item(channel, digest, item, thread)
        if item.paper.arxiv_id == self.lose:
            self.lose = ""
            raise PostOutcomeUnknown("read timeout")
        return message_id

    async def find_posted(
        self, channel: ChannelKey, paper_id: str, since: object, thread: str | None = None
    ) -> str | None:
        if not self.can_tell:
            raise CannotTell("history unreadable")
        return await super().find_posted(channel, paper_id, since)  # type: ignore[arg-type]
