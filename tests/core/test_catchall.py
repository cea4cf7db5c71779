"""The catch-all guard over a store's recent papers: judged on them, each analysed once per
process and revision, so a subscribe does not analyse the week again."""

from collections.abc import Callable
from datetime import datetime

import pytest

from paperbot.analysis import AnalyzedPaper
from paperbot.errors import InvalidInput
from paperbot.models import ChannelKey, Paper
from paperbot.new_subscriptions import SUBSCRIBE_LOOKBACK
from paperbot.service import Paperbot
from paperbot.testing import make_paper

KEY = ChannelKey("console", "local", "general")


def counting(bot: Paperbot) -> list[str]:
    """Record the id of every paper `bot` analyses from now on."""
    seen: list[str] = []
    analyze: Callable[[Paper], AnalyzedPaper] = bot.analyze

    def counted(paper: Paper) -> AnalyzedPaper:
        seen.append(paper.arxiv_id)
        return analyze(paper)

    bot.analyze = counted  # type: ignore[method-assign]
    return seen


def week(bot: Paperbot) -> list[Paper]:
    """150 recent papers (stored, not ingested: no analysis of them is kept): 60 on diffusion,
    10 on robots."""
    papers = [make_paper(f"Diffusion study {i}", "We sample images.") for i in range(60)]
    papers += [make_paper(f"Robot study {i}", "We grasp objects.") for i in range(10)]
    papers += [make_paper(f"Graph study {i}", "We color graphs.") for i in range(80)]
    bot.store.upsert_papers(papers)
    return papers


async def test_a_catch_all_is_refused_on_recent_papers_analysed_once(bot: Paperbot) -> None:
    week(bot)
    seen = counting(bot)
    with pytest.raises(InvalidInput, match=r"40% of recent papers \(60 of 150\)"):
        await bot.subscribe(KEY, "diffusion", "U1")
    assert len(seen) == 150
    assert (await bot.subscribe(KEY, "robot", "U1")).subscription is not None
    with pytest.raises(InvalidInput, match=r"53% of recent papers \(80 of 150\)"):
        await bot.subscribe(KEY, "graph", "U1")
    # The guard judged the same papers three times; the subscribe's look back (a few days)
    # found them analysed too.
    assert len(seen) == 150
    assert len(set(seen)) == 150


async def test_a_changed_paper_is_analysed_again(bot: Paperbot) -> None:
    papers = week(bot)
    await bot.subscribe(KEY, "robot", "U1")
    seen = counting(bot)
    changed = papers[0]
    bot.store.upsert_papers([make_paper("Robot grasping", changed.abstract, changed.arxiv_id)])
    assert (await bot.subscribe(KEY, "grasp", "U1")).subscription is not None
    assert seen == [changed.arxiv_id]
    # The guard judges the paper as it is now: 59 of 150 are about diffusion.
    with pytest.raises(InvalidInput, match=r"\(59 of 150\)"):
        await bot.subscribe(KEY, "diffusion", "U1")


async def test_the_guard_keeps_its_sample_until_the_papers_change(
    bot: Paperbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    week(bot)
    await bot.subscribe(KEY, "robot", "U1")
    reads: list[datetime] = []
    real = bot.store.revisions_seen_since

    def revisions_seen_since(since: datetime) -> list[tuple[str, int]]:
        reads.append(since)
        return real(since)

    monkeypatch.setattr(bot.store, "revisions_seen_since", revisions_seen_since)
    assert (await bot.subscribe(KEY, "grasp", "U1")).subscription is not None
    look_back = bot.clock() - SUBSCRIBE_LOOKBACK
    assert reads == [look_back]  # the look back's; the guard's week was not read again
    more = [make_paper(f"Diffusion more {i}", "We sample images.") for i in range(100)]
    with bot.judged.ingesting():  # an ingest's chunks, committed while it runs
        bot.store.upsert_papers(more[:50])
        with pytest.raises(InvalidInput, match=r"\(60 of 150\)"):
            await bot.subscribe(KEY, "diffusion", "U1")
    # Papers stored since (here by another process) are judged on as soon as it is over.
    with pytest.raises(InvalidInput, match=r"\(110 of 200\)"):
        await bot.subscribe(KEY, "diffusion", "U1")
    # This process's own ingest takes the sample again once its day is recorded.
    bot.ingest_papers(more[50:])
    reads.clear()
    with pytest.raises(InvalidInput, match=r"\(160 of 250\)"):
        await bot.subscribe(KEY, "diffusion", "U1")
    assert reads == []
