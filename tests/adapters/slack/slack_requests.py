"""Slack's side of the conversation: the signed slash commands and event callbacks Slack's
servers send the app (form-encoded command bodies, JSON events, `v0=` HMAC signatures), each
command with a response_url the fake Slack serves."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from fake_slack import SIGNING_SECRET, FakeSlack, fixture
from slack_sdk.signature import SignatureVerifier


class SlackSender:
    """Sends the app what Slack sends: signed slash commands and event callbacks."""

    def __init__(self, url: str, fake: FakeSlack, secret: str = SIGNING_SECRET) -> None:
        self.url = url
        self.fake = fake
        self.verifier = SignatureVerifier(secret)
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.session.close()

    def headers(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": str(self.verifier.generate_signature(timestamp=stamp, body=body)),
        }

    def command_body(self, text: str, **overrides: str) -> str:
        form = fixture("slack_command.json")
        form.update(text=text, response_url=self.fake.response_url())
        form.update(overrides)
        return urlencode(form)

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        sent = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        sent.update(self.headers(body) if headers is None else headers)
        async with self.session.post(self.url, data=body.encode(), headers=sent) as response:
            return response.status, await response.text()

    async def command(self, text: str, **overrides: str) -> tuple[int, str]:
        body = self.command_body(text, **overrides)
        return await self.post(body, "application/x-www-form-urlencoded")

    async def event(self, payload: dict[str, Any]) -> tuple[int, str]:
        return await self.post(json.dumps(payload), "application/json")

    async def ask(self, text: str, **overrides: str) -> dict[str, Any]:
        """Run a command and return what arrived at its response_url."""
        before = len(self.fake.responses)
        status, _ = await self.command(text, **overrides)
        assert status == 200
        responses = await self.fake.wait_for_responses(before + 1)
        return responses[before]


def reaction(
    ts: str,
    reaction_name: str = "+1",
    user: str = "U0ALICE01",
    channel: str = "C0RESEARCH",
    removed: bool = False,
) -> dict[str, Any]:
    payload = fixture("slack_reaction_removed.json" if removed else "slack_reaction_added.json")
    payload["event"].update(reaction=reaction_name, user=user)
    payload["event"]["item"].update(channel=channel, ts=ts)
    payload["event_id"] = "Ev" + uuid.uuid4().hex[:10].upper()
    return payload


def form(body: str) -> dict[str, str]:
    return dict(parse_qsl(body))
