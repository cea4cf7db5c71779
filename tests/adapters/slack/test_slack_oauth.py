"""OAuth distribution through the whole flow: two workspaces install the app (install page,
state cookie, redirect, a fake oauth.v2.access), each is served with its own token, signed
commands and events come from both, and an uninstall or a revoked token ends one workspace
only. A bad or replayed state is refused."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from fake_slack import SIGNING_SECRET, FakeSlack, Workspace
from pydantic import SecretStr
from slack_harness import fast
from slack_requests import SlackSender, reaction
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import inspect

from paperbot.adapters.slack import ChannelPacer, SlackAdapter
from paperbot.errors import ConfigError
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.settings import HttpSettings, Settings, SlackSettings
from paperbot.store.store import Store
from paperbot.testing import FixedClock, make_paper

LAB_A = Workspace("T0LABAAAA", "Lab A", "xoxb-1111-2222-labAtokenAAAA", bot_user="U0BOTA")
LAB_B = Workspace("T0LABBBBB", "Lab B", "xoxb-3333-4444-labBtokenBBBB", bot_user="U0BOTB")
CHANNEL_A, CHANNEL_B = "C0AAAAAAA", "C0BBBBBBB"
KEY_A = ChannelKey("slack", LAB_A.team_id, CHANNEL_A)
KEY_B = ChannelKey("slack", LAB_B.team_id, CHANNEL_B)
REDIRECT = "https://paperbot.example.org/slack/oauth_redirect"


def oauth_settings(fake: FakeSlack, data_dir: Path, **slack: Any) -> Settings:
    values: dict[str, Any] = {
        "client_id": fake.client_id,
        "client_secret": SecretStr(fake.client_secret),
        "signing_secret": SecretStr(SIGNING_SECRET),
        "redirect_uri": REDIRECT,
        "api_base_url": fake.base_url,
        "rate_limit_retries": 0,
    }
    values.update(slack)
    return Settings(
        data_dir=data_dir,
        slack=SlackSettings(**values),
        http=HttpSettings(host="127.0.0.1", port=0),
    )


@pytest.fixture
async def distributed(
    bot: Paperbot, fake_slack: FakeSlack, tmp_path: Path
) -> AsyncIterator[SlackAdapter]:
    built = SlackAdapter.build(
        oauth_settings(fake_slack, tmp_path), fast(bot), pacer=ChannelPacer(0)
    )
    await built.start()
    yield built
    await built.stop()


class Transcript:
    """What went over the wire, in order: the test's requests to the bot, and the bot's calls
    to the fake Slack Web API (tokens shortened), drained from the fake's record."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.lines: list[str] = []
        self._seen = 0

    def append(self, line: str) -> None:
        """A step, followed by the Web API calls the bot made for it."""
        self.lines.append(line)
        self.drain()

    def drain(self) -> None:
        for call in self.fake.calls[self._seen :]:
            token = (call.token or "")[:14]
            extra = f" code={call.body['code']}" if call.method == "oauth.v2.access" else ""
            channel = call.body.get("channel") or call.body.get("channel_id") or ""
            where = f" channel={channel}" if channel else ""
            self.lines.append(
                f"      bot -> Slack API  {call.method}{extra}{where} [{token}...] => "
                f"{call.body.get('_refused') or 'ok'}"
            )
        self._seen = len(self.fake.calls)


class Browser:
    """The installer's browser: follows the install page to Slack and back, keeping the
    state cookie the way a browser would (the test server is plain HTTP, so by hand)."""

    def __init__(self, base: str, transcript: Transcript | list[str]) -> None:
        self.base = base
        self.transcript = transcript
        self.session = aiohttp.ClientSession()
        self.cookie: str | None = None

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, cookie: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": cookie} if cookie else {}
        async with self.session.get(self.base + path, headers=headers) as response:
            body = await response.text()
            for value in response.headers.getall("Set-Cookie", []):
                if value.startswith("slack-app-oauth-state="):
                    self.cookie = value.split(";", 1)[0]
            shown = path if len(path) < 70 else path[:67] + "..."
            self.transcript.append(f"browser -> bot   GET {shown}  => {response.status}")
            return response.status, body

    async def install_page(self) -> tuple[str, dict[str, list[str]]]:
        """GET /slack/install; returns the state and the authorize link's query."""
        status, html = await self.get("/slack/install")
        assert status == 200 and "Add to Slack" in html
        link = unescape(
            re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', html)[1]
        )  # type: ignore[index]
        query = parse_qs(urlsplit(link).query)
        assert self.cookie == f"slack-app-oauth-state={query['state'][0]}"
        self.transcript.append("browser -> slack (the installer approves; Slack redirects back)")
        return query["state"][0], query

    async def come_back(self, code: str, state: str) -> tuple[int, str]:
        return await self.get(f"/slack/oauth_redirect?code={code}&state={state}", self.cookie)


