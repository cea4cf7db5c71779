"""The console channel: a terminal that behaves like a chat channel, on the very same core.

Type `/papers ...` commands; digest items show their message id (`[m3]`) so `+m3` / `-m3` votes on
them the way a reaction would in Slack or Discord, and `unvote m3` takes it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text

from paperbot import commands
from paperbot.models import Attachment, ChannelKey, CommandContext, Digest, DigestItem, Reply
from paperbot.presentation import ALSO_WORTH, item_summary, links, short_authors, stats, why
from paperbot.service import Paperbot
from paperbot.store.ledger import LedgerEntry

PLATFORM = "console"
CONSOLE_CHANNEL = ChannelKey(PLATFORM, "local", "terminal")
CONSOLE_USER = "you"


def render_item(item: DigestItem, message_id: str | None = None, number: int | None = None) -> Text:
    paper = item.paper
    text = Text()
    if message_id:
        text.append(f"[{message_id}] ", style="dim")
    elif number is not None:
        text.append(f"{number}. ", style="dim")
    text.append(paper.title, style="bold")
    text.append(f"  ({paper.label if paper.is_sample else paper.arxiv_id})\n", style="dim")
    byline = " · ".join(
        part for part in (short_authors(paper.authors), ", ".join(paper.categories[:3])) if part
    )
    if byline:
        text.append(f"  {byline}\n", style="italic")
    if item.highlight:  # a search hit: the sentence that matched, matched words in bold
        text.append("  ")
        for fragment, matched in item.highlight:
            text.append(fragment, style="bold" if matched else None)
        text.append("\n")
    else:
        text.append(f"  {item_summary(item)}\n")
    text.append(
        "  " + "  ".join(f"{label}: {url}" for label, url in links(paper)[:3]) + "\n", style="cyan"
    )
    extra = " · ".join(part for part in (stats(item), why(item.reasons), item.note) if part)
    if extra:
        text.append(f"  {plain(extra)}\n", style="green")
    return text


_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: str) -> str:
    """Text that may hold what a user typed, shown as typed: rich `Text` never reads markup,
    and terminal control characters (escape sequences) are dropped."""
    return _TERMINAL_CONTROL.sub("", text)


def render_reply(reply: Reply) -> RenderableType:
    if reply.is_error:
        return Text(f"✗ {plain(reply.text)}", style="red")
    parts: list[RenderableType] = []
    if reply.title:
        parts.append(Text(plain(reply.title), style="bold underline"))
    parts.append(Text(plain(reply.text)))
    for number, item in enumerate(reply.items, start=1):
        parts.append(render_item(item, number=number))
    return Group(*parts)


def render_header(digest: Digest) -> RenderableType:
    lines = [digest.headline]
    if digest.missing_sources:
        lines.append(f"⚠ not fetched this time: {', '.join(digest.missing_sources)}")
    if digest.remaining:
        lines.append(f"+{digest.remaining} more matched: /papers more posts the next ones")
    return Panel("\n".join(lines), style="bold blue")


class ConsolePoster:
    """Posts to the terminal; message ids are `m1`, `m2`, … so votes can name them."""

    platform = PLATFORM

    def __init__(self, console: Console, first_number: int = 1) -> None:
        self.console = console
        # The numbers go on from the last session's (`numbering_after`): the same data
        # directory keeps the ledger, and `+m3` must name one message, not one per session.
        self._ids = itertools.count(first_number)
        self.posted: dict[str, str] = {}

    def _new_id(self) -> str:
        return f"m{next(self._ids)}"

    async def post_header(self, channel: ChannelKey, digest: Digest) -> str:
        message_id = self._new_id()
        self.console.print(Rule())
        self.console.print(render_header(digest))
        return message_id

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        message_id = self._new_id()
        if item.suggested and item == next(i for i in digest.items if i.suggested):
            self.console.print(Rule(ALSO_WORTH, style="dim"))
        self.console.print(render_item(item, message_id))
        self.posted[message_id] = item.paper.arxiv_id
        return message_id

    async def post_reply(self, channel: ChannelKey, reply: Reply) -> str:
        self.console.print(render_reply(reply))
        return self._new_id()

    async def find_posted(
        self, channel: ChannelKey, paper_id: str, since: datetime, thread: str | None = None
    ) -> str | None:
        return next((mid for mid, pid in self.posted.items() if pid == paper_id), None)

    async def update_header(self, channel: ChannelKey, header_id: str, digest: Digest) -> None:
        """A terminal cannot edit what it printed: print the corrected header instead."""
        self.console.print(Text(f"(header {header_id} now lists {len(digest.items)} papers)"))

    async def find_header(self, channel: ChannelKey, digest: Digest, since: datetime) -> str | None:
        return None  # a terminal's history is gone with the process that printed it

    async def post_answer(self, channel: ChannelKey, reply_to: str, reply: Reply) -> bool:
        return False


class ConsoleChannel:
    """Reads lines, runs them as a chat channel would, prints what the bot answers."""

    def __init__(
        self,
        bot: Paperbot,
        console: Console,
        channel: ChannelKey = CONSOLE_CHANNEL,
        user: str = CONSOLE_USER,
        export_dir: Path = Path("exports"),
    ) -> None:
        self.bot = bot
        self.console = console
        self.channel = channel
        self.user = user
        self.export_dir = export_dir

    async def handle_line(self, line: str) -> bool:
        """Run one input line; False when the user asked to leave."""
        text = line.strip()
        if not text:
            return True
        if text.lower() in ("quit", "exit", "/quit"):
            return False
        vote = _parse_vote(text)
        if vote is not None:
            await self._vote(*vote)
            return True
        if not text.startswith("/"):
            text = "/papers " + text
        reply = await commands.handle(
            bot=self.bot, ctx=CommandContext(self.channel, self.user), text=text
        )
        self.console.print(render_reply(reply))
        if reply.attachment is not None:
            path = await asyncio.to_thread(save_attachment, reply.attachment, self.export_dir)
            self.console.print(Text(f"✓ saved {path}", style="green"))
        return True

    async def _vote(self, message_id: str, value: int, added: bool) -> None:
        paper_id = await self.bot.record_vote(self.channel, message_id, self.user, value, added)
        if paper_id is None:
            self.console.print(Text(f"✗ {message_id} is not a paper post here", style="red"))
            return
        verb = ("voted up" if value > 0 else "voted down") if added else "took back your vote on"
        self.console.print(Text(f"✓ {verb} {paper_id}", style="green"))

    async def run(self, read_line: Callable[[], Awaitable[str | None]]) -> None:
        self.console.print(
            Text(
                "paperbot console: type /papers help, +m3 / -m3 to vote, quit to leave",
                style="bold",
            )
        )
        while True:
            self.console.print(Text("> ", style="bold"), end="")
            line = await read_line()
            if line is None or not await self.handle_line(line):
                break


def save_attachment(attachment: Attachment, directory: Path) -> Path:
    """The console's "upload": the file, in `directory`, under its own (plain) name."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / Path(attachment.filename).name
    path.write_bytes(attachment.content)
    return path


