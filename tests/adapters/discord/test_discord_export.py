"""`/papers export` in Discord: the .bib arrives as an attachment of the public follow-up."""

from __future__ import annotations

from fake_discord import EPHEMERAL, FakeDiscord

from conftest import ADA, KEY_ARGS, command_payload, invoke
from paperbot.adapters.discord import DiscordAdapter
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.testing import make_paper

KEY = ChannelKey(*KEY_ARGS)


async def test_export_attaches_the_bib_file(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await bot.subscribe(KEY, "diffusion", ADA)
    papers = [make_paper(f"Diffusion {n}", "x", categories=("cs.LG",)) for n in range(3)]
    await bot.blocking(bot.ingest_papers, papers)
    await bot.deliver_digest(KEY)
    await invoke(adapter, command_payload("export", {"papers": "week"}))
    assert fake.callbacks[0]["type"] == 5  # deferred: building the file may take a moment
    done, announcement = fake.followups
    assert done["flags"] & EPHEMERAL and not (announcement.get("flags") or 0) & EPHEMERAL
    assert announcement["content"].startswith("BibTeX for 3 papers posted here")
    assert announcement["attachments"][0]["filename"] == "paperbot-week-2026-11-20.bib"
    [(filename, content)] = fake.attachments
    assert filename == "paperbot-week-2026-11-20.bib"
    bib = content.decode()
    assert [p.arxiv_id for p in papers if f"{{{p.arxiv_id}}}" in bib] == [
        p.arxiv_id for p in papers
    ]
    assert "primaryClass  = {cs.LG}" in bib


async def test_export_of_a_subscription_number(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await bot.subscribe(KEY, "diffusion", ADA)
    await invoke(adapter, command_payload("export", {"subscription": 2}))
    assert fake.followups[-1]["content"] == "⚠️ there is no subscription #2; see /papers list"
    assert fake.attachments == []