def where(team: Workspace, channel: str) -> dict[str, str]:
    """A slash command's fields that say which workspace and channel it comes from."""
    return {"team_id": team.team_id, "channel_id": channel, "team_domain": team.name}


def event(team: Workspace, inner: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": "verification-token-unused",
        "team_id": team.team_id,
        "api_app_id": "A0PAPERBOT",
        "event": inner,
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team.team_id, "user_id": team.bot_user, "is_bot": True}],
    }


async def install(browser: Browser, fake: FakeSlack, workspace: Workspace, code: str) -> None:
    fake.oauth_codes[code] = workspace
    state, query = await browser.install_page()
    assert query["client_id"] == [fake.client_id] and query["redirect_uri"] == [REDIRECT]
    assert set(query["scope"][0].split(",")) >= {"commands", "chat:write", "files:write"}
    status, page = await browser.come_back(code, state)
    assert status == 200, page


async def test_two_workspaces_install_are_served_apart_and_leave_apart(
    distributed: SlackAdapter, fake_slack: FakeSlack, bot: Paperbot, clock: FixedClock
) -> None:
    transcript = Transcript(fake_slack)
    base = f"http://127.0.0.1:{distributed.port}"
    browser = Browser(base, transcript)
    slack = SlackSender(base + "/slack/events", fake_slack)
    try:
        await install(browser, fake_slack, LAB_A, "code-for-lab-a")
        await install(browser, fake_slack, LAB_B, "code-for-lab-b")
        exchanges = fake_slack.api("oauth.v2.access")
        assert [c.body["code"] for c in exchanges] == ["code-for-lab-a", "code-for-lab-b"]
        assert [c.token for c in fake_slack.api("auth.test")] == [LAB_A.token, LAB_B.token]

        # Signed commands from both workspaces, each answered and each channel its own.
        for team, channel in ((LAB_A, CHANNEL_A), (LAB_B, CHANNEL_B)):
            answer = await slack.ask("subscribe diffusion", **where(team, channel))
            assert "subscribed this channel to diffusion" in str(answer["blocks"])
            transcript.append(
                f"slack  -> bot   POST /slack/events  /papers subscribe ({team.name})"
            )
        paper = make_paper("Diffusion for two labs", "Denoising.")
        await bot.blocking(bot.ingest_papers, [paper])
        for key in (KEY_A, KEY_B):
            assert (await bot.deliver_digest(key)).posted == [paper.arxiv_id]
        posts = fake_slack.api("chat.postMessage")
        tokens = {
            c.body["channel"]: {p.token for p in posts if p.body["channel"] == c.body["channel"]}
            for c in posts
        }
        assert tokens == {CHANNEL_A: {LAB_A.token}, CHANNEL_B: {LAB_B.token}}
        transcript.append("core: digests delivered to both channels")

        # An export from Lab B is uploaded with Lab B's token, into Lab B's channel.
        shared = await slack.ask("export week", **where(LAB_B, CHANNEL_B))
        assert "Shared paperbot-week-" in str(shared["blocks"])
        [upload] = fake_slack.uploads.values()
        assert (upload["shared_in"], upload["token"]) == (CHANNEL_B, LAB_B.token)
        transcript.append("slack  -> bot   POST /slack/events  /papers export week (Lab B)")

        # Signed votes from both workspaces land in each workspace's channel.
        for team, key in ((LAB_A, KEY_A), (LAB_B, KEY_B)):
            ts = next(e.message_id for e in bot.store.ledger(key))
            payload = reaction(str(ts), channel=key.channel, user="U0VOTER")
            payload.update(team_id=team.team_id)
            payload["authorizations"][0]["team_id"] = team.team_id
            assert (await slack.event(payload))[0] == 200
            assert bot.store.vote_totals(key, [paper.arxiv_id]) == {paper.arxiv_id: 1}
            transcript.append(f"slack  -> bot   POST /slack/events  reaction_added ({team.name})")

        # Lab A uninstalls: its installation goes, its channel pauses; Lab B goes on.
        status, _ = await slack.event(event(LAB_A, {"type": "app_uninstalled"}))
        assert status == 200
        transcript.append("slack  -> bot   POST /slack/events  app_uninstalled (Lab A)")
        finder = distributed.installs.installations  # type: ignore[union-attr]
        assert await finder.async_find_bot(enterprise_id=None, team_id=LAB_A.team_id) is None
        assert await finder.async_find_bot(enterprise_id=None, team_id=LAB_B.team_id) is not None
        assert (await bot.channel(KEY_A)).settings.paused
        assert not (await bot.channel(KEY_B)).settings.paused
        clock.advance(minutes=5)
        second = make_paper("Diffusion, the sequel", "Denoising again.")
        await bot.blocking(bot.ingest_papers, [second])
        assert (await bot.deliver_digest(KEY_A)).skipped_reason is not None
        assert (await bot.deliver_digest(KEY_B)).posted == [second.arxiv_id]

        # Lab B's bot token is revoked: the same, for Lab B alone.
        revoked = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [LAB_B.bot_user]}}
        assert (await slack.event(event(LAB_B, revoked)))[0] == 200
        transcript.append("slack  -> bot   POST /slack/events  tokens_revoked (Lab B)")
        assert await finder.async_find_bot(enterprise_id=None, team_id=LAB_B.team_id) is None
        assert (await bot.channel(KEY_B)).pause_reason == (
            "the Slack app's bot token was revoked in this workspace"
        )

        # Lab A installs again: its channel is resumed and served with the new token.
        fresh = Workspace(LAB_A.team_id, "Lab A", "xoxb-5555-6666-labAnewtoken", bot_user="U0BOTA")
        await install(browser, fake_slack, fresh, "code-again")
        transcript.append("core: digest delivered to Lab A again")
        assert not (await bot.channel(KEY_A)).settings.paused
        clock.advance(minutes=5)
        third = make_paper("Diffusion, part three", "Denoising once more.")
        await bot.blocking(bot.ingest_papers, [third])  # a paused channel matched nothing
        assert (await bot.deliver_digest(KEY_A)).posted == [third.arxiv_id]
        assert fake_slack.api("chat.postMessage")[-1].token == fresh.token
        assert (await bot.channel(KEY_B)).settings.paused
    finally:
        await browser.close()
        await slack.close()
    transcript.drain()
    print("\n".join(["", "OAuth transcript:", *transcript.lines]))