def numbering_after(entries: Iterable[LedgerEntry]) -> int:
    """The first message number no earlier session of the console channel has used."""
    used = [int(e.message_id[1:]) for e in entries if e.message_id and _is_message_id(e.message_id)]
    return max(used, default=0) + 1


def _parse_vote(text: str) -> tuple[str, int, bool] | None:
    """`+m3` / `-m3` vote, `unvote m3` / `unvote -m3` retracts (an up-vote unless `-` is given)."""
    lowered = text.lower()
    if lowered.startswith("unvote "):
        target = lowered.removeprefix("unvote ").strip()
        value = -1 if target.startswith("-") else 1
        target = target.lstrip("+-")
        return (target, value, False) if _is_message_id(target) else None
    if lowered[:1] in "+-" and _is_message_id(lowered[1:]):
        return lowered[1:], 1 if lowered[0] == "+" else -1, True
    return None


def _is_message_id(text: str) -> bool:
    return text.startswith("m") and text[1:].isdigit()


async def read_stdin_line(stream: TextIO = sys.stdin) -> str | None:
    """The next line typed, None at end of input. Read in a daemon thread of its own: a thread
    of the default executor blocked in readline would hold the process after a SIGTERM."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        line = stream.readline()
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(_settle, answer, line)

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    line = await answer
    return line if line else None


def _settle(answer: asyncio.Future[str], line: str) -> None:
    if not answer.done():
        answer.set_result(line)
