"""Nothing a user typed comes back as live Slack markup: every mention and link form through
every command, in each reply and in the digest posts that name the subscription; and no
formatting either (a subscription named `*bold*` shows its asterisks, as look-alikes)."""

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


# Each word a user could wrap in mrkdwn's formatting; the papers below contain them all.
WRAPPED = ("*robots*", "_robots_", "~robots~", "`robots`", "```robots```")
# mrkdwn formatting around a word: *bold*, _italic_, ~strike~, `code`.
_FORMATTED = re.compile(r"(?<![\w*_~`])([*_~`]+)robots\1(?![\w*_~`])")


def formatted(payload: Any) -> list[str]:
    """The user's word, formatted, anywhere in what Slack would render from `payload`."""
    return [m.group() for text in texts(payload) for m in _FORMATTED.finditer(text)]


async def test_a_subscription_with_formatting_characters_shows_as_typed(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    bot.ingest_papers([make_paper("Robots that read", "Robots read papers.")])
    answers: list[dict[str, Any]] = []
    for word in WRAPPED:
        answers.append(await slack.ask(f"subscribe {word} read"))
        answers.append(await slack.ask(f"subscribe --preview {word} read"))
        answers.append(await slack.ask(f"search {word}"))
    answers.append(await slack.ask("list"))
    for answer in answers:
        assert not formatted(answer), answer
    listed = " ".join(texts(answers[-1]))
    assert "\u2217robots\u2217" in listed and "\u223crobots\u223c" in listed  # shown, not dropped

    digest = await slack.ask("digest")
    assert not formatted(digest)
    [item] = [b for b in fake_slack.posts() if "paperbot_paper" in str(b.get("metadata"))]
    why = [t for t in texts(item) if "read" in t and "robots" in t]
    assert why, item  # the line naming the subscriptions that matched
    assert not formatted(item), why
    for word in WRAPPED[1:]:
        assert not formatted(await slack.ask(f"unsubscribe {word} read"))


def test_the_checker_sees_formatting() -> None:
    assert formatted({"text": "matched: *robots* read, _robots_ read, ~robots~, `robots`"}) == [
        "*robots*",
        "_robots_",
        "~robots~",
        "`robots`",
    ]
    assert formatted({"text": "matched: \u2217robots\u2217 read · robots_x"}) == []
