"""A digest's header over its life: posted (and found again after a crash), its list edited to
match what its thread holds, and the requester told when an interrupted digest was finished."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from paperbot.errors import CannotTell, PostError, PostNotSent, PostOutcomeUnknown
from paperbot.models import Channel, DeliveryReport, Digest, DigestItem, Reply, Visibility
from paperbot.ports import ChatPoster
from paperbot.report_text import digest_answer
from paperbot.sending import Sender, Undecided
from paperbot.store.store import DigestRecord, PostState, Store

log = logging.getLogger(__name__)

# Slack accepts answers on a command's response_url for 30 minutes; keep a margin.
ANSWER_WINDOW = timedelta(minutes=28)
FIND_MARGIN = timedelta(minutes=10)


class DigestRecords:
    def __init__(self, store: Store, sender: Sender) -> None:
        self.store = store
        self.sender = sender

    async def post_header(
        self, poster: ChatPoster, channel: Channel, digest: Digest, guard: Callable[[], None]
    ) -> str:
        """Post the header; one that may have arrived is looked for (by its ref) first."""
        key = channel.key
        since = self.store.clock() - FIND_MARGIN
        return await self.sender.send(
            key,
            partial(poster.post_header, key, digest),
            partial(poster.find_header, key, digest, since),
            guard,
        )

    async def find_header(
        self, poster: ChatPoster, channel: Channel, record: DigestRecord, now: datetime
    ) -> str | None:
        """The header of an interrupted digest whose id was never recorded (a crash right after
        posting it), or None: then no paper of it was posted either."""
        probe = Digest(channel.key, record.day, (), ref=str(record.id))
        try:
            return await poster.find_header(channel.key, probe, record.created_at - FIND_MARGIN)
        except (CannotTell, PostError) as exc:
            log.warning("%s: cannot look for digest %d's header: %s", channel.key, record.id, exc)
            return None

    async def abandon(self, record_id: int) -> None:
        """A digest whose header never went out: its papers are candidates again."""
        await asyncio.to_thread(self.store.finish_digest, record_id)

    async def open_request(
        self, channel: Channel, now: datetime, reply_to: str | None
    ) -> int | None:
        """The record of a digest someone asked for, opened before the digest is built, so that
        a crash while it is prepared still answers them (`cut_off`); None when nobody asked."""
        if not reply_to:
            return None
        day = now.astimezone(ZoneInfo(channel.settings.timezone)).date()  # the builder's day
        return await asyncio.to_thread(self.store.open_digest, channel.key, day, reply_to)

    async def abandon_request(self, record_id: int | None) -> None:
        """The request's record is not needed: empty, or answered by the caller."""
        if record_id is not None:
            await self.abandon(record_id)

    async def reopen(self, record_id: int, reply_to: str | None = None) -> None:
        await asyncio.to_thread(self.store.reopen_digest, record_id, reply_to)

    async def queued_again(self, record_id: int) -> list[str]:
        posts = await asyncio.to_thread(self.store.digest_posts, record_id)
        return [p.paper_id for p in posts if p.state == PostState.RETRY]

    async def finish(
        self,
        poster: ChatPoster,
        channel: Channel,
        record_id: int,
        header: str,
        digest: Digest,
        resumed: bool = False,
    ) -> bool:
        """Edit the header's list to what its thread holds (when they differ, or after a resume
        or a `/papers more`), then close the record. A failed edit leaves the record open, so
        the next delivery edits it again."""
        posts = await asyncio.to_thread(self.store.digest_posts, record_id)
        posted = [p.paper_id for p in posts if p.state == PostState.POSTED]
        listed = [item.paper.arxiv_id for item in digest.items]
        if resumed or posted != listed or len(posts) != len(listed):
            papers = await asyncio.to_thread(self.store.get_papers, posted)
            items = tuple(DigestItem(papers[p]) for p in posted if p in papers)
            shown = replace(digest, items=items, ref=str(record_id))
            try:
                await self.sender.send(
                    channel.key, partial(_update, poster, channel, header, shown)
                )
            except (PostNotSent, PostOutcomeUnknown, Undecided) as exc:
                # For now: the record stays open and the next delivery (or sweep) edits again.
                log.warning(
                    "%s: could not correct digest %d's header yet: %s", channel.key, record_id, exc
                )
                return False
            except PostError as exc:
                # Refused for good (the header was deleted, say): nothing left to correct.
                log.warning(
                    "%s: digest %d's header cannot be corrected: %s", channel.key, record_id, exc
                )
        await asyncio.to_thread(self.store.finish_digest, record_id)
        return True

    async def announce(
        self,
        poster: ChatPoster,
        channel: Channel,
        records: Sequence[DigestRecord],
        report: DeliveryReport,
        reply_to: str | None,
    ) -> None:
        """Tell whoever asked for an interrupted digest that it is done (while their command's
        answer channel is still open), or else say it in the channel, in one line."""
        answer = digest_answer(report)
        now = self.store.clock()
        for record in records:
            target = record.reply_to
            if not report.posted and not target:
                continue  # only the header's list was corrected: nothing to tell anyone
            if target and target != reply_to and now - record.asked_at < ANSWER_WINDOW:
                try:
                    if await poster.post_answer(channel.key, target, answer):
                        continue
                except PostError as exc:
                    log.info("%s: could not answer the requester: %s", channel.key, exc)
            if target == reply_to and reply_to:
                continue  # the requester of this delivery gets the answer itself
            line = Reply(
                text=f"Resumed the {record.day:%a %d %b} digest after an interruption: "
                f"{len(report.posted)} more in its thread.",
                visibility=Visibility.IN_CHANNEL,
            )
            try:
                await self.sender.send(channel.key, partial(poster.post_reply, channel.key, line))
            except PostError as exc:
                log.info("%s: could not say the digest was resumed: %s", channel.key, exc)

    async def cut_off(self, poster: ChatPoster, channel: Channel, record: DigestRecord) -> None:
        """A digest someone asked for that a crash cut off before its header was recorded: none
        of its papers reached the channel, so they are told to ask again (or the channel is,
        once their command's answer channel has closed)."""
        if not record.reply_to:
            return  # a scheduled digest: its slot stays open and catch-up posts it
        if self.store.clock() - record.asked_at < ANSWER_WINDOW:
            answer = Reply.error(
                "your digest was cut off by a restart before its papers were posted; "
                "run /papers digest again"
            )
            try:
                if await poster.post_answer(channel.key, record.reply_to, answer):
                    return
            except PostError as exc:
                log.info("%s: could not answer the requester: %s", channel.key, exc)
        line = Reply(
            text=f"A /papers digest asked for on {record.day:%a %d %b} was cut off by a restart "
            "before its papers were posted; run /papers digest again.",
            visibility=Visibility.IN_CHANNEL,
        )
        try:
            await self.sender.send(channel.key, partial(poster.post_reply, channel.key, line))
        except PostError as exc:
            log.info("%s: could not say a digest was cut off: %s", channel.key, exc)


async def _update(poster: ChatPoster, channel: Channel, header: str, digest: Digest) -> str:
    await poster.update_header(channel.key, header, digest)
    return header
