"""A bot process for the crash test: delivers a digest through a platform that is a file.

    crash_worker.py deliver DB_URL PLATFORM_FILE NOW_ISO HANG_AFTER
        run the channel's scheduled digest; after the HANG_AFTER-th paper reached the platform,
        hang before the ledger records it (the test SIGKILLs the process there)
    crash_worker.py restart DB_URL PLATFORM_FILE NOW_ISO [blind]
        start the bot as after a crash (settle leftovers, catch up the missed digest), then stop;
        `blind`: the platform cannot list its history (find_posted raises CannotTell)

Each line of the platform file is one accepted message, flushed and fsynced before the poster
returns: what is in the file is what the channel shows.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from paperbot.errors import CannotTell
from paperbot.models import ChannelKey, Digest, DigestItem, Reply
from paperbot.scheduler import DigestScheduler
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.settings import ScheduleSettings
from paperbot.store.store import Store
from paperbot.testing import FixedClock

KEY = ChannelKey("file", "team", "papers")


class FilePoster:
    platform = "file"

    def __init__(self, path: Path, hang_after: int = 0, blind: bool = False) -> None:
        self.path, self.hang_after, self.blind = path, hang_after, blind
        self.items_posted = 0

    def _lines(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def _write(self, record: dict[str, str]) -> str:
        message_id = f"msg{len(self._lines()) + 1}-{os.getpid()}"
        with self.path.open("a") as out:
            out.write(json.dumps({"id": message_id, **record}) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return message_id

    async def post_header(self, channel: ChannelKey, digest: Digest) -> str:
        return self._write({"kind": "header", "text": digest.headline, "ref": digest.ref})

    async def update_header(self, channel: ChannelKey, header_id: str, digest: Digest) -> None:
        papers = ",".join(item.paper.arxiv_id for item in digest.items)
        self._write({"kind": "edit", "header": header_id, "papers": papers})

    async def find_header(self, channel: ChannelKey, digest: Digest, since: datetime) -> str | None:
        if self.blind:
            raise CannotTell("this platform keeps no history we can read")
        for line in self._lines():
            if line["kind"] == "header" and line.get("ref") == digest.ref:
                return line["id"]
        return None

    async def post_answer(self, channel: ChannelKey, reply_to: str, reply: Reply) -> bool:
        return False

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        record = {"kind": "item", "paper": item.paper.arxiv_id, "thread": thread or ""}
        message_id = self._write(record)
        self.items_posted += 1
        if self.items_posted == self.hang_after:
            await asyncio.sleep(600)  # sent, not yet recorded: the kill lands here
        return message_id

    async def post_reply(self, channel: ChannelKey, reply: Reply) -> str:
        return self._write({"kind": "reply", "text": reply.text})

    async def find_posted(
        self, channel: ChannelKey, paper_id: str, since: datetime, thread: str | None = None
    ) -> str | None:
        if self.blind:
            raise CannotTell("this platform keeps no history we can read")
        for line in self._lines():
            if line.get("paper") == paper_id:
                return line["id"]
        return None


async def main(args: list[str]) -> None:
    mode, db_url, platform_file, now_iso = args[:4]
    clock = FixedClock(datetime.fromisoformat(now_iso))
    store = Store.open(db_url, clock=clock)
    search = SearchIndex.open(None)
    hang_after = int(args[4]) if mode == "deliver" else 0
    poster = FilePoster(Path(platform_file), hang_after, blind="blind" in args[4:])
    bot = Paperbot(store, search, posters={"file": poster}, clock=clock)
    scheduler = DigestScheduler(bot, ScheduleSettings())
    try:
        if mode == "deliver":
            print("delivering", flush=True)
            await scheduler.run_digest(KEY)
        else:
            await scheduler.start()
            assert scheduler.startup is not None
            reports = await scheduler.startup
            print(json.dumps([r.posted for r in reports]), flush=True)
            await scheduler.stop()
    finally:
        search.close()
        store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
