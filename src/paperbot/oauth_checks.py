"""`paperbot doctor`'s checks of Slack OAuth distribution: client id and secret, the redirect
URL (public, HTTPS, on redirect_path, as listed under the app's Redirect URLs), HTTP mode, and
with the network whether Slack accepts the client id and secret. No line shows a secret."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx

from paperbot.settings import Settings
from paperbot.token_shapes import signing_secret_problem

Level = Literal["ok", "warn", "skip", "fail"]
_CLIENT_ID = re.compile(r"^\d{4,}\.\d{4,}$")
_CLIENT_SECRET = re.compile(r"^[0-9a-f]{32}$")
_CREDENTIALS = "Basic Information → App Credentials"
_ENV = "PAPERBOT_SLACK__"
# A code Slack never issued: a refusal of the code (not of the app) proves the credentials.
_PROBE_CODE = "paperbot-doctor-probe"


@dataclass(frozen=True, slots=True)
class Finding:
    name: str
    level: Level
    message: str


def oauth_findings(settings: Settings) -> list[Finding]:
    """Shape checks; empty when OAuth distribution is not configured at all."""
    slack = settings.slack
    secret = slack.client_secret.get_secret_value() if slack.client_secret else None
    if slack.client_id is None and secret is None:
        return []
    if slack.client_id is None or secret is None:
        missing = "client_id" if slack.client_id is None else "client_secret"
        return [
            Finding(
                f"slack.{missing}",
                "fail",
                f"not set, but the other OAuth setting is: set {_ENV}{missing.upper()} "
                f"({_CREDENTIALS})",
            )
        ]
    found = [_client_id(slack.client_id), _client_secret(secret), _redirect(settings)]
    signing = slack.signing_secret.get_secret_value() if slack.signing_secret else None
    if signing is None:
        found.append(
            Finding(
                "slack.signing_secret",
                "fail",
                f"not set: OAuth runs in HTTP mode, set {_ENV}SIGNING_SECRET "
                "(Basic Information → Signing Secret)",
            )
        )
    else:
        problem = signing_secret_problem(signing)
        found.append(
            Finding("slack.signing_secret", "fail" if problem else "ok", problem or "present")
        )
    if slack.app_token is not None:
        found.append(
            Finding(
                "slack.app_token",
                "fail",
                "set, but OAuth distribution needs HTTP mode (Slack sends installers back to "
                f"the redirect URL): unset {_ENV}APP_TOKEN",
            )
        )
    if slack.bot_token is not None:
        found.append(
            Finding(
                "slack.bot_token",
                "warn",
                "ignored with OAuth: each workspace's token comes from its installation",
            )
        )
    return found


def _client_id(value: str) -> Finding:
    if _CLIENT_ID.match(value.strip()):
        return Finding("slack.client_id", "ok", "present, Client ID shape")
    return Finding(
        "slack.client_id",
        "fail",
        f"does not look like a Client ID (digits.digits): copy {_CREDENTIALS} → Client ID",
    )


def _client_secret(value: str) -> Finding:
    if _CLIENT_SECRET.match(value):
        return Finding("slack.client_secret", "ok", "present, Client Secret shape")
    if value != value.strip():
        return Finding("slack.client_secret", "fail", "has spaces around it; paste it again")
    return Finding(
        "slack.client_secret",
        "warn",
        f"not 32 hexadecimal characters like a Client Secret: check {_CREDENTIALS}",
    )


def _redirect(settings: Settings) -> Finding:
    slack = settings.slack
    where = "OAuth & Permissions → Redirect URLs"
    if not slack.redirect_uri:
        return Finding(
            "slack.redirect_uri",
            "fail",
            f"not set: set {_ENV}REDIRECT_URI to the public URL of {slack.redirect_path} "
            f"(https://YOUR-HOST{slack.redirect_path}) and list it under {where}",
        )
    parts = urlsplit(slack.redirect_uri)
    if parts.path != slack.redirect_path:
        return Finding(
            "slack.redirect_uri",
            "fail",
            f"its path is {parts.path or '/'!r}, but paperbot answers on {slack.redirect_path} "
            "(setting slack.redirect_path): make them the same",
        )
    local = parts.hostname in ("localhost", "127.0.0.1")
    if parts.scheme != "https" and not local:
        return Finding(
            "slack.redirect_uri", "fail", f"must be https (Slack refuses others); see {where}"
        )
    if local:
        return Finding(
            "slack.redirect_uri",
            "warn",
            "points at this machine: only installs from a browser here can finish",
        )
    return Finding(
        "slack.redirect_uri",
        "ok",
        f"{parts.scheme}://{parts.netloc}{parts.path}; list it under {where}; "
        f"installs start at {parts.scheme}://{parts.netloc}{slack.install_path}",
    )


def verify_oauth(settings: Settings, client: httpx.Client) -> Finding:
    """Ask oauth.v2.access with a code Slack never issued: `invalid_code` means it took the
    client id and secret; nothing is installed either way."""
    slack = settings.slack
    assert slack.client_id is not None and slack.client_secret is not None
    url = slack.api_base_url.rstrip("/") + "/oauth.v2.access"
    name = "slack.oauth"
    try:
        response = client.post(
            url,
            data={"code": _PROBE_CODE},
            auth=(slack.client_id, slack.client_secret.get_secret_value()),
        )
    except httpx.TransportError as exc:
        return Finding(name, "skip", f"could not reach Slack ({type(exc).__name__}); not asked")
    if response.status_code == 429 or response.status_code >= 500:
        return Finding(name, "skip", f"Slack answered HTTP {response.status_code}; try later")
    try:
        error = str(response.json().get("error"))
    except (ValueError, AttributeError):
        return Finding(name, "fail", f"{url} did not answer like the Slack Web API")
    if error == "invalid_code":
        return Finding(name, "ok", "Slack accepts the client id and secret")
    if error in ("invalid_client_id", "bad_client_secret"):
        return Finding(name, "fail", f"Slack refused them ({error}): copy {_CREDENTIALS} again")
    return Finding(
        name, "warn", f"Slack answered {error}; see https://api.slack.com/methods/oauth.v2.access"
    )
