"""Domain objects shared by every part of paperbot; none of them knows a wire format or a table."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from urllib.parse import urlencode

_NEW_STYLE_ID = re.compile(r"^\d{4}\.\d{4,5}$")
_OLD_STYLE_ID = re.compile(r"^[a-z][a-z\-]*(\.[A-Z]{2})?/\d{7}$")
_ID_PREFIXES = (
    "https://arxiv.org/abs/",
    "http://arxiv.org/abs/",
    "https://arxiv.org/pdf/",
    "http://arxiv.org/pdf/",
    "oai:arXiv.org:",
    "arxiv:",
    "arXiv:",
)
_VERSION_SUFFIX = re.compile(r"v\d+$")
# The bundled demo papers' source: their ids are synthetic, so no link may use them.
SAMPLE_SOURCE = "sample"


def normalize_arxiv_id(raw: str) -> str | None:
    """The identity of a paper: its arXiv id without prefix or version, or None if it is not one."""
    text = raw.strip()
    for prefix in _ID_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    text = text.removesuffix(".pdf")
    text = _VERSION_SUFFIX.sub("", text)
    if _NEW_STYLE_ID.match(text) or _OLD_STYLE_ID.match(text):
        return text
    return None


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper, however many sources told us about it."""

    arxiv_id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published_at: datetime | None = None
    featured_on: date | None = None
    upvotes: int = 0
    comments: int = 0
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def is_sample(self) -> bool:
        """A bundled demo paper: real title and abstract under a made-up id."""
        return SAMPLE_SOURCE in self.sources

    @property
    def title_search_url(self) -> str:
        query = urlencode({"query": self.title, "searchtype": "title"})
        return f"https://arxiv.org/search/?{query}"

    @property
    def abs_url(self) -> str:
        """The paper's arXiv page; for a sample paper arXiv's title search, since its id could
        be another, real paper's."""
        if self.is_sample:
            return self.title_search_url
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        if self.is_sample:
            return self.title_search_url
        return f"https://arxiv.org/pdf/{self.arxiv_id}"

    @property
    def label(self) -> str:
        """How a post names the paper: `arXiv:2401.12345`, or that it is a sample."""
        return f"sample:{self.arxiv_id}" if self.is_sample else f"arXiv:{self.arxiv_id}"

    @property
    def hf_url(self) -> str | None:
        return f"https://huggingface.co/papers/{self.arxiv_id}" if "hf" in self.sources else None

    def merged_with(self, newer: Paper) -> Paper:
        """Combine two reports of the same paper; the result does not depend on arrival order
        for counters and sets, and prefers the newer report for text fields it actually has."""
        if newer.arxiv_id != self.arxiv_id:
            raise ValueError(f"cannot merge {self.arxiv_id} with {newer.arxiv_id}")
        return replace(
            self,
            title=newer.title or self.title,
            abstract=newer.abstract or self.abstract,
            authors=newer.authors or self.authors,
            categories=_union(self.categories, newer.categories),
            published_at=_earliest(self.published_at, newer.published_at),
            featured_on=newer.featured_on or self.featured_on,
            upvotes=max(self.upvotes, newer.upvotes),
            comments=max(self.comments, newer.comments),
            github_repo=newer.github_repo or self.github_repo,
            github_stars=_max_optional(self.github_stars, newer.github_stars),
            project_page=newer.project_page or self.project_page,
            ai_summary=newer.ai_summary or self.ai_summary,
            ai_keywords=newer.ai_keywords or self.ai_keywords,
            sources=tuple(sorted(set(self.sources) | set(newer.sources))),
        )


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(first + second))


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def _max_optional(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return a if b is None else b
    return max(a, b)


@dataclass(frozen=True, slots=True)
class ChannelKey:
    """Where a channel lives: platform, workspace (Slack team / Discord guild) and channel id."""

    platform: str
    workspace: str
    channel: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}"

    @classmethod
    def parse(cls, text: str) -> ChannelKey:
        """Read `platform:workspace:channel`, the form `str()` writes and the CLI accepts."""
        parts = text.split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"channel must look like platform:workspace:channel, got {text!r}")
        return cls(*parts)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    timezone: str = "UTC"
    digest_hour: int = 9
    max_items: int = 10
    digest_days: tuple[str, ...] = WEEKDAYS[:5]
    threaded: bool = True
    post_when_empty: bool = False
    paused: bool = False
    keep_days: int = 7  # a matched paper not posted yet stays eligible this long


