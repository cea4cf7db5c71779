"""`paperbot doctor` on good and broken configurations: every line says ok or what to fix, the exit
code says whether anything is wrong, and no line shows a token. The platforms are faked at the
HTTP seam with httpx.MockTransport."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from deploy_fakes import (
    DATABASE_PASSWORD,
    DISCORD_TOKEN,
    SECRETS,
    SLACK_APP_TOKEN,
    SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET,
)
from sqlalchemy import create_engine

from paperbot.doctor import Check, Status, diagnose, exit_code, render
from paperbot.store.database import head_revision
from paperbot.store.store import Store

FIXTURES = Path(__file__).parent.parent / "fixtures"
SLACK_API = "https://slack.test/api/"
DISCORD_API = "https://discord.test/api/v10"

Handler = Callable[[httpx.Request], httpx.Response]


class FakePlatforms:
    """Slack's auth.test / apps.connections.open and Discord's /users/@me, answering as told."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.slack_bot: dict[str, object] = json.loads(
            (FIXTURES / "slack_auth_test.json").read_text()
        )
        self.slack_app: dict[str, object] = {"ok": True, "url": "wss://wss.slack.test/link"}
        self.discord_status = 200
        self.discord_body: object = json.loads((FIXTURES / "discord_users_me.json").read_text())
        self.offline = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.offline:
            raise httpx.ConnectError("Name or service not known", request=request)
        auth = request.headers.get("authorization", "")
        if request.url.path == "/api/auth.test":
            assert request.method == "POST" and auth == f"Bearer {SLACK_BOT_TOKEN}"
            return httpx.Response(200, json=self.slack_bot)
        if request.url.path == "/api/apps.connections.open":
            assert request.method == "POST" and auth == f"Bearer {SLACK_APP_TOKEN}"
            return httpx.Response(200, json=self.slack_app)
        if request.url.path == "/api/v10/users/@me":
            assert request.method == "GET" and auth == f"Bot {DISCORD_TOKEN}"
            if self.discord_status != 200:
                return httpx.Response(self.discord_status, json={"message": "401: Unauthorized"})
            return httpx.Response(200, json=self.discord_body)
        return httpx.Response(404, json={"error": "unknown_method"})


