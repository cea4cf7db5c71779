"""Logging set-up: one line per event, plain or JSON, with every configured secret masked.

One line per event, because log shippers (journald, Docker, Loki) split on newlines: a traceback
spread over thirty lines becomes thirty events. Plain lines escape their newlines; JSON lines are
one object each. Where a record concerns a channel, the channel's platform, workspace and id go
in fields of their own, from `extra={"channel": key}` or from the `platform:workspace:channel`
key in the message, so a JSON log can be filtered by channel without parsing text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic import SecretStr

from paperbot.settings import Settings

_MASK = "[redacted]"
_CHANNEL_KEY = re.compile(r"(?<![\w:/])(slack|discord|console):([\w.-]+):([\w.-]+)")
_NOISY_LIBRARIES = (
    "httpx",
    "httpcore",
    "discord",
    "slack_bolt",
    "slack_sdk",
    "apscheduler",
    "alembic",
    "aiohttp.access",
)


class OneLineRetries(logging.Filter):
    """A library retrying after an expected outage (discord.py reconnecting a shard, slack_sdk's
    Socket Mode reconnecting) logs an ERROR with a traceback per attempt. This makes each of
    those records one WARNING line that carries the error's kind and text instead."""

    def __init__(self, *starts: str, prefix: str = "") -> None:
        super().__init__()
        self.starts, self.prefix = starts, prefix

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith(self.starts):
            error = record.exc_info[1]
            reason = f"{type(error).__name__}: {error}" if error is not None else "failed"
            record.msg, record.args = f"{self.prefix}{record.getMessage()} [{reason}]", ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True

    @classmethod
    def install(cls, logger_name: str, *starts: str, prefix: str = "") -> None:
        """On the named logger, once."""
        target = logging.getLogger(logger_name)
        if not any(isinstance(f, cls) and f.starts == starts for f in target.filters):
            target.addFilter(cls(*starts, prefix=prefix))


class RedactSecrets(logging.Filter):
    """Masks secret values wherever they appear in a record, as a net under the rule that no code
    logs a token: a library's debug line or an exception text must not leak one either."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # wrong arguments: keep what there is rather than raise in the caller
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self.clean(message), ()
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # Formatted now, masked, and kept as exc_text: formatters print exc_text as is and
            # never see the raw exception again.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        for key in ("channel", "platform", "source"):
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, self.clean(value))
        return True

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, _MASK)
        return text


def channel_fields(record: logging.LogRecord, message: str) -> dict[str, str]:
    """platform / workspace / channel of the record: from `extra=`, else from the message."""
    fields: dict[str, str] = {}
    given = getattr(record, "channel", None)
    text = str(given) if given is not None else message
    found = _CHANNEL_KEY.search(text)
    if found:
        fields["platform"], fields["workspace"] = found.group(1), found.group(2)
        fields["channel"] = found.group(0)
    elif given is not None:
        fields["channel"] = text
    platform = getattr(record, "platform", None)
    if platform is not None:
        fields["platform"] = str(platform)
    source = getattr(record, "source", None)
    if source is not None:
        fields["source"] = str(source)
    return fields


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text or None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, channel fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        payload.update(channel_fields(record, message))
        error = _exception_text(self, record)
        if error:
            payload["error"] = error
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """`time LEVEL logger: message`, a traceback folded into the same line (newlines as `\\n`),
    and the channel from `extra=` appended when the message does not name it already."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        given = getattr(record, "channel", None)
        if given is not None and str(given) not in record.message:
            text += f" [channel {given}]"
        return text

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def secret_values(settings: Settings) -> list[str]:
    values = [
        settings.slack.bot_token,
        settings.slack.app_token,
        settings.slack.signing_secret,
        settings.slack.client_secret,
        settings.discord.token,
        settings.tldr.api_key,
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
    handler.setFormatter(JsonFormatter() if settings.log.format == "json" else PlainFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log.level)
    # Chatty libraries stay at WARNING unless we debug.
    level = logging.NOTSET if settings.log.level == "DEBUG" else logging.WARNING
    for name in _NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(level)
    return handler
