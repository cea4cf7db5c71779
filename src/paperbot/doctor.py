"""`paperbot doctor`: check a configuration without starting the bot, one line per check.

Every line says `ok` or what to fix, because the person reading it is setting paperbot up and
wants the next step, not a traceback. Nothing here changes anything: the database is not
created or migrated, no command is synced, no message posted. The platforms are asked only
whether they accept the tokens, and an unreachable network skips that check instead of failing.
No line ever shows a token.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

import paperbot
from paperbot.errors import ConfigError
from paperbot.oauth_checks import Finding, oauth_findings, verify_oauth
from paperbot.settings import Settings, load_settings
from paperbot.store.database import current_revision, head_revision
from paperbot.token_shapes import (
    discord_token_problem,
    signing_secret_problem,
    slack_token_problem,
)

NETWORK_TIMEOUT = 10.0


class Status(enum.Enum):
    OK = "ok"
    WARN = "warn"  # works, but worth a look
    SKIP = "skip"  # could not be checked here (no network): not a failure
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    message: str

    def line(self) -> str:
        return f"{self.status.value:<4}  {self.name}: {self.message}"


def ok(name: str, message: str) -> Check:
    return Check(name, Status.OK, message)


def warn(name: str, message: str) -> Check:
    return Check(name, Status.WARN, message)


def fail(name: str, message: str) -> Check:
    return Check(name, Status.FAIL, message)


def render(checks: Iterable[Check]) -> str:
    return "\n".join(check.line() for check in checks)


def exit_code(checks: Iterable[Check]) -> int:
    """1 when any check failed; warnings and skipped checks leave a usable configuration."""
    return 1 if _failed(checks) else 0


def diagnose(
    config_path: Path | None,
    *,
    network: bool = True,
    transport: httpx.BaseTransport | None = None,
) -> list[Check]:
    """Load the settings (file, then environment) and check everything they name."""
    where = f"{config_path} and the environment" if config_path else "the environment only"
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        return [fail("settings", f"{exc} (read from {where})")]
    return [ok("settings", f"valid (read from {where})"), *check(settings, network, transport)]


def check(
    settings: Settings, network: bool = True, transport: httpx.BaseTransport | None = None
) -> list[Check]:
    """Every check on loaded settings: storage, tokens and, with `network`, the platforms."""
    checks = [check_data_dir(settings.data_dir), check_database(settings.database_url)]
    slack, discord = check_slack_shapes(settings), check_discord_shapes(settings)
    slack += [_as_check(finding) for finding in oauth_findings(settings)]
    checks += slack + discord
    if not settings.platforms:
        checks.append(
            Check(
                "platforms",
                Status.WARN,
                "no chat token set, so `paperbot run` opens the local console channel only; "
                "set PAPERBOT_SLACK__BOT_TOKEN or PAPERBOT_DISCORD__TOKEN to run on chat",
            )
        )
        return checks
    if not network:
        checks.append(Check("platforms", Status.SKIP, "not asked (--offline): shapes checked"))
        return checks
    # A token of the wrong shape is refused anyway; asking would only add a second line.
    with httpx.Client(timeout=NETWORK_TIMEOUT, transport=transport) as client:
        if not _failed(slack):
            checks += verify_slack(settings, client)
            if settings.slack.oauth:
                checks.append(_as_check(verify_oauth(settings, client)))
        if not _failed(discord):
            checks += verify_discord(settings, client)
    return checks


def _as_check(finding: Finding) -> Check:
    status = {"ok": Status.OK, "warn": Status.WARN, "skip": Status.SKIP}.get(finding.level)
    return Check(finding.name, status or Status.FAIL, finding.message)


def _failed(checks: Iterable[Check]) -> bool:
    return any(c.status is Status.FAIL for c in checks)


# --- storage ------------------------------------------------------------------------------


def check_data_dir(data_dir: Path) -> Check:
    """The SQLite file and the search index live in data_dir (the index even on PostgreSQL)."""
    existing = data_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return fail("data_dir", f"{existing} is not a directory; point data_dir at a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        return fail(
            "data_dir",
            f"{existing} is not writable by this user; fix its owner or set "
            "PAPERBOT_DATA_DIR to a writable directory (in the container: the volume)",
        )
    state = "writable" if existing == data_dir else f"will be created in {existing}"
    return ok("data_dir", f"{data_dir} ({state})")


def check_database(url: str) -> Check:
    """Reachable and at the newest migration; looked at, never created or migrated here."""
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    password = str(parsed.password) if parsed.password else None
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if path and path != ":memory:" and not Path(path).is_file():
            # A new install: nothing is wrong yet, the first start creates the file.
            return warn(
                "database",
                f"no database file at {path} yet: `paperbot run` creates and migrates it on "
                "first start; if you expected one, check data_dir or database.url",
            )
        connect_args["timeout"] = 5
    else:
        connect_args["connect_timeout"] = 5
    engine = create_engine(url, connect_args=connect_args)
    try:
        current = current_revision(engine)
    except (SQLAlchemyError, OSError) as exc:
        reason = _first_line(exc, password)
        return fail(
            "database",
            f"cannot connect to {shown}: {reason}; check database.url "
            "(PAPERBOT_DATABASE__URL), that the server runs and accepts this user",
        )
    finally:
        engine.dispose()
    head = head_revision()
    if current == head:
        return ok("database", f"{shown} reachable, schema at the newest migration ({head})")
    if current is None:  # an empty database made for paperbot: the first start fills it
        return warn(
            "database",
            f"{shown} has no paperbot schema yet: `paperbot run` creates it on start "
            "(if it should have one, point database.url at paperbot's database)",
        )
    if not _known_revision(current):
        return fail(
            "database",
            f"{shown} is at migration {current}, unknown to this paperbot (a newer version "
            "migrated it?): upgrade paperbot, or restore a backup made with this version",
        )
    return fail(
        "database",
        f"{shown} is at migration {current}, this paperbot needs {head}: back it up, then "
        "`paperbot run` migrates it on start (see docs/deploy.md)",
    )


def _known_revision(revision: str) -> bool:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(Path(paperbot.__file__).parent / "migrations"))
    try:
        return ScriptDirectory.from_config(config).get_revision(revision) is not None
    except CommandError:
        return False


def _first_line(exc: BaseException, password: str | None) -> str:
    """The driver's own reason, one line, with the database password masked."""
    cause = getattr(exc, "orig", None) or exc
    text = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    if password:
        text = text.replace(password, "[redacted]")
    return text[:300]


