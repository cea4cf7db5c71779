"""Nothing a user typed comes back as live Slack markup: every mention and link form through
every command, in each reply and in the digest posts that name the subscription."""

from __future__ import annotations

import re
from typing import Any

from fake_slack import FakeSlack
from slack_requests import SlackSender
from user_markup import FORMS, commands_for

from paperbot.service import Paperbot
from paperbot.testing import make_paper

REQUESTER = "<@U0ALICE01>"
_ENTITY = re.compile(r"<([^<>]*)>")
_BOT_LINK = re.compile(r"^https://(arxiv\.org|huggingface\.co)/")


def texts(payload: Any) -> list[str]:
    """Every text Slack would render from a message payload (blocks and fallback)."""
    if isinstance(payload, dict):
        found = [v for k, v in payload.items() if k == "text" and isinstance(v, str)]
        return found + [
            t for k, v in payload.items() for t in texts(v) if k != "text" or not isinstance(v, str)
        ]
    if isinstance(payload, list):
        return [t for v in payload for t in texts(v)]
    return []


def live_markup(text: str) -> list[str]:
    """The live entities and links in `text` that the bot did not compose itself."""
    found = []
    for entity in _ENTITY.finditer(text):
        inner = entity.group(1)
        if entity.group() == REQUESTER and entity.start() == 0:
            continue  # the requester, named by the core
        if _BOT_LINK.match(inner):
            continue  # a paper's own link
        found.append(entity.group())
    outside = _ENTITY.sub(" ", text)
    found += re.findall(r"(?i)\S*(?:://|www\.|mailto:)\S*", outside)
    return found


async def test_every_form_through_every_command_is_inert(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    paper = make_paper(
        "Robots that read", "Robots read papers.", authors=("U0123ABCD", "W0123ABCD Someone")
    )
    bot.ingest_papers([paper])
    for form in FORMS:
        for command in commands_for(form):
            response = await slack.ask(command)
            for text in texts(response):
                assert not live_markup(text), (command, text)
    digest = await slack.ask("digest")
    assert "Posted" in str(digest) or "Nothing new" in str(digest)
    posts = fake_slack.posts()
    assert any("U0123ABCD" in t for body in posts for t in texts(body))  # the why-line
    for body in posts:
        for text in texts(body):
            assert not live_markup(text), text


def test_the_checker_sees_live_markup() -> None:
    assert live_markup("<@U0ALICE01> hi <@U0123ABCD> <!here> https://evil.example")
    assert not live_markup("<@U0ALICE01> subscribed this channel to &lt;!here&gt;")
