"""`/papers` over HTTP as Slack sends it: signed form posts in, answers at response_url."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from fake_slack import FIRST_TS, FakeSlack, fixture
from slack_limits import assert_within_limits
from slack_requests import SlackSender, form

from paperbot.adapters.slack import SlackAdapter
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.testing import make_paper

KEY = ChannelKey("slack", "T0PAPERS1", "C0RESEARCH")


def ingest(bot: Paperbot, count: int = 3, **fields: Any) -> list[str]:
    papers = [
        make_paper(f"Diffusion models, part {n}", "We denoise. It works.", **fields)
        for n in range(count)
    ]
    bot.ingest_papers(papers)
    return [p.arxiv_id for p in papers]


def section_texts(response: dict[str, Any]) -> str:
    return "\n".join(
        b["text"]["text"] for b in response["blocks"] if b["type"] in ("section", "header")
    )


async def test_url_verification_is_answered(slack: SlackSender) -> None:
    payload = fixture("slack_url_verification.json")
    status, body = await slack.event(payload)
    assert status == 200 and payload["challenge"] in body


async def test_help_and_unknown_commands_answer_only_the_asker(slack: SlackSender) -> None:
    for text in ("help", ""):
        response = await slack.ask(text)
        assert response["response_type"] == "ephemeral"
        assert "/papers subscribe &lt;query&gt;" in section_texts(response)
        assert_within_limits(response)
    refused = await slack.ask("frobnicate now")
    assert refused["response_type"] == "ephemeral"
    assert section_texts(refused) == "⚠️ unknown command 'frobnicate'; try /papers help"


async def test_subscribe_list_unsubscribe(slack: SlackSender, bot: Paperbot) -> None:
    # Slack escapes &, < and > in command text; the core gets what the user typed.
    subscribed = await slack.ask("subscribe R&amp;D &lt;robots&gt;")
    assert subscribed["response_type"] == "in_channel"
    assert section_texts(subscribed).startswith("<@U0ALICE01> subscribed this channel to ")
    assert [s.query for s in await bot.subscriptions(KEY)] == ['"r&d" <robots>']

    again = await slack.ask("subscribe r&amp;d &lt;robots&gt;")
    assert again["response_type"] == "ephemeral"
    assert "already follows" in section_texts(again)

    listing = await slack.ask("list")
    assert listing["response_type"] == "ephemeral"
    assert '#1  "r&amp;d" &lt;robots&gt;' in section_texts(listing)

    gone = await slack.ask("unsubscribe #1")
    assert gone["response_type"] == "in_channel"
    assert "unsubscribed this channel from" in section_texts(gone)
    assert await bot.subscriptions(KEY) == []
    missing = await slack.ask("unsubscribe nothing")
    assert missing["response_type"] == "ephemeral" and "⚠️" in section_texts(missing)


async def test_subscriptions_belong_to_the_channel_and_workspace(
    slack: SlackSender, bot: Paperbot
) -> None:
    await slack.ask("subscribe diffusion", channel_id="C0OTHER", team_id="T0OTHER")
    assert await bot.subscriptions(KEY) == []
    other = ChannelKey("slack", "T0OTHER", "C0OTHER")
    assert [s.query for s in await bot.subscriptions(other)] == ["diffusion"]


async def test_search_lists_papers(slack: SlackSender, bot: Paperbot) -> None:
    ids = ingest(bot)
    response = await slack.ask("search diffusion")
    assert response["response_type"] == "ephemeral"
    assert_within_limits(response)
    text = section_texts(response)
    assert all(f"<https://arxiv.org/abs/{i}|" in text for i in ids)
    nothing = await slack.ask("search quantum gravity")
    assert "No papers found" in section_texts(nothing)


async def test_settings_show_and_change(slack: SlackSender, bot: Paperbot) -> None:
    shown = await slack.ask("settings")
    assert shown["response_type"] == "ephemeral"
    assert "hour 9:00" in section_texts(shown)
    changed = await slack.ask("settings hour 7")
    assert changed["response_type"] == "in_channel"
    assert (await bot.channel(KEY)).settings.digest_hour == 7
    refused = await slack.ask("settings hour 99")
    assert refused["response_type"] == "ephemeral" and "⚠️" in section_texts(refused)
    assert (await bot.channel(KEY)).settings.digest_hour == 7


async def test_digest_posts_to_the_channel_and_tells_the_asker(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    await slack.ask("subscribe diffusion")
    ids = ingest(bot)
    response = await slack.ask("digest")
    assert response["response_type"] == "ephemeral"
    assert section_texts(response) == "Posted 3 papers."
    header, *items = fake_slack.posts("C0RESEARCH")
    assert header["blocks"][0]["type"] == "header"
    assert sorted(fake_slack.posted_papers()) == sorted(ids)
    assert {item["thread_ts"] for item in items} == {f"{FIRST_TS}.000100"}  # the header's ts
    empty = await slack.ask("digest")
    assert section_texts(empty) == "Nothing new since the last digest."


async def test_top_shows_what_the_team_voted_up(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    nothing = await slack.ask("top week")
    assert "No papers voted up" in section_texts(nothing)
    await slack.ask("subscribe diffusion")
    ingest(bot, 1)
    await slack.ask("digest")
    message = bot.store.ledger(KEY)[0].message_id
    assert message is not None
    await bot.record_vote(KEY, message, "U0BOB0001", 1)
    top = await slack.ask("top")
    assert top["response_type"] == "ephemeral"
    assert "Team favourites" in section_texts(top) and "team +1" in str(top["blocks"])
    refused = await slack.ask("top decade")
    assert "⚠️ top takes week, month or all" in section_texts(refused)


class GatedIndex:
    """The real search index behind a gate the test opens: a search as slow as we like."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = threading.Event()

    def find(self, *args: Any, **kwargs: Any) -> Any:
        self.gate.wait(10)
        return self.inner.find(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_the_ack_does_not_wait_for_slow_work(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    ingest(bot)
    gated = GatedIndex(bot.search_index)
    bot.search_index = gated  # type: ignore[assignment]
    status, body = await slack.command("search diffusion")
    # Acknowledged (empty 200) while the search is still held at the gate.
    assert (status, body) == (200, "")
    await asyncio.sleep(0.05)
    assert fake_slack.responses == []
    gated.gate.set()
    responses = await fake_slack.wait_for_responses(1)
    assert "Search results" in section_texts(responses[0])


@pytest.mark.parametrize(
    "tamper",
    [
        "wrong secret",
        "missing signature",
        "missing timestamp",
        "stale timestamp",
        "edited body",
        "non-numeric timestamp",  # issue 11 item 8: was HTTP 500 and an ERROR traceback
    ],
)
async def test_unsigned_or_stale_requests_are_refused_and_change_nothing(
    slack: SlackSender,
    bot: Paperbot,
    fake_slack: FakeSlack,
    tamper: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = slack.command_body("subscribe diffusion")
    headers = slack.headers(body)
    if tamper == "wrong secret":
        headers = SlackSender(slack.url, fake_slack, secret="not-the-secret").headers(body)
    elif tamper == "missing signature":
        del headers["X-Slack-Signature"]
    elif tamper == "missing timestamp":
        del headers["X-Slack-Request-Timestamp"]
    elif tamper == "stale timestamp":
        headers = slack.headers(body, timestamp=int(time.time()) - 6 * 60)
    elif tamper == "non-numeric timestamp":
        stamp = "1732270000.5x"
        signature = slack.verifier.generate_signature(timestamp=stamp, body=body)
        headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": str(signature)}
    else:
        body = body.replace("diffusion", "robotics")
    status, _ = await slack.post(body, "application/x-www-form-urlencoded", headers)
    assert status == 401
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name != "asyncio"]
    await asyncio.sleep(0.05)
    assert fake_slack.responses == []
    assert await bot.subscriptions(KEY) == []
    # A signed event is refused the same way when its signature is stale.
    raw = json.dumps(fixture("slack_reaction_added.json"))
    status, _ = await slack.post(
        raw, "application/json", slack.headers(raw, int(time.time()) - 301)
    )
    assert status == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("{not json", "application/json"), ("payload=%7Bnot", "application/x-www-form-urlencoded")],
)
async def test_a_malformed_body_is_refused_without_a_traceback(
    slack: SlackSender,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    body: str,
    content_type: str,
) -> None:
    # Found running `paperbot run` against a fake Slack: bolt parsed the body before checking
    # the signature, so anyone reaching the port got a 500 and an ERROR traceback per request.
    unsigned = SlackSender(slack.url, fake_slack, secret="not-the-secret").headers(body)
    for _ in range(3):
        assert (await slack.post(body, content_type, unsigned))[0] == 401
    assert (await slack.post(body, content_type))[0] == 400  # signed, yet not Slack's shape
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name != "asyncio"]