# --- token shapes -------------------------------------------------------------------------


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _shape(name: str, value: str | None, problem: str | None, good: str) -> list[Check]:
    if value is None:
        return []
    return [fail(name, problem) if problem else ok(name, good)]


_WHERE_BOT = "OAuth & Permissions → Bot User OAuth Token"
_WHERE_APP = "Basic Information → App-Level Tokens (scope connections:write)"


def check_slack_shapes(settings: Settings) -> list[Check]:
    slack = settings.slack
    if slack.oauth:
        return []  # oauth_checks covers every Slack setting of a distributed app
    bot, app, signing = map(_secret, (slack.bot_token, slack.app_token, slack.signing_secret))
    if bot is None:
        if app is None and signing is None:
            return []
        return [
            fail(
                "slack.bot_token",
                "not set, but other Slack settings are: set PAPERBOT_SLACK__BOT_TOKEN "
                f"({_WHERE_BOT}, xoxb-)",
            )
        ]
    env = "PAPERBOT_SLACK__"
    checks = _shape(
        "slack.bot_token",
        bot,
        slack_token_problem(bot, "xoxb-", env + "BOT_TOKEN", _WHERE_BOT),
        "present, xoxb- shape",
    )
    if app is not None:
        checks += _shape(
            "slack.app_token",
            app,
            slack_token_problem(app, "xapp-", env + "APP_TOKEN", _WHERE_APP),
            "present, xapp- shape: Socket Mode",
        )
    if signing is not None:
        mode = "unused while app_token selects Socket Mode" if app else "HTTP mode"
        checks += _shape(
            "slack.signing_secret", signing, signing_secret_problem(signing), f"present ({mode})"
        )
    if app is None and signing is None:
        checks.append(
            fail(
                "slack.mode",
                f"neither app_token nor signing_secret is set: set {env}APP_TOKEN "
                f"for Socket Mode, or {env}SIGNING_SECRET for HTTP mode",
            )
        )
    return checks