async def test_a_bad_or_replayed_state_is_refused(
    distributed: SlackAdapter, fake_slack: FakeSlack
) -> None:
    browser = Browser(f"http://127.0.0.1:{distributed.port}", [])
    try:
        fake_slack.oauth_codes["code-1"] = LAB_A
        state, _ = await browser.install_page()
        cookie = browser.cookie
        status, _ = await browser.get(f"/slack/oauth_redirect?code=code-1&state={state}")
        assert status == 400  # no state cookie: not the browser that started the install
        status, _ = await browser.get(
            "/slack/oauth_redirect?code=code-1&state=forged", "slack-app-oauth-state=forged"
        )
        assert status == 401  # a state paperbot never issued
        assert fake_slack.api("oauth.v2.access") == []
        # (each refusal also clears the browser's state cookie; the installer's tab has it)
        status, _ = await browser.get(f"/slack/oauth_redirect?code=code-1&state={state}", cookie)
        assert status == 200
        status, _ = await browser.get(f"/slack/oauth_redirect?code=code-1&state={state}", cookie)
        assert status == 401  # the same state again: used up
        assert len(fake_slack.api("oauth.v2.access")) == 1
        fake_slack.oauth_codes["code-2"] = LAB_B
        state, _ = await browser.install_page()
        status, _ = await browser.come_back("not-a-code", state)
        assert status == 401  # Slack refused the code: nothing installed
        installs = distributed.installs.installations  # type: ignore[union-attr]
        assert await installs.async_find_bot(enterprise_id=None, team_id=LAB_B.team_id) is None
    finally:
        await browser.close()


