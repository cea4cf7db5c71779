"""Errors the core understands; each carries a message fit to show a user in one line."""

from __future__ import annotations


class PaperbotError(Exception):
    """Base for errors paperbot raises on purpose."""


class InvalidInput(PaperbotError):
    """A command or setting was refused; the message says why in one line."""


class ConfigError(PaperbotError):
    """A setting is wrong; the message names it and says why."""


class SourceError(PaperbotError):
    """A paper source failed after its retries; the digest goes on without it."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class PostError(PaperbotError):
    """A post failed after the poster's own retries; the paper stays unposted and is retried."""


class PostNotSent(PostError):
    """The request never reached the platform (refused, DNS failure, connect timeout, TLS before
    the body): certainly not posted, so it is waited out and sent again, like a rate limit."""


class PostOutcomeUnknown(PostError):
    """The request may have reached the platform (a timeout, a 5xx): ask before resending."""


class ChannelUnavailable(PostError):
    """The bot can no longer post to the channel (removed, deleted, no access): pause it."""


class CannotTell(PaperbotError):
    """The platform cannot say whether an earlier post went through."""
