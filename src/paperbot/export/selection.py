"""Which papers `/papers export [week|month|top|#N]` (and `paperbot export`) writes out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from paperbot.errors import InvalidInput
from paperbot.models import ChannelKey, Paper
from paperbot.service import Paperbot

MAX_EXPORTED = 500
USAGE = "export takes week, month, top or #N (a subscription number from /papers list)"
_WINDOWS = {"week": timedelta(days=7), "month": timedelta(days=31)}


@dataclass(frozen=True, slots=True)
class Selection:
    what: str  # "week", "month", "top" or "sub3": goes into the file name
    description: str  # "posted here in the last 7 days": goes into the answer
    papers: tuple[Paper, ...]


async def select_papers(bot: Paperbot, key: ChannelKey, argument: str) -> Selection:
    """The channel's papers for an export argument; a bad argument is refused in one line."""
    choice = argument.strip().lower() or "week"
    if choice in _WINDOWS:
        since = bot.clock() - _WINDOWS[choice]
        ids = await bot.blocking(bot.store.history.posted_papers, key, since)
        description = f"posted here in the last {_WINDOWS[choice].days} days"
        return await _selection(bot, choice, description, ids[-MAX_EXPORTED:])
    if choice == "top":
        ranked = await bot.blocking(bot.store.top_voted, key, None, MAX_EXPORTED)
        return await _selection(bot, choice, "voted up here", [paper for paper, _ in ranked])
    if choice.startswith("#") and choice[1:].isdigit():
        subscriptions = await bot.subscriptions(key)
        number = int(choice[1:])
        if not 1 <= number <= len(subscriptions):
            raise InvalidInput(f"there is no subscription #{number}; see /papers list")
        subscription = subscriptions[number - 1]
        ids = await bot.blocking(
            bot.store.history.subscription_matches, subscription.id, None, MAX_EXPORTED
        )
        return await _selection(bot, f"sub{number}", f"matched by {subscription.query}", ids)
    raise InvalidInput(USAGE)


async def _selection(bot: Paperbot, what: str, description: str, ids: list[str]) -> Selection:
    found = await bot.blocking(bot.store.get_papers, ids)
    return Selection(what, description, tuple(found[i] for i in ids if i in found))
