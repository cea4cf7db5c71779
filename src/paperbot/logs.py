"""Logging set-up: one line per event, plain or JSON, with every configured secret masked."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from pydantic import SecretStr

from paperbot.settings import Settings

_MASK = "[redacted]"


class RedactSecrets(logging.Filter):
    """Masks secret values wherever they appear in a record, as a net under the rule that no code
    logs a token: a library's debug line or an exception text must not leak one either."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        cleaned = self._clean(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, masked, and drop the raw exception.
            text = logging.Formatter().formatException(record.exc_info)
            cleaned += "\n" + self._clean(text)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = cleaned, ()
        return True

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, _MASK)
        return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("channel", "platform", "source"):
            if hasattr(record, key):
                payload[key] = str(getattr(record, key))
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def secret_values(settings: Settings) -> list[str]:
    values = [
        settings.slack.bot_token,
        settings.slack.app_token,
        settings.slack.signing_secret,
        settings.discord.token,
    ]
    found = [v.get_secret_value() for v in values if isinstance(v, SecretStr)]
    if settings.database.url and "@" in settings.database.url:
        # The password inside a database URL is a secret too.
        from sqlalchemy.engine import make_url

        password = make_url(settings.database.url).password
        if password:
            found.append(str(password))
    return found


def configure_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Install the one root handler; returns it so tests can remove it again."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactSecrets(secret_values(settings)))
    if settings.log.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"
            )
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log.level)
    # Chatty libraries stay at WARNING unless we debug.
    if settings.log.level != "DEBUG":
        for name in (
            "httpx",
            "httpcore",
            "discord",
            "slack_bolt",
            "slack_sdk",
            "apscheduler",
            "alembic",
            "aiohttp.access",
        ):
            logging.getLogger(name).setLevel(logging.WARNING)
    return handler
