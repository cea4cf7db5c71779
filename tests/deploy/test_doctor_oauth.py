"""`paperbot doctor` on Slack OAuth distribution settings: client id and secret, redirect URL,
HTTP mode, and whether Slack accepts the credentials (a fake oauth.v2.access)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from paperbot.doctor import Check, Status, diagnose, exit_code, render
from paperbot.store.store import Store

CLIENT_ID = "1234567890.0987654321"
CLIENT_SECRET = "0123456789abcdef0123456789abcdef"
SIGNING = "8f742231b10e8888abcd99aaabbb85a5"
REDIRECT = "https://paperbot.example.org/slack/oauth_redirect"


class FakeOAuth:
    """oauth.v2.access as Slack answers a code it never issued."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.secret = CLIENT_SECRET

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.url.path == "/api/oauth.v2.access"
        basic = request.headers["authorization"].removeprefix("Basic ")
        client_id, _, secret = base64.b64decode(basic).decode().partition(":")
        assert parse_qs(request.content.decode())["code"] == ["paperbot-doctor-probe"]
        if client_id != CLIENT_ID:
            return httpx.Response(200, json={"ok": False, "error": "invalid_client_id"})
        if secret != self.secret:
            return httpx.Response(200, json={"ok": False, "error": "bad_client_secret"})
        return httpx.Response(200, json={"ok": False, "error": "invalid_code"})


@pytest.fixture
def oauth_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    Store.open(f"sqlite:///{data / 'paperbot.sqlite'}").close()
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{data}"\n[slack]\napi_base_url = "https://slack.test/api/"\n')
    for name in list(os.environ):
        if name.startswith("PAPERBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PAPERBOT_SLACK__CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("PAPERBOT_SLACK__CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PAPERBOT_SLACK__SIGNING_SECRET", SIGNING)
    monkeypatch.setenv("PAPERBOT_SLACK__REDIRECT_URI", REDIRECT)
    return path


def run(config: Path, fake: FakeOAuth, network: bool = True) -> dict[str, Check]:
    checks = diagnose(config, network=network, transport=httpx.MockTransport(fake))
    text = render(checks)
    assert CLIENT_SECRET not in text and SIGNING not in text
    return {c.name: c for c in checks}


def test_good_oauth_settings_are_ok_and_slack_accepts_them(oauth_env: Path) -> None:
    fake = FakeOAuth()
    checks = run(oauth_env, fake)
    for name in ("slack.client_id", "slack.client_secret", "slack.redirect_uri", "slack.oauth"):
        assert checks[name].status is Status.OK, checks[name]
    assert "installs start at https://paperbot.example.org/slack/install" in (
        checks["slack.redirect_uri"].message
    )
    assert "slack.bot_token" not in checks  # not needed with OAuth
    assert exit_code(checks.values()) == 0 and len(fake.requests) == 1


def test_a_wrong_secret_is_refused_by_slack(oauth_env: Path) -> None:
    fake = FakeOAuth()
    fake.secret = "ffffffffffffffffffffffffffffffff"
    checks = run(oauth_env, fake)
    assert checks["slack.oauth"].status is Status.FAIL
    assert "bad_client_secret" in checks["slack.oauth"].message
    assert exit_code(checks.values()) == 1


@pytest.mark.parametrize(
    ("variable", "value", "name", "expected"),
    [
        ("REDIRECT_URI", "", "slack.redirect_uri", "not set: set PAPERBOT_SLACK__REDIRECT_URI"),
        (
            "REDIRECT_URI",
            "http://paperbot.example.org/slack/oauth_redirect",
            "slack.redirect_uri",
            "must be https",
        ),
        (
            "REDIRECT_URI",
            "https://paperbot.example.org/oauth",
            "slack.redirect_uri",
            "its path is '/oauth'",
        ),
        ("CLIENT_ID", "not-an-id", "slack.client_id", "does not look like a Client ID"),
        ("APP_TOKEN", "xapp-1-A0PAPERBOT-1234567890-abc", "slack.app_token", "needs HTTP mode"),
    ],
)
def test_each_wrong_oauth_setting_is_named_with_its_fix(
    oauth_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    name: str,
    expected: str,
) -> None:
    if value:
        monkeypatch.setenv(f"PAPERBOT_SLACK__{variable}", value)
    else:
        monkeypatch.delenv(f"PAPERBOT_SLACK__{variable}")
    fake = FakeOAuth()
    checks = run(oauth_env, fake, network=False)
    assert checks[name].status is Status.FAIL and expected in checks[name].message
    assert exit_code(checks.values()) == 1 and fake.requests == []


def test_half_an_oauth_setup_says_what_is_missing(
    oauth_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERBOT_SLACK__CLIENT_SECRET")
    checks = run(oauth_env, FakeOAuth(), network=False)
    assert checks["slack.client_secret"].status is Status.FAIL
    assert "PAPERBOT_SLACK__CLIENT_SECRET" in checks["slack.client_secret"].message
