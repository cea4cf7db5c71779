"""`/papers export` in Slack: the .bib goes up through Slack's external file upload
(files.getUploadURLExternal, the bytes to the upload URL, files.completeUploadExternal)."""

from __future__ import annotations

from fake_slack import BOT_TOKEN, FakeSlack
from slack_requests import SlackSender

from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.testing import make_paper

KEY = ChannelKey("slack", "T0PAPERS1", "C0RESEARCH")


def texts(response: dict[str, object]) -> str:
    return "\n".join(
        b["text"]["text"]  # type: ignore[index]
        for b in response["blocks"]  # type: ignore[attr-defined]
        if b["type"] in ("section", "header")  # type: ignore[index]
    )


async def test_export_uploads_a_bib_file_to_the_channel(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    await bot.subscribe(KEY, "diffusion", "U0ALICE01")
    papers = [
        make_paper(f"Diffusion & friends {n}", "x", authors=("Ada Lovelace",)) for n in range(2)
    ]
    await bot.blocking(bot.ingest_papers, papers)
    await bot.deliver_digest(KEY)

    answer = await slack.ask("export week")
    assert answer["response_type"] == "ephemeral"
    assert texts(answer) == "Shared paperbot-week-2026-11-20.bib in this channel."
    methods = [c.method for c in fake_slack.calls if c.method.startswith("files.")]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    [upload] = fake_slack.uploads.values()
    assert upload["filename"] == "paperbot-week-2026-11-20.bib"
    assert upload["length"] == len(upload["content"])
    assert upload["shared_in"] == "C0RESEARCH" and upload["token"] == BOT_TOKEN
    assert upload["initial_comment"].startswith("BibTeX for 2 papers posted here")
    bib = upload["content"].decode()
    assert bib.count("@misc{") == 2
    assert "title         = {{Diffusion \\& friends 0}}" in bib
    for paper in papers:
        assert f"eprint        = {{{paper.arxiv_id}}}" in bib


async def test_export_where_the_bot_is_not_a_member_says_what_to_do(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    await bot.subscribe(KEY, "diffusion", "U0ALICE01")
    await bot.blocking(bot.ingest_papers, [make_paper("Diffusion", "x")])
    await bot.deliver_digest(KEY)
    fake_slack.channel_errors["C0RESEARCH"] = "not_in_channel"
    answer = await slack.ask("export")
    assert texts(answer) == (
        "⚠️ I cannot share files here: invite me first (/invite @paperbot), then try again"
    )
    assert all(u["shared_in"] is None for u in fake_slack.uploads.values())


async def test_export_with_nothing_to_export_uploads_nothing(
    slack: SlackSender, fake_slack: FakeSlack
) -> None:
    answer = await slack.ask("export month")
    assert texts(answer) == "No papers posted here in the last 31 days to export yet."
    assert fake_slack.uploads == {}


async def test_the_files_comment_shows_the_subscription_as_typed(
    slack: SlackSender, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    """`export #N` names the subscription in the file's comment, which Slack renders as mrkdwn:
    what the user typed there must not ping, link or format."""
    answer = await slack.ask("subscribe *robots* OR <!here> OR www.evil.example")
    assert "subscribed" in texts(answer)
    paper = make_paper("Robots are here", "Robots read www.evil.example for us.")
    await bot.blocking(bot.ingest_papers, [paper])
    assert texts(await slack.ask("export #1")).startswith("Shared paperbot-sub1-")
    [upload] = fake_slack.uploads.values()
    comment = upload["initial_comment"]
    assert comment.startswith("BibTeX for 1 paper matched by ")
    assert "<!here>" not in comment and "&lt;!here&gt;" in comment
    assert "*robots*" not in comment and "\u2217robots\u2217" in comment
    assert "www.evil" not in comment  # broken by an invisible word joiner
