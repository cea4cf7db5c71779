"""Nothing a user typed comes back as a live Discord mention or link: every form through every
command, in each answer and in the digest posts that name the subscription; and no markdown
either (a subscription named `**bold**` or `||spoiler||` shows as typed)."""

from __future__ import annotations

import re
from typing import Any

from fake_discord import FakeDiscord
from user_markup import FORMS

from conftest import ADA, KEY_ARGS, command_payload, invoke
from paperbot.adapters.discord import DiscordAdapter
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.testing import make_paper

KEY = ChannelKey(*KEY_ARGS)
REQUESTER = f"<@{ADA}>"
_LIVE = re.compile(r"<[@#/][^>]*>|@(?:everyone|here)|(?i:https?://|www\.)\S*evil")


def texts(message: dict[str, Any]) -> list[str]:
    found = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        found += [embed.get("title") or "", embed.get("description") or ""]
        found += [(embed.get("footer") or {}).get("text") or ""]
        found += [(embed.get("author") or {}).get("name") or ""]
        for f in embed.get("fields") or []:
            found += [f.get("name") or "", f.get("value") or ""]
    return [t for t in found if t]


def live_markup(text: str) -> list[str]:
    rest = text[len(REQUESTER) :] if text.startswith(REQUESTER) else text
    return _LIVE.findall(rest)


def payloads(form: str) -> list[dict[str, Any]]:
    return [
        command_payload("subscribe", {"query": f'author:"{form}"'}),
        command_payload("subscribe", {"query": f"{form} robots"}),
        command_payload("subscribe", {"query": form}),
        command_payload("subscribe", {"query": f"{form} robots", "preview": True}),
        command_payload("list"),
        command_payload("search", {"query": form}),
        command_payload("unsubscribe", {"query": form}),
        command_payload("settings", {"name": "timezone", "value": form[:60]}),
    ]


def answers(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [c["data"] for c in fake.callbacks if c.get("data")] + list(fake.followups)


async def test_every_form_through_every_command_is_inert(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    paper = make_paper("Robots that read", "Robots read papers.", authors=("123456789012345678",))
    await bot.blocking(bot.ingest_papers, [paper])
    for form in FORMS:
        for payload in payloads(form):
            seen = len(answers(fake))
            await invoke(adapter, payload)
            new = answers(fake)[seen:]
            assert new, payload["data"]
            for message in new:
                for text in texts(message):
                    assert not live_markup(text), (form, text)
    await invoke(adapter, command_payload("digest"))
    posts = fake.all_posted()
    assert any("123456789012345678" in t for m in posts for t in texts(m))  # the why-line
    for message in posts:
        for text in texts(message):
            assert not live_markup(text), text
    shown = [m for m in answers(fake) if m.get("content") or m.get("embeds")]
    assert all(m.get("allowed_mentions") == {"parse": []} for m in shown)  # and never pinged


def test_the_checker_sees_live_markup() -> None:
    assert live_markup(f"{REQUESTER} hi <@123> @everyone https://evil.example")
    assert not live_markup(f"{REQUESTER} subscribed to <\u200b@123> @\u200beveryone")


# Markdown a user could wrap a word in: bold, italics, underline, strike, spoiler, code.
WRAPPED = ("**robots**", "*robots*", "__robots__", "_robots_", "~~robots~~", "||robots||")
WRAPPED_CODE = "`robots`"
_FORMATTED = re.compile(r"(?<![\\*_~|`])([*_~|`]+)robots(?<!\\)\1")
_LINE_START = re.compile(r"^\s*(?:#{1,3}|-#|>{1,3})\s+robots", re.MULTILINE)
_MASKED = re.compile(r"(?<!\\)\[robots(?<!\\)\]\(")


def markdown(text: str) -> list[str]:
    """The user's word as Discord markdown would format it (unescaped formatting around it)."""
    found = [m.group() for m in _FORMATTED.finditer(text)]
    return found + _LINE_START.findall(text) + _MASKED.findall(text)


async def test_a_subscription_with_markdown_shows_as_typed(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await bot.blocking(bot.ingest_papers, [make_paper("Robots that read", "Robots read.")])
    queries = [f"{word} read" for word in (*WRAPPED, WRAPPED_CODE)]
    queries += ["[robots](https://evil.example) read"]
    for query in queries:
        await invoke(adapter, command_payload("subscribe", {"query": query}))
        await invoke(adapter, command_payload("subscribe", {"query": query, "preview": True}))
        await invoke(adapter, command_payload("search", {"query": query}))
    await invoke(adapter, command_payload("list"))
    for message in answers(fake):
        for text in texts(message):
            assert not markdown(text), text
    await invoke(adapter, command_payload("digest"))
    posts = fake.all_posted()
    assert any("robots" in t and "read" in t for m in posts for t in texts(m))  # the why-line
    for message in posts:
        for text in texts(message):
            assert not markdown(text), text


def test_the_checker_sees_markdown() -> None:
    for word in (*WRAPPED, WRAPPED_CODE):
        assert markdown(f"subscribed to {word} read") == [word], word
    assert markdown("#1\n# robots\n-# robots") == ["# robots", "-# robots"]
    assert markdown("[robots](https://evil.example)") == ["[robots]("]
    assert not markdown(
        "subscribed to \\*\\*robots\\*\\* and \\|\\|robots\\|\\| and \\[robots\\](x)"
    )