async def test_oauth_needs_http_mode(bot: Paperbot, fake_slack: FakeSlack, tmp_path: Path) -> None:
    settings = oauth_settings(fake_slack, tmp_path, app_token=SecretStr("xapp-1-A-1-x"))
    with pytest.raises(ConfigError, match="OAuth distribution needs HTTP mode"):
        SlackAdapter.build(settings, bot)


def test_the_migrated_tables_are_slack_sdks(store: Store) -> None:
    """paperbot's migration creates exactly the tables slack_sdk's stores expect, and the
    stores work on them, on SQLite and PostgreSQL."""
    installations = SQLAlchemyInstallationStore(client_id="1.2", engine=store.engine)
    states = SQLAlchemyOAuthStateStore(expiration_seconds=60, engine=store.engine)
    inspector = inspect(store.engine)
    for table in (*installations.metadata.sorted_tables, *states.metadata.sorted_tables):
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(columns) == set(table.columns.keys()), table.name
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, column.name
    state = states.issue()
    assert states.consume(state) and not states.consume(state)
    from slack_sdk.oauth.installation_store import Installation

    installations.save(
        Installation(app_id="A1", team_id="T1", user_id="U1", bot_token="xoxb-1", bot_id="B1")
    )
    found = installations.find_bot(enterprise_id=None, team_id="T1")
    assert found is not None and found.bot_token == "xoxb-1"
    installations.delete_all(enterprise_id=None, team_id="T1")
    assert installations.find_bot(enterprise_id=None, team_id="T1") is None


def test_the_manifest_documents_the_redirect_url_scopes_and_events() -> None:
    manifest = (Path(__file__).parents[3] / "slack-manifest.yml").read_text()
    defaults = SlackSettings()
    assert f"    - https://paperbot.example.org{defaults.redirect_path} " in manifest
    for scope in defaults.scopes:
        assert f"      - {scope} " in manifest
    for event_name in ("app_uninstalled", "tokens_revoked"):
        assert f"      - {event_name} " in manifest


async def test_revoked_user_tokens_leave_the_workspace_installed(
    distributed: SlackAdapter, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    base = f"http://127.0.0.1:{distributed.port}"
    browser = Browser(base, [])
    slack = SlackSender(base + "/slack/events", fake_slack)
    try:
        await install(browser, fake_slack, LAB_A, "code-a")
        await slack.ask("subscribe diffusion", **where(LAB_A, CHANNEL_A))
        revoked = {"type": "tokens_revoked", "tokens": {"oauth": [LAB_A.installer], "bot": []}}
        assert (await slack.event(event(LAB_A, revoked)))[0] == 200
        installs = distributed.installs.installations  # type: ignore[union-attr]
        assert await installs.async_find_bot(enterprise_id=None, team_id=LAB_A.team_id)
        assert not (await bot.channel(KEY_A)).settings.paused
    finally:
        await browser.close()
        await slack.close()


async def test_a_workspace_that_never_installed_gets_no_service(
    distributed: SlackAdapter, fake_slack: FakeSlack, bot: Paperbot
) -> None:
    slack = SlackSender(f"http://127.0.0.1:{distributed.port}/slack/events", fake_slack)
    try:
        answer = await slack.ask("subscribe diffusion", **where(LAB_B, CHANNEL_B))
        assert answer["text"] == (
            "paperbot is not installed in this workspace (any more): "
            "install it at https://paperbot.example.org/slack/install"
        )
        assert await bot.blocking(bot.store.get_channel, KEY_B) is None  # nothing changed
    finally:
        await slack.close()