@pytest.mark.parametrize("missing", ["channel_id", "user_id"])
async def test_a_signed_command_missing_a_field_is_refused_in_one_line(
    slack: SlackSender,
    bot: Paperbot,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    missing: str,
) -> None:
    # Found against the real bot: a correctly signed command without channel_id (or user_id)
    # failed on command["channel_id"] with a KeyError and an ERROR traceback.
    fields = form(slack.command_body("subscribe diffusion"))
    del fields[missing]
    with caplog.at_level(logging.WARNING):
        status, _ = await slack.post(urlencode(fields), "application/x-www-form-urlencoded")
        await asyncio.sleep(0.05)
    assert status == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name != "asyncio"]
    assert not [r for r in caplog.records if r.exc_info]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and missing in warnings[0].getMessage()
    assert fake_slack.responses == []
    assert await bot.subscriptions(KEY) == []


@pytest.mark.parametrize(
    "missing",
    ["event", "event.item", "event.type", "event.user", "team_id", "authorizations", "type"],
)
async def test_a_signed_event_missing_a_field_leaves_no_traceback(
    slack: SlackSender, caplog: pytest.LogCaptureFixture, missing: str
) -> None:
    payload = fixture("slack_reaction_added.json")
    if missing.startswith("event."):
        del payload["event"][missing.split(".")[1]]
    else:
        del payload[missing]
    with caplog.at_level(logging.WARNING):
        status, _ = await slack.event(payload)
    assert status < 500
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name != "asyncio"]
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_failing_core_still_answers_in_one_line(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack, adapter: SlackAdapter
) -> None:
    class Broken:
        def search(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("index is on fire")

    bot.search_index = Broken()  # type: ignore[assignment]
    response = await slack.ask("search diffusion")
    assert response["response_type"] == "ephemeral"
    assert section_texts(response).startswith("⚠️ that did not work on our side")
