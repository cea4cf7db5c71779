"""`/papers settings roundup fri 16` (or `off`): the channel's weekly roundup setting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paperbot.errors import InvalidInput
from paperbot.models import WEEKDAYS, CommandContext, Reply, Visibility

if TYPE_CHECKING:
    from paperbot.service import Paperbot

USAGE = "roundup takes a day and an hour, like: roundup fri 16 (or roundup off)"


def parse_roundup(value: str) -> tuple[str, int] | None:
    """`fri 16` -> ("fri", 16); `off` -> None; anything else is refused in one line."""
    words = value.lower().replace(",", " ").split()
    if words == ["off"]:
        return None
    if len(words) == 1 and words[0][:3] in WEEKDAYS:
        words.append("16")  # the end of a working week's afternoon, unless told otherwise
    if len(words) != 2 or words[0][:3] not in WEEKDAYS or not words[1].isdigit():
        raise InvalidInput(USAGE)
    hour = int(words[1])
    if not 0 <= hour <= 23:
        raise InvalidInput("the roundup hour is a whole number from 0 to 23")
    return words[0][:3], hour


async def roundup_setting(bot: Paperbot, ctx: CommandContext, value: str) -> Reply:
    choice = parse_roundup(value)
    channel = await bot.channel(ctx.channel)
    if choice is None:
        await bot.blocking(bot.store.roundups.clear, ctx.channel)
        return Reply(
            text=f"<@{ctx.user}> turned the weekly roundup off.", visibility=Visibility.IN_CHANNEL
        )
    weekday, hour = choice
    await bot.blocking(bot.store.roundups.set, ctx.channel, weekday, hour)
    return Reply(
        text=f"<@{ctx.user}> set the weekly roundup to {weekday} {hour}:00 "
        f"({channel.settings.timezone}): the week's most voted and most matched papers.",
        visibility=Visibility.IN_CHANNEL,
    )


async def roundup_status(bot: Paperbot, ctx: CommandContext) -> str:
    found = await bot.blocking(bot.store.roundups.get, ctx.channel)
    return "roundup off" if found is None else f"roundup {found[0]} {found[1]}:00"