def check_discord_shapes(settings: Settings) -> list[Check]:
    token = _secret(settings.discord.token)
    problem = discord_token_problem(token) if token is not None else None
    return _shape("discord.token", token, problem, "present, bot-token shape")


# --- asking the platforms -----------------------------------------------------------------

_SLACK_AUTH_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "account_inactive"}


def _ask(
    client: httpx.Client, name: str, method: str, url: str, authorization: str
) -> httpx.Response | Check:
    """The response, or a SKIP when it says nothing about the token (offline, 429, outage)."""
    host = httpx.URL(url).host
    try:
        response = client.request(method, url, headers={"Authorization": authorization})
    except httpx.TransportError as exc:
        return Check(
            name,
            Status.SKIP,
            f"could not reach {host} ({type(exc).__name__}); no network here? "
            "only the shape was checked",
        )
    if response.status_code == 429 or response.status_code >= 500:
        return Check(name, Status.SKIP, f"{host} answered HTTP {response.status_code}; try later")
    return response


def _slack_token(
    client: httpx.Client, settings: Settings, name: str, method: str, token: str, good: str
) -> Check:
    url = settings.slack.api_base_url.rstrip("/") + "/" + method
    answer = _ask(client, name, "POST", url, f"Bearer {token}")
    if isinstance(answer, Check):
        return answer
    try:
        data = answer.json()
        accepted, error = data["ok"] is True, str(data.get("error"))
    except (ValueError, KeyError, TypeError):
        return fail(name, f"{url} did not answer like the Slack Web API; check api_base_url")
    if accepted:
        return ok(name, good.format(**data))
    if name == "slack.app_token":
        fix = "enable Socket Mode and make a token under " + _WHERE_APP
    elif error in _SLACK_AUTH_ERRORS:
        fix = "reinstall the app and copy " + _WHERE_BOT
    else:
        fix = f"see https://api.slack.com/methods/{method}"
    return fail(name, f"Slack refused it ({error}): {fix}")


def verify_slack(settings: Settings, client: httpx.Client) -> list[Check]:
    """auth.test for the bot token; apps.connections.open (it opens no socket) for the app one."""
    bot, app = _secret(settings.slack.bot_token), _secret(settings.slack.app_token)
    checks = []
    if bot is not None:
        good = "Slack accepts it (team {team}, bot user {user_id})"
        checks.append(_slack_token(client, settings, "slack.bot_token", "auth.test", bot, good))
    if app is not None:
        good = "Slack accepts it for Socket Mode"
        method = "apps.connections.open"
        checks.append(_slack_token(client, settings, "slack.app_token", method, app, good))
    return checks


def verify_discord(settings: Settings, client: httpx.Client) -> list[Check]:
    """GET /users/@me: the call discord.py's login makes."""
    discord, name = settings.discord, "discord.token"
    token = _secret(discord.token)
    if token is None:
        return []
    url = discord.api_base_url.rstrip("/") + "/users/@me"
    answer = _ask(client, name, "GET", url, f"Bot {token}")
    if isinstance(answer, Check):
        return [answer]
    if answer.status_code in (401, 403):
        return [
            fail(
                name,
                f"Discord refused it (HTTP {answer.status_code}): reset the token in the "
                "Developer Portal → Bot → Reset Token and set PAPERBOT_DISCORD__TOKEN",
            )
        ]
    try:
        me = answer.json()
        user_id, username = int(me["id"]), str(me.get("username"))
    except (ValueError, KeyError, TypeError):
        return [fail(name, f"{url} did not answer like Discord (HTTP {answer.status_code})")]
    checks = [ok(name, f"Discord accepts it (bot {username}, id {user_id})")]
    if discord.application_id is not None and discord.application_id != user_id:
        checks.append(
            Check(
                "discord.application_id",
                Status.WARN,
                f"{discord.application_id} is not this bot's id {user_id}: the invite URL "
                "would invite another application; copy General Information → Application ID",
            )
        )
    return checks