@pytest.fixture
def platforms() -> FakePlatforms:
    return FakePlatforms()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A complete, good deployment: migrated SQLite in data_dir, tokens from the environment."""
    data = tmp_path / "data"
    Store.open(f"sqlite:///{data / 'paperbot.sqlite'}").close()
    path = tmp_path / "config.toml"
    path.write_text(
        f'data_dir = "{data}"\n'
        f'[slack]\napi_base_url = "{SLACK_API}"\n'
        f'[discord]\napi_base_url = "{DISCORD_API}"\n'
    )
    monkeypatch.setenv("PAPERBOT_SLACK__BOT_TOKEN", SLACK_BOT_TOKEN)
    monkeypatch.setenv("PAPERBOT_SLACK__APP_TOKEN", SLACK_APP_TOKEN)
    monkeypatch.setenv("PAPERBOT_DISCORD__TOKEN", DISCORD_TOKEN)
    return path


def run(config: Path | None, platforms: FakePlatforms, network: bool = True) -> list[Check]:
    checks = diagnose(config, network=network, transport=httpx.MockTransport(platforms))
    text = render(checks)
    for secret in SECRETS:
        assert secret not in text
    assert len(text.splitlines()) == len(checks)
    return checks


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def failures(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.message for c in checks if c.status is Status.FAIL}


def warnings(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.message for c in checks if c.status is Status.WARN}


def test_a_good_configuration_is_all_ok(config: Path, platforms: FakePlatforms) -> None:
    checks = run(config, platforms)
    assert [c.status for c in checks] == [Status.OK] * len(checks), render(checks)
    assert exit_code(checks) == 0
    found = by_name(checks)
    assert set(found) == {
        "settings",
        "data_dir",
        "database",
        "slack.bot_token",
        "slack.app_token",
        "discord.token",
    }
    assert "ML Lab" in found["slack.bot_token"].message
    assert "Socket Mode" in found["slack.app_token"].message
    assert "paperbot" in found["discord.token"].message
    assert f"({head_revision()})" in found["database"].message
    assert render(checks).splitlines()[0].startswith("ok    settings: valid")
    assert len(platforms.requests) == 3


def test_invalid_settings_stop_at_one_line(tmp_path: Path, platforms: FakePlatforms) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[http]\nport = 99999\n")
    checks = run(path, platforms)
    assert [(c.name, c.status) for c in checks] == [("settings", Status.FAIL)]
    assert "http.port" in checks[0].message
    assert exit_code(checks) == 1
    assert platforms.requests == []


def test_a_typo_in_a_setting_name_is_refused(tmp_path: Path, platforms: FakePlatforms) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[slack]\nbot_tokn = 'xoxb-1'\n")
    checks = run(path, platforms)
    assert failures(checks).keys() == {"settings"}
    assert "bot_tokn" in checks[0].message


@pytest.mark.parametrize(
    ("variable", "value", "check", "hint"),
    [
        ("SLACK__BOT_TOKEN", "xoxp-1234567890-9876543210-AbCdEfGhIj", "slack.bot_token", "user"),
        ("SLACK__BOT_TOKEN", SLACK_APP_TOKEN, "slack.bot_token", "app-level token"),
        ("SLACK__BOT_TOKEN", f'"{SLACK_BOT_TOKEN}"', "slack.bot_token", "quotes"),
        ("SLACK__BOT_TOKEN", f"{SLACK_BOT_TOKEN}\n", "slack.bot_token", "line break"),
        ("SLACK__BOT_TOKEN", "not-a-token", "slack.bot_token", "Bot User OAuth Token"),
        ("SLACK__APP_TOKEN", SLACK_BOT_TOKEN, "slack.app_token", "a bot token"),
        ("DISCORD__TOKEN", f"Bot {DISCORD_TOKEN}", "discord.token", "'Bot '"),
        ("DISCORD__TOKEN", "0123456789abcdef0123456789abcdef", "discord.token", "three"),
        ("DISCORD__TOKEN", "", "discord.token", "empty"),
    ],
)
def test_tokens_of_the_wrong_shape(
    config: Path,
    platforms: FakePlatforms,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    check: str,
    hint: str,
) -> None:
    monkeypatch.setenv(f"PAPERBOT_{variable}", value)
    checks = run(config, platforms)
    assert failures(checks).keys() == {check}, render(checks)
    assert hint in failures(checks)[check]
    assert value.strip(' "\n') not in render(checks) or len(value.strip()) < 6
    assert exit_code(checks) == 1
    # The broken platform is not asked; the other one still is.
    asked = {r.url.host for r in platforms.requests}
    assert ("slack.test" in asked) == check.startswith("discord")
    assert ("discord.test" in asked) == check.startswith("slack")


def test_slack_needs_a_mode_and_a_hex_signing_secret(
    config: Path, platforms: FakePlatforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERBOT_SLACK__APP_TOKEN")
    checks = run(config, platforms)
    assert "PAPERBOT_SLACK__SIGNING_SECRET" in failures(checks)["slack.mode"]

    monkeypatch.setenv("PAPERBOT_SLACK__SIGNING_SECRET", "not hex at all, sorry")
    checks = run(config, platforms)
    assert "hexadecimal" in failures(checks)["slack.signing_secret"]

    monkeypatch.setenv("PAPERBOT_SLACK__SIGNING_SECRET", SLACK_SIGNING_SECRET)
    checks = run(config, platforms)
    assert exit_code(checks) == 0
    assert "HTTP mode" in by_name(checks)["slack.signing_secret"].message


def test_slack_settings_without_the_bot_token(
    config: Path, platforms: FakePlatforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERBOT_SLACK__BOT_TOKEN")
    checks = run(config, platforms)
    assert "PAPERBOT_SLACK__BOT_TOKEN" in failures(checks)["slack.bot_token"]


def test_no_platform_at_all_is_a_warning(tmp_path: Path, platforms: FakePlatforms) -> None:
    Store.open(f"sqlite:///{tmp_path / 'data' / 'paperbot.sqlite'}").close()
    checks = run(None, platforms)
    assert by_name(checks)["platforms"].status is Status.WARN
    assert "console" in by_name(checks)["platforms"].message
    assert exit_code(checks) == 0
    assert platforms.requests == []


def test_platforms_rejecting_the_tokens(config: Path, platforms: FakePlatforms) -> None:
    platforms.slack_bot = {"ok": False, "error": "invalid_auth"}
    platforms.slack_app = {"ok": False, "error": "not_allowed_token_type"}
    platforms.discord_status = 401
    checks = run(config, platforms)
    failed = failures(checks)
    assert failed.keys() == {"slack.bot_token", "slack.app_token", "discord.token"}
    assert "invalid_auth" in failed["slack.bot_token"]
    assert "reinstall the app" in failed["slack.bot_token"]
    assert "not_allowed_token_type" in failed["slack.app_token"]
    assert "Reset Token" in failed["discord.token"]
    assert exit_code(checks) == 1


def test_without_network_the_tokens_are_not_verified_and_nothing_fails(
    config: Path, platforms: FakePlatforms
) -> None:
    platforms.offline = True
    checks = run(config, platforms)
    skipped = {c.name: c.message for c in checks if c.status is Status.SKIP}
    assert skipped.keys() == {"slack.bot_token", "slack.app_token", "discord.token"}
    assert "could not reach slack.test" in skipped["slack.bot_token"]
    assert exit_code(checks) == 0

    checks = run(config, FakePlatforms(), network=False)
    assert by_name(checks)["platforms"].status is Status.SKIP


def test_rate_limits_and_outages_are_not_the_tokens_fault(
    config: Path, platforms: FakePlatforms
) -> None:
    def busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429 if request.url.host == "slack.test" else 502)

    checks = diagnose(config, transport=httpx.MockTransport(busy))
    assert by_name(checks)["slack.bot_token"].status is Status.SKIP
    assert "HTTP 429" in by_name(checks)["slack.bot_token"].message
    assert by_name(checks)["discord.token"].status is Status.SKIP
    assert exit_code(checks) == 0


def test_a_wrong_application_id_is_flagged(
    config: Path, platforms: FakePlatforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOT_DISCORD__APPLICATION_ID", "42")
    checks = run(config, platforms)
    assert by_name(checks)["discord.application_id"].status is Status.WARN
    assert exit_code(checks) == 0


# --- the database ---------------------------------------------------------------------------


def test_unreachable_postgresql(
    config: Path, platforms: FakePlatforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql+psycopg://paperbot:{DATABASE_PASSWORD}@127.0.0.1:1/paperbot"
    monkeypatch.setenv("PAPERBOT_DATABASE__URL", url)
    checks = run(config, platforms)
    message = failures(checks)["database"]
    assert message.startswith("cannot connect to postgresql+psycopg://paperbot:***@127.0.0.1:1/")
    assert "PAPERBOT_DATABASE__URL" in message
    assert exit_code(checks) == 1


def test_a_new_install_without_a_database_file_yet_passes_with_a_warning(
    config: Path, platforms: FakePlatforms, tmp_path: Path
) -> None:
    (tmp_path / "data" / "paperbot.sqlite").unlink()
    checks = run(config, platforms)
    assert "no database file" in warnings(checks)["database"]
    assert "first start" in warnings(checks)["database"]
    assert exit_code(checks) == 0
    assert not (tmp_path / "data" / "paperbot.sqlite").exists()  # doctor creates nothing


def test_a_database_without_the_schema(
    config: Path, platforms: FakePlatforms, tmp_path: Path
) -> None:
    path = tmp_path / "data" / "paperbot.sqlite"
    path.unlink()
    sqlite3.connect(path).close()
    checks = run(config, platforms)
    assert "no paperbot schema" in warnings(checks)["database"]
    assert exit_code(checks) == 0


def test_an_unmigrated_database(config: Path, platforms: FakePlatforms, tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    import paperbot

    path = tmp_path / "data" / "paperbot.sqlite"
    path.unlink()
    alembic = Config()
    alembic.set_main_option("script_location", str(Path(paperbot.__file__).parent / "migrations"))
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "0001")
    engine.dispose()
    checks = run(config, platforms)
    message = failures(checks)["database"]
    assert f"at migration 0001, this paperbot needs {head_revision()}" in message
    assert "back it up" in message
    assert exit_code(checks) == 1


def test_a_database_from_a_newer_paperbot(
    config: Path, platforms: FakePlatforms, tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "data" / "paperbot.sqlite") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    checks = run(config, platforms)
    assert "unknown to this paperbot" in failures(checks)["database"]


def test_an_unwritable_data_dir(
    config: Path, platforms: FakePlatforms, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PAPERBOT_DATA_DIR", str(blocker / "data"))
    checks = run(config, platforms)
    assert "not a directory" in failures(checks)["data_dir"]


def test_the_paperbot_doctor_command(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`paperbot doctor --offline` through the real CLI, once cli.py has the command."""
    from typer.testing import CliRunner

    from paperbot.cli import app

    names = {c.name or getattr(c.callback, "__name__", "") for c in app.registered_commands}
    if "doctor" not in names:
        pytest.skip("paperbot doctor is not wired into cli.py yet")
    runner = CliRunner()
    good = runner.invoke(app, ["doctor", "--config", str(config), "--offline"])
    assert good.exit_code == 0, good.output
    assert good.output.splitlines()[0].startswith("ok    settings")
    monkeypatch.setenv("PAPERBOT_DISCORD__TOKEN", f"Bot {DISCORD_TOKEN}")
    bad = runner.invoke(app, ["doctor", "--config", str(config), "--offline"])
    assert bad.exit_code == 1
    assert "FAIL  discord.token" in bad.output
    assert DISCORD_TOKEN not in bad.output