@dataclass(frozen=True, slots=True)
class Channel:
    key: ChannelKey
    settings: ChannelSettings
    last_digest_at: datetime | None = None
    pause_reason: str | None = None


class MatchField(StrEnum):
    """Where a subscription matched, strongest first."""

    TITLE = "title"
    KEYWORDS = "keywords"
    ABSTRACT = "abstract"
    AUTHOR = "author"
    CATEGORY = "category"

    @property
    def weight(self) -> float:
        return _FIELD_WEIGHTS[self]


_FIELD_WEIGHTS = {
    MatchField.TITLE: 3.0,
    MatchField.AUTHOR: 2.5,
    MatchField.KEYWORDS: 2.0,
    MatchField.CATEGORY: 1.5,
    MatchField.ABSTRACT: 1.0,
}


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    channel: ChannelKey
    query: str


@dataclass(frozen=True, slots=True)
class MatchReason:
    """Why a paper is in a digest: which subscription, and the strongest field it matched in."""

    subscription: str
    field: MatchField
    detail: str = ""  # how it matched when not as typed: "MoE as 'mixture of experts'"


@dataclass(frozen=True, slots=True)
class DigestItem:
    paper: Paper
    reasons: tuple[MatchReason, ...] = ()
    score: float = 0.0
    team_votes: int = 0
    # What the channel's learned taste says about it ("ranked up: …", "close to: …").
    note: str = ""
    # In the digest's "also worth a look" section: matched no subscription, taste picked it.
    suggested: bool = False
    # A search hit's best abstract sentence as (text, matched) pieces; renderers bold matches.
    highlight: tuple[tuple[str, bool], ...] = ()
    tldr: str | None = None  # a language model's one sentence, when TL;DRs are on


@dataclass(frozen=True, slots=True)
class Digest:
    """A day's post for one channel, in no platform's format."""

    channel: ChannelKey
    day: date
    items: tuple[DigestItem, ...]
    missing_sources: tuple[str, ...] = ()
    remaining: int = 0
    # The delivery's id for this digest (its record in the store): posters tag the header with
    # it so the header can be found again after a crash, and derive Discord nonces from it.
    ref: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.items

    @property
    def headline(self) -> str:
        count = len(self.items)
        noun = "paper" if count == 1 else "papers"
        if any(item.paper.is_sample for item in self.items):
            # The demo must not pass for a real listing: say so where everyone reads it.
            return f"Sample paper digest for {self.day:%a %d %b %Y}: {count} {noun} (demo data)"
        return f"Paper digest for {self.day:%a %d %b %Y}: {count} new {noun}"


class Visibility(StrEnum):
    EPHEMERAL = "ephemeral"
    IN_CHANNEL = "in_channel"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a reply carries (a .bib export): Slack uploads it, Discord attaches it, the
    console writes it to disk."""

    filename: str
    content: bytes
    mime_type: str = "text/plain"
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer to a command, in no platform's format."""

    text: str
    visibility: Visibility = Visibility.EPHEMERAL
    title: str | None = None
    items: tuple[DigestItem, ...] = ()
    is_error: bool = False
    # The user the core addresses at the very start of `text` ("<@U1> subscribed ..."): the
    # only mention a renderer keeps live; any other markup in the text is a user's and inert.
    mention: str = ""
    attachment: Attachment | None = None

    @classmethod
    def error(cls, text: str) -> Reply:
        return cls(text=text, is_error=True)


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who asked, where, and whether they may change the channel's subscriptions."""

    channel: ChannelKey
    user: str
    can_manage: bool = True
    # Where a late answer reaches the requester (Slack: the command's response_url).
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class PostedMessage:
    paper_id: str | None
    message_id: str


@dataclass(slots=True)
class DeliveryReport:
    channel: ChannelKey
    posted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    paused: bool = False
    skipped_reason: str | None = None
    # Certainly posted, failed (queued again), and the two in-between states, named by title.
    uncertain: list[str] = field(default_factory=list)  # may have arrived; never resent
    checking: list[str] = field(default_factory=list)  # may have arrived; asked again first
    titles: dict[str, str] = field(default_factory=dict)
    resumed: bool = False  # an interrupted digest was finished under its own header
    unpaused: str | None = None  # the pause reason a successful post just lifted
    remaining: int = 0  # matched papers still waiting (no room in this digest)

    @property
    def summary(self) -> str:
        if self.skipped_reason:
            return f"{self.channel}: {self.skipped_reason}"
        text = f"{self.channel}: posted {len(self.posted)}"
        if self.failed:
            text += f", {len(self.failed)} to retry"
        if self.paused:
            text += ", channel paused"
        return text
