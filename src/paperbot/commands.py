"""The `/papers` command language: parse what a user typed, run it on the core, answer with a Reply.

Every input is untrusted: it is normalised, length-checked and refused in one line when wrong,
and a refused command changes nothing.
"""

from __future__ import annotations

import functools
import unicodedata
import zoneinfo
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from paperbot import metrics
from paperbot.errors import InvalidInput
from paperbot.export import export_reply
from paperbot.models import WEEKDAYS, CommandContext, Reply, Visibility
from paperbot.report_text import digest_answer
from paperbot.roundup import roundup_setting, roundup_status
from paperbot.search.wording import search_wording
from paperbot.service import Paperbot
from paperbot.taste.learner import MAX_ALSO_WORTH
from paperbot.taste.replies import like_reply, taste_reply
from paperbot.text import meaning_changer, strip_invisible

MAX_ARGUMENT = 100
MAX_COMMAND = 300
SUBCOMMANDS = (
    "subscribe",
    "unsubscribe",
    "list",
    "search",
    "digest",
    "more",
    "top",
    "export",
    "settings",
    "like",
    "taste",
    "help",
)
CHANGES_CHANNEL = {"subscribe", "unsubscribe", "settings-change"}

HELP = """\
/papers subscribe <query>     follow papers: diffusion, "world model", transformer AND NOT survey,
                              author:"Yann LeCun", cat:cs.LG, title:agents, upvotes:10
/papers subscribe --preview <query>   what it would have matched this past week, without saving
/papers unsubscribe <query>   stop following (or #N from the list)
/papers list                  this channel's subscriptions
/papers search <query>        search every paper seen: diffusion -video since:7d author:X cat:cs.CV
/papers digest                post this channel's digest now
/papers more                  post the next matched papers into today's digest thread
/papers top [week|month|all]  what this channel voted up (react 👍 / 👎 on a paper to vote)
/papers like <arXiv id|link|N> papers most like that one (N: its number in the latest digest)
/papers taste                 what this channel's votes taught the bot (words that pull up/down)
/papers export [week|month|top|#N]  a BibTeX file of papers posted here, voted up, or matched
/papers settings [name value] show or change: timezone, hour, size, days, threaded, empty,
                              keep (days a matched paper waits for room in a digest),
                              roundup (a weekly roundup: roundup fri 16, roundup off)
                              also (how many "also worth a look" papers, 0 turns them off)
/papers help                  this text"""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    argument: str


def clean(text: str) -> str:
    """Drop invisible characters, NFKC-normalise and collapse whitespace; refuse what changes
    meaning (controls, bidirectional overrides) and oversize input."""
    if len(text) > MAX_COMMAND:
        raise InvalidInput(f"that command is too long (at most {MAX_COMMAND} characters)")
    text = strip_invisible(text)
    changer = meaning_changer(text)
    if changer is not None:
        raise InvalidInput(f"that command contains {changer}; please retype it without it")
    return " ".join(unicodedata.normalize("NFKC", text).split())


def parse_command(text: str) -> Command:
    """`subscribe diffusion` -> Command("subscribe", "diffusion"); `/papers` first is optional."""
    cleaned = clean(text)
    if cleaned.lower().startswith("/papers"):
        cleaned = cleaned[len("/papers") :].strip()
    if not cleaned:
        return Command("help", "")
    name, _, argument = cleaned.partition(" ")
    name = name.lower()
    if name not in SUBCOMMANDS:
        shown = name if len(name) <= 20 else name[:20] + "…"
        raise InvalidInput(f"unknown command '{shown}'; try /papers help")
    if len(argument) > MAX_ARGUMENT:
        raise InvalidInput(f"that is too long ({len(argument)} characters; at most {MAX_ARGUMENT})")
    return Command(name, argument.strip())


Handler = Callable[[Paperbot, CommandContext, str], Awaitable[Reply]]


@metrics.timed_command
async def handle(bot: Paperbot, ctx: CommandContext, text: str) -> Reply:
    """Run one `/papers ...` command; refusals come back as an error Reply, never an exception."""
    try:
        command = parse_command(text)
        handler = _HANDLERS[command.name]
        return await handler(bot, ctx, command.argument)
    except InvalidInput as exc:
        return Reply.error(str(exc))


def _require_manage(ctx: CommandContext) -> None:
    if not ctx.can_manage:
        raise InvalidInput("you need permission to manage this channel to change its papers setup")


def _require_argument(argument: str, what: str) -> str:
    if not argument:
        raise InvalidInput(f"say what to {what}, for example: /papers {what} diffusion")
    return argument


