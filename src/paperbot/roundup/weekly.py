"""The weekly roundup: once a week, at the day and hour a channel chose, one message with the
week's papers the team voted up most and those that matched the most of its subscriptions.

Each week's roundup is claimed in the database before it is posted, so however many bot
processes run, one posts it; a post that certainly failed is released and tried again on the
next pass, one that may have gone out is not resent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from paperbot.errors import ChannelUnavailable, PostError, PostOutcomeUnknown
from paperbot.models import ChannelKey, DigestItem, Reply, Visibility
from paperbot.roundup.timing import latest_slot

if TYPE_CHECKING:
    from paperbot.service import Paperbot

log = logging.getLogger(__name__)

WEEK = timedelta(days=7)
# A roundup missed by more than this (the bot was down) waits for next week: stale news.
GRACE = timedelta(hours=12)
TOP_VOTED = 5
TOP_MATCHED = 5


@dataclass(frozen=True, slots=True)
class RoundupResult:
    channel: ChannelKey
    outcome: str  # "posted", "empty", "failed", "uncertain", "stale"


async def build_roundup(bot: Paperbot, key: ChannelKey, now: datetime) -> Reply | None:
    """The roundup message for the week up to `now`, or None when the week had nothing."""
    since = now - WEEK
    voted = await bot.blocking(bot.store.top_voted, key, since, TOP_VOTED)
    matched = await bot.blocking(bot.store.history.most_matched, key, since, TOP_MATCHED * 2)
    voted_ids = [paper_id for paper_id, _ in voted]
    matched = [(p, n) for p, n in matched if p not in voted_ids][:TOP_MATCHED]
    papers = await bot.blocking(bot.store.get_papers, voted_ids + [p for p, _ in matched])
    items = [
        DigestItem(papers[p], team_votes=votes, score=float(votes))
        for p, votes in voted
        if p in papers
    ]
    liked = len(items)
    items += [DigestItem(papers[p], score=float(n)) for p, n in matched if p in papers]
    if not items:
        return None
    parts = []
    if liked:
        parts.append(f"1–{liked}: voted up most" if liked > 1 else "1: voted up most")
    if len(items) > liked:
        first, last = liked + 1, len(items)
        span = f"{first}–{last}" if last > first else f"{first}"
        parts.append(f"{span}: matched the most of this channel's subscriptions")
    return Reply(
        title=f"Weekly roundup, {since:%d %b}–{now:%d %b %Y}",
        text="; ".join(parts) + ".",
        items=tuple(items),
        visibility=Visibility.IN_CHANNEL,
    )


class WeeklyRoundups:
    """Posts the roundups that are due; the scheduler calls `post_due` every few minutes."""

    def __init__(self, bot: Paperbot) -> None:
        self.bot = bot

    async def post_due(self, now: datetime | None = None) -> list[RoundupResult]:
        now = now or self.bot.clock()
        plans = await self.bot.blocking(self.bot.store.roundups.plans)
        results = []
        for plan in plans:
            poster = self.bot.posters.get(plan.channel.platform)
            if poster is None or plan.paused:
                continue
            due = latest_slot(plan.weekday, plan.hour, plan.timezone, now)
            if plan.last_posted_at is not None and plan.last_posted_at >= due:
                continue
            if not await self.bot.blocking(self.bot.store.roundups.claim, plan.channel, due):
                continue  # another process took it
            results.append(await self._post(plan.channel, plan.last_posted_at, due, now))
        return results

    async def _post(
        self, key: ChannelKey, previous: datetime | None, due: datetime, now: datetime
    ) -> RoundupResult:
        if now - due > GRACE:
            log.info("roundup for %s skipped: due %s, too long ago", key, f"{due:%a %H:%M}")
            return RoundupResult(key, "stale")
        reply = await build_roundup(self.bot, key, now)
        if reply is None:
            log.info("roundup for %s: nothing this week", key)
            return RoundupResult(key, "empty")
        poster = self.bot.posters[key.platform]
        try:
            await poster.post_reply(key, reply)
        except PostOutcomeUnknown as exc:
            # It may be in the channel already: never post it twice.
            log.warning("roundup for %s may not have arrived (not resent): %s", key, exc)
            return RoundupResult(key, "uncertain")
        except ChannelUnavailable as exc:
            log.warning("roundup for %s not posted, no access to the channel: %s", key, exc)
            return RoundupResult(key, "failed")
        except PostError as exc:
            await self.bot.blocking(self.bot.store.roundups.release, key, previous)
            log.warning("roundup for %s failed, tried again shortly: %s", key, exc)
            return RoundupResult(key, "failed")
        log.info("roundup posted to %s: %d papers", key, len(reply.items))
        return RoundupResult(key, "posted")
