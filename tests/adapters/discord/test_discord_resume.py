"""Issue 11 item 3 on Discord: a `/papers digest` or `/papers more` cut off by a crash is
finished by the next process, which answers the requester by editing the interaction's private
"thinking…" reply (its token outlives the process for 15 minutes), or says so in the channel."""

from __future__ import annotations

import asyncio
from typing import Any

from fake_discord import CHANNEL_ID, FakeDiscord

from conftest import ADA, KEY_ARGS, command_payload, invoke
from paperbot.adapters.discord import DiscordAdapter
from paperbot.models import ChannelKey, Digest, DigestItem
from paperbot.service import Paperbot
from paperbot.testing import make_paper

KEY = ChannelKey(*KEY_ARGS)


class Stalls:
    """Wraps the Discord poster: the paper after `allowed` never returns (a process about to
    die)."""

    def __init__(self, inner: Any, allowed: int) -> None:
        self.inner = inner
        self.allowed = allowed
        self.items = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        self.items += 1
        if self.items > self.allowed:
            await asyncio.sleep(3600)
        return await self.inner.post_item(channel, digest, item, thread)  # type: ignore[no-any-return]


async def crash_during(
    adapter: DiscordAdapter, fake: FakeDiscord, subcommand: str, posts: int
) -> str:
    """Run the command until `posts` papers went out, then let the process die; its token."""
    payload = command_payload(subcommand, user_id=ADA)
    payload["token"] = f"token-for-{subcommand}"
    before = len(fake.posted_papers())
    command = asyncio.create_task(invoke(adapter, payload))
    while len(fake.posted_papers()) < before + posts:
        await asyncio.sleep(0.01)
    command.cancel()
    await asyncio.gather(command, return_exceptions=True)
    return str(payload["token"])


async def setup(adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord, size: int) -> list[str]:
    await bot.subscribe(KEY, "diffusion", ADA)
    await bot.update_settings(KEY, max_items=size)
    found = [
        make_paper(f"Diffusion resumed {n}", "Diffusion.", arxiv_id=f"2611.{n:05d}")
        for n in range(1, 7)
    ]
    await bot.blocking(bot.ingest_papers, found)
    return [p.arxiv_id for p in found]


def edits_of_original(fake: FakeDiscord, token: str) -> list[Any]:
    return [
        r
        for r in fake.requests
        if r.method == "PATCH" and r.path.endswith(f"/{token}/messages/@original")
    ]


async def test_an_interrupted_digest_is_finished_and_its_requester_answered_after_a_restart(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    ids = await setup(adapter, bot, fake, size=6)
    real = adapter.poster
    bot.posters["discord"] = Stalls(real, allowed=2)  # type: ignore[assignment]
    token = await crash_during(adapter, fake, "digest", posts=2)
    assert edits_of_original(fake, token) == []  # nobody was answered before the crash

    bot.posters["discord"] = real  # the next process
    resumed = await bot.delivery.resume_interrupted()
    assert [len(r.posted) for r in resumed] == [4]
    assert sorted(fake.posted_papers()) == sorted(ids)  # each once
    [edit] = edits_of_original(fake, token)
    assert "Finished an interrupted digest" in str(edit.body)
    assert edit.body["allowed_mentions"] == {"parse": []}
    # The requester heard back privately; the channel got no "resumed" line.
    assert not any("Resumed the" in str(m.get("content")) for m in fake.posted(CHANNEL_ID))


async def test_an_interrupted_more_answers_whoever_asked_for_more(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    ids = await setup(adapter, bot, fake, size=2)
    await invoke(adapter, command_payload("digest", user_id=ADA))  # 2 posted, 4 waiting
    real = adapter.poster
    bot.posters["discord"] = Stalls(real, allowed=1)  # type: ignore[assignment]
    token = await crash_during(adapter, fake, "more", posts=1)

    bot.posters["discord"] = real
    resumed = await bot.delivery.resume_interrupted()
    assert [len(r.posted) for r in resumed] == [1]
    assert sorted(fake.posted_papers()) == sorted(ids[:4])
    [edit] = edits_of_original(fake, token)
    assert "Finished an interrupted digest" in str(edit.body)


async def test_an_expired_interaction_token_falls_back_to_one_line_in_the_channel(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await setup(adapter, bot, fake, size=6)
    real = adapter.poster
    bot.posters["discord"] = Stalls(real, allowed=3)  # type: ignore[assignment]
    token = await crash_during(adapter, fake, "digest", posts=3)
    fake.expired_tokens.add(token)  # the restart came after Discord's 15 minutes

    bot.posters["discord"] = real
    await bot.delivery.resume_interrupted()
    assert len(edits_of_original(fake, token)) == 1  # asked, and refused
    lines = [m["content"] for m in fake.posted(CHANNEL_ID) if "Resumed the" in m["content"]]
    assert len(lines) == 1 and "3 more in its thread" in lines[0]


class HangsBuilding:
    """Stands in for the digest builder: building never returns (a process about to die)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reached = asyncio.Event()

    async def build(self, *args: Any, **kwargs: Any) -> Any:
        self.reached.set()
        await asyncio.sleep(3600)


async def test_a_digest_cut_off_while_it_was_built_tells_its_requester_after_a_restart(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    # Deferred ("thinking…"), then the process died before the digest's record existed: the
    # requester was left thinking until the token expired.
    await setup(adapter, bot, fake, size=6)
    builder = bot.delivery.builder
    bot.delivery.builder = hangs = HangsBuilding(builder)  # type: ignore[assignment]
    payload = command_payload("digest", user_id=ADA)
    payload["token"] = token = "token-for-a-cut-off-digest"
    command = asyncio.create_task(invoke(adapter, payload))
    await asyncio.wait_for(hangs.reached.wait(), 10)
    command.cancel()
    await asyncio.gather(command, return_exceptions=True)
    assert edits_of_original(fake, token) == []

    bot.delivery.builder = builder  # the next process
    assert await bot.delivery.resume_interrupted() == []
    [edit] = edits_of_original(fake, token)
    assert "cut off by a restart before its papers were posted" in str(edit.body)
    assert edit.body["allowed_mentions"] == {"parse": []}
    assert fake.posted_papers() == []
    assert not fake.posted(CHANNEL_ID)  # the channel heard nothing: the requester did