async def _subscribe(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    if argument.startswith("--preview"):
        query = _require_argument(argument.removeprefix("--preview").strip(), "subscribe --preview")
        canonical, items, total = await bot.preview(query)
        noun = "paper" if total == 1 else "papers"
        return Reply(
            text=f"{canonical} would have matched {total} {noun} in the last 7 days"
            + (f"; the best {len(items)}:" if items else "."),
            title="Preview (not saved)",
            items=tuple(items),
        )
    _require_manage(ctx)
    query = _require_argument(argument, "subscribe")
    result = await bot.subscribe(ctx.channel, query, ctx.user)
    if result.subscription is None:
        return Reply(text=f"This channel already follows {result.canonical}.")
    extra = (
        f" ({result.recent_matches} recent papers match already)" if result.recent_matches else ""
    )
    reading = f"\nRead as: {result.reading}" if result.reading else ""
    return Reply(
        text=f"<@{ctx.user}> subscribed this channel to {result.canonical}{extra}.{reading}",
        visibility=Visibility.IN_CHANNEL,
        mention=ctx.user,
    )


async def _unsubscribe(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    _require_manage(ctx)
    query = _require_argument(argument, "unsubscribe")
    removed = await bot.unsubscribe(ctx.channel, query)
    if removed is None:
        return Reply.error(f"this channel does not follow {query}; see /papers list")
    return Reply(
        text=f"<@{ctx.user}> unsubscribed this channel from {removed}.",
        visibility=Visibility.IN_CHANNEL,
        mention=ctx.user,
    )


async def _list(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    subscriptions = await bot.subscriptions(ctx.channel)
    if not subscriptions:
        return Reply(text="This channel follows nothing yet. Try /papers subscribe diffusion")
    lines = [f"#{n}  {s.query}" for n, s in enumerate(subscriptions, start=1)]
    return Reply(text="\n".join(lines), title=f"This channel follows {len(lines)}")


async def _search(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    query = _require_argument(argument, "search")
    outcome = await bot.find_papers(query)
    text = search_wording(query, outcome)
    if not outcome.items:
        return Reply(text=text)
    return Reply(text=text, title="Search results", items=outcome.items)


async def _digest(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    report = await bot.deliver_digest(ctx.channel, force_post=True, reply_to=ctx.reply_to)
    return digest_answer(report)


async def _more(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    report = await bot.deliver_more(ctx.channel, reply_to=ctx.reply_to)
    if not report.skipped_reason and not (report.posted or report.failed or report.uncertain):
        return Reply(text="No more matched papers waiting; today's digest has them all.")
    return digest_answer(report, "more papers")


_PERIODS = {"week": timedelta(days=7), "month": timedelta(days=31), "all": None, "": None}


async def _top(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    period = argument.lower()
    if period not in _PERIODS:
        raise InvalidInput("top takes week, month or all")
    window = _PERIODS[period]
    since = bot.clock() - window if window is not None else None
    items = await bot.top(ctx.channel, since)
    label = f"this {period}" if period in ("week", "month") else "of all time"
    if not items:
        return Reply(text=f"No papers voted up {label} yet. React 👍 on a paper in a digest.")
    return Reply(text=f"Voted up {label}", title="Team favourites", items=tuple(items))


async def _export(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    return await export_reply(bot, ctx, argument)


async def _settings(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    if not argument:
        channel = await bot.channel(ctx.channel)
        s = channel.settings
        state = f"paused ({channel.pause_reason})" if s.paused else "active"
        also = await bot.blocking(bot.taste.also_worth, ctx.channel)
        return Reply(
            title="Channel settings",
            text=(
                f"timezone {s.timezone} · hour {s.digest_hour}:00 · size {s.max_items} · "
                f"days {','.join(s.digest_days)} · threaded {'on' if s.threaded else 'off'} · "
                f"empty {'on' if s.post_when_empty else 'off'} · keep {s.keep_days} days · "
                f"also {also} · {await roundup_status(bot, ctx)} · {state}"
            ),
        )
    _require_manage(ctx)
    name, _, value = argument.partition(" ")
    if "=" in name and not value:
        name, _, value = name.partition("=")
    if name.lower() == "roundup":
        return await roundup_setting(bot, ctx, value)
    if name.lower() == "also":
        return await _set_also(bot, ctx, value.strip())
    changes = parse_setting(name.lower(), value.strip())
    await bot.update_settings(ctx.channel, **changes)
    shown = ", ".join(f"{_SETTING_NAMES[key]} {_show(v)}" for key, v in changes.items())
    return Reply(
        text=f"<@{ctx.user}> set {shown}.", visibility=Visibility.IN_CHANNEL, mention=ctx.user
    )


# The names people type in `/papers settings`, for each ChannelSettings field.
_SETTING_NAMES = {
    "timezone": "timezone",
    "digest_hour": "hour",
    "max_items": "size",
    "digest_days": "days",
    "threaded": "threaded",
    "post_when_empty": "empty",
    "paused": "paused",
    "keep_days": "keep",
}


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


@functools.cache
def _zone_spellings() -> dict[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def canonical_timezone(value: str) -> str | None:
    """The IANA name `value` spells in any case (`europe/berlin` -> `Europe/Berlin`), or None
    for a name that is no zone."""
    zone = _zone_spellings().get(value.casefold())
    if zone is not None:
        return zone
    try:  # a zone the listing leaves out, spelled exactly
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return value


def parse_setting(name: str, value: str) -> dict[str, object]:
    """`settings <name> <value>` as ChannelSettings fields; bad values are refused in one line."""
    if not value and name not in ("pause", "resume"):
        raise InvalidInput(f"give a value: /papers settings {name or 'hour'} <value>")
    if name in ("timezone", "tz"):
        zone = canonical_timezone(value)
        if zone is None:
            raise InvalidInput(f"unknown timezone '{value[:40]}' (like Europe/Berlin)")
        return {"timezone": zone}
    if name == "hour":
        return {"digest_hour": _int_in(value, 0, 23, "hour")}
    if name in ("size", "max"):
        return {"max_items": _int_in(value, 1, 30, "size")}
    if name == "days":
        return {"digest_days": parse_days(value)}
    if name in ("threaded", "empty"):
        flag = {"on": True, "off": False, "yes": True, "no": False}.get(value.lower())
        if flag is None:
            raise InvalidInput(f"{name} is on or off")
        return {"threaded" if name == "threaded" else "post_when_empty": flag}
    if name in ("pause", "resume"):
        return {"paused": name == "pause"}
    if name == "keep":
        return {"keep_days": _int_in(value.removesuffix("d"), 1, 60, "keep (days)")}
    raise InvalidInput(
        f"unknown setting '{name[:20]}' "
        "(timezone, hour, size, days, threaded, empty, keep, roundup, also, pause, resume)"
    )


async def _set_also(bot: Paperbot, ctx: CommandContext, value: str) -> Reply:
    count = _int_in(value, 0, MAX_ALSO_WORTH, "also")
    await bot.blocking(bot.taste.set_also_worth, ctx.channel, count)
    shown = "off" if count == 0 else str(count)
    return Reply(
        text=f"<@{ctx.user}> set also worth a look {shown}.", visibility=Visibility.IN_CHANNEL
    )


def _int_in(value: str, low: int, high: int, name: str) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise InvalidInput(f"{name} is a whole number from {low} to {high}")
    return int(value)


def parse_days(value: str) -> tuple[str, ...]:
    """`mon-fri`, `weekdays`, `daily`, or a list like `mon,wed,fri`."""
    text = value.lower().replace(" ", "")
    if text in ("weekdays", "mon-fri"):
        return WEEKDAYS[:5]
    if text in ("daily", "everyday", "all", "mon-sun"):
        return WEEKDAYS
    days: list[str] = []
    for part in text.split(","):
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in WEEKDAYS or last not in WEEKDAYS:
                raise InvalidInput(f"days look like mon-fri or mon,wed,fri; got '{value[:30]}'")
            a, b = WEEKDAYS.index(first), WEEKDAYS.index(last)
            days.extend(WEEKDAYS[a : b + 1] if a <= b else WEEKDAYS[a:] + WEEKDAYS[: b + 1])
        elif part in WEEKDAYS:
            days.append(part)
        else:
            raise InvalidInput(f"days look like mon-fri or mon,wed,fri; got '{value[:30]}'")
    return tuple(d for d in WEEKDAYS if d in days)


async def _like(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    if not argument:
        raise InvalidInput("say which paper: /papers like 2401.12345 (or its number in the digest)")
    paper, similar = await bot.blocking(bot.taste.like, ctx.channel, argument)
    return like_reply(paper, similar)


async def _taste(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    return taste_reply(await bot.blocking(bot.taste.describe, ctx.channel))


async def _help(bot: Paperbot, ctx: CommandContext, argument: str) -> Reply:
    return Reply(text=HELP, title="paperbot commands")


_HANDLERS: dict[str, Handler] = {
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "list": _list,
    "search": _search,
    "digest": _digest,
    "more": _more,
    "top": _top,
    "export": _export,
    "settings": _settings,
    "help": _help,
    "like": _like,
    "taste": _taste,
}
