"""What a well-formed Slack or Discord token looks like, and what to say when one is not.

Pure string checks, so `paperbot doctor` can point at a pasting mistake (a user token instead
of the bot token, quotes, a `Bot ` prefix) without the network. Messages name the setting's
environment variable and where the right value is found; they never repeat the value.
"""

from __future__ import annotations

import re

_SLACK_BOT = re.compile(r"^xoxb-[0-9A-Za-z-]{10,}$")
_SLACK_APP = re.compile(r"^xapp-[0-9A-Za-z-]{10,}$")
_SIGNING_SECRET = re.compile(r"^[0-9a-fA-F]{16,128}$")
_B64URL = r"[A-Za-z0-9_-]"
_DISCORD = re.compile(rf"^{_B64URL}{{16,}}\.{_B64URL}{{4,}}\.{_B64URL}{{20,}}$")
_SLACK_PREFIXES = {
    "xoxp-": "a user token",
    "xoxb-": "a bot token",
    "xapp-": "an app-level token",
    "xoxe-": "a token-rotation refresh token",
    "xoxa-": "a workspace app token",
}


def plain_problem(value: str, env: str) -> str | None:
    """Mistakes of pasting, common to every token; None when there are none."""
    if not value:
        return f"empty; set {env}"
    if value != value.strip():
        return f"has spaces or a line break around it; set {env} to the bare value"
    if value[0] in "'\"" or value[-1] in "'\"":
        return f"is wrapped in quotes; set {env} without them"
    return None


def _slack_kind(value: str) -> str:
    return next((kind for p, kind in _SLACK_PREFIXES.items() if value.startswith(p)), "")


def slack_token_problem(value: str, prefix: str, env: str, where: str) -> str | None:
    """What is wrong with a Slack token expected to start with `prefix`, or None."""
    problem = plain_problem(value, env)
    if problem:
        return problem
    pattern = _SLACK_BOT if prefix == "xoxb-" else _SLACK_APP
    if pattern.match(value):
        return None
    kind = _slack_kind(value)
    if kind and not value.startswith(prefix):
        return f"is {kind} ({value[:5]}...), not the {prefix} token: copy it from {where}"
    return f"does not look like a {prefix} token: copy it from {where}"


def signing_secret_problem(value: str) -> str | None:
    env = "PAPERBOT_SLACK__SIGNING_SECRET"
    problem = plain_problem(value, env)
    if problem:
        return problem
    if _slack_kind(value):
        return "is a token, not the signing secret: copy Basic Information → Signing Secret"
    if not _SIGNING_SECRET.match(value):
        return (
            "is not hexadecimal like a Slack signing secret: "
            "copy Basic Information → Signing Secret"
        )
    return None


def discord_token_problem(value: str) -> str | None:
    env = "PAPERBOT_DISCORD__TOKEN"
    problem = plain_problem(value, env)
    if problem:
        return problem
    if value.lower().startswith("bot "):
        return f"starts with 'Bot ': paperbot adds that itself; set {env} to the token alone"
    if _DISCORD.match(value):
        return None
    return (
        "does not look like a bot token (three base64 parts joined by dots): copy it from the "
        "Developer Portal → your application → Bot → Reset Token (not the client secret or "
        "public key)"
    )
