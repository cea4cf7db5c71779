"""Digests and replies as Slack Block Kit messages: pure functions, no I/O.

Every message these return stays inside Block Kit's limits whatever the paper says (5000-character
titles, 2000 authors, emoji, `<>&`): each text is escaped for mrkdwn first and only then cut to
its limit, lengths are counted in UTF-16 code units (what Slack's limits count, and never fewer
than Python's characters), and a whole message is kept well under the ~12k characters of block
text beyond which Slack answers `msg_blocks_too_long`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from paperbot.models import Digest, DigestItem, Paper, Reply
from paperbot.presentation import (
    ALSO_WORTH,
    item_summary,
    links,
    short_authors,
    stats,
    summary,
    truncate,
    why,
)

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 2000
MESSAGE_BUDGET = 8000
"""Block text per message: far enough under Slack's undocumented ~12k to leave room for markup."""
MAX_FALLBACK = 2000
MAX_URL = 500

VOTE_HINT = "React 👍 / 👎 to vote"
_MENTION = re.compile(r"(<@[UW][A-Z0-9]{2,20}>)")
_URL_UNSAFE = re.compile(r"[\s<>|\"\\]")
# Where Slack would start a link of its own in plain text: a scheme's "://", "www.", "mailto:".
_LINK_START = re.compile(r"(?i):/|\bwww\.|\bmailto:")
# mrkdwn has no escape for its formatting characters, so in paper text they become look-alikes
# that format nothing: an asterisk in a title must not end the title's bold, nor underscores in
# an abstract italicise the words between them.
_INERT_FORMATTING = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """What chat.postMessage / response_url take: notification fallback `text` and `blocks`."""

    text: str
    blocks: list[Block]

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


# --- text ------------------------------------------------------------------------------------


def slack_len(text: str) -> int:
    """Length as Slack counts it: UTF-16 code units, so an emoji counts two."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Escape the three characters mrkdwn gives meaning to; everything else is shown as is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def neutral(text: str) -> str:
    """Paper text with mrkdwn's formatting characters (`*_~` and backtick) made inert."""
    return text.translate(_INERT_FORMATTING)


def escape_user_text(text: str, mention: str = "") -> str:
    """Text that may hold what a user typed, made inert: mrkdwn's `<>&` escaped (so `<@U..>`,
    `<!here>`, `<!subteam^..>` and `<url|text>` show as typed), bare links broken with an
    invisible word joiner, and `*_~` and backtick made look-alikes (`neutral`, as in paper
    text: a subscription named `*bold*` must not format). Only the mention the core itself put
    first (`mention`, the requester) stays live."""
    prefix = f"<@{mention}>"
    if mention and _MENTION.fullmatch(prefix) and text.startswith(prefix):
        return prefix + _inert(escape(neutral(text[len(prefix) :])))
    return _inert(escape(neutral(text)))


def _inert(escaped: str) -> str:
    return _LINK_START.sub(lambda m: m.group()[:-1] + "\u2060" + m.group()[-1], escaped)


def one_line(text: str) -> str:
    return " ".join(text.split())


def fit(text: str, limit: int) -> str:
    """`text` escaped for mrkdwn, formatting characters made inert (`neutral`), and cut at a
    word boundary so the escaped form fits `limit`."""
    text = neutral(text)
    plain = text
    while True:
        escaped = escape(plain)
        size = slack_len(escaped)
        if size <= limit:
            return escaped
        plain = truncate(text, _shrunk(len(plain), size, limit))


def fit_plain(text: str, limit: int) -> str:
    """Plain text (header blocks, where mrkdwn is not parsed) cut to `limit` UTF-16 units."""
    plain = text
    while (size := slack_len(plain)) > limit:
        plain = truncate(text, _shrunk(len(plain), size, limit))
    return plain


def _shrunk(length: int, size: int, limit: int) -> int:
    """The next length to try: scaled by how far over the limit the last try was (escaping and
    emoji make size and length differ), and always shorter, so fitting ends in a few rounds."""
    return max(0, min(length - 1, length * limit // size))


def hard_cut(text: str, limit: int) -> str:
    """Last-resort cut of already-escaped text to `limit` units, never inside an entity."""
    if slack_len(text) <= limit:
        return text
    cut = text.encode("utf-16-le")[: limit * 2].decode("utf-16-le", errors="ignore")
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut


def safe_url(url: str) -> str | None:
    """A URL fit for `<url|label>`, or None when it is not http(s) and must not become a link."""
    url = url.strip()
    if not url.lower().startswith(("https://", "http://")) or len(url) > MAX_URL:
        return None
    return escape(_URL_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", url))


def link(url: str, label: str, limit: int = 300) -> str:
    """`<url|label>` with the label escaped and cut; the bare label when the URL is unusable."""
    shown = fit(one_line(label), limit) or "link"
    target = safe_url(url)
    return f"<{target}|{shown}>" if target else shown


# --- blocks ----------------------------------------------------------------------------------


def section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": hard_cut(mrkdwn, MAX_SECTION)}}


def header(text: str) -> Block:
    shown = fit_plain(one_line(text), MAX_HEADER)
    return {"type": "header", "text": {"type": "plain_text", "text": shown, "emoji": True}}


def context(parts: Iterable[str]) -> Block:
    elements = [{"type": "mrkdwn", "text": p} for p in parts if p][:MAX_CONTEXT_ELEMENTS]
    return {"type": "context", "elements": elements}


def block_text_length(blocks: Sequence[Block]) -> int:
    """All text a message's blocks carry, as Slack counts it."""

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    return sum(slack_len(text) for text in walk(list(blocks)))


def clamp(blocks: list[Block], what: str = "more") -> list[Block]:
    """Keep whole blocks while the message stays inside the block count and the text budget;
    say how many were left out."""
    kept: list[Block] = []
    used = 0
    for position, block in enumerate(blocks):
        size = block_text_length([block])
        if len(kept) >= MAX_BLOCKS - 1 or used + size > MESSAGE_BUDGET - 100:
            left = len(blocks) - position
            kept.append(context([f"…{left} {what} not shown"]))
            break
        kept.append(block)
        used += size
    return kept


# --- papers ----------------------------------------------------------------------------------


def _byline(paper: Paper) -> str:
    # Cut each name first, so even 300-character names leave room for "et al.".
    names = [truncate(one_line(name), 60) for name in paper.authors[:4]]
    categories = ", ".join(truncate(c, 20) for c in paper.categories[:3])
    return " · ".join(one_line(part) for part in (short_authors(names), categories) if part)


def _links(paper: Paper) -> str:
    return " · ".join(link(url, label, 20) for label, url in links(paper))


def _title(paper: Paper, limit: int) -> str:
    return f"*{link(paper.abs_url, one_line(paper.title) or paper.arxiv_id, limit)}*"


def _why(item: DigestItem, limit: int = MAX_CONTEXT_TEXT // 2) -> str:
    """Why a paper matched: it names subscriptions, which users typed."""
    return fit_user_text(truncate(one_line(why(item.reasons)), limit // 2), limit)


def _fallback(text: str) -> str:
    return fit(one_line(text), MAX_FALLBACK)


def item_message(item: DigestItem) -> SlackMessage:
    """One paper as its own message, so a reaction on it names exactly this paper."""
    paper = item.paper
    heading = _title(paper, 400)
    byline = _byline(paper)
    if byline:
        heading += "\n" + fit(byline, 400)
    blocks = [section(heading)]
    abstract = item_summary(item, 600)
    if abstract:
        blocks.append(section(fit(abstract, 1200)))
    extra = [fit(stats(item), MAX_CONTEXT_TEXT // 2), _why(item)]
    if item.note:
        extra.append(fit(one_line(item.note), MAX_CONTEXT_TEXT // 2))
    if item.suggested:
        extra.insert(0, f"*{ALSO_WORTH}*")
    blocks.append(context([_links(paper), *(e for e in extra if e)]))
    blocks.append(context([VOTE_HINT]))
    text = f"{one_line(paper.title)[:200]} ({paper.label if paper.is_sample else paper.arxiv_id})"
    return SlackMessage(_fallback(text), clamp(blocks))


def header_message(digest: Digest) -> SlackMessage:
    """The day's header: what came, what is missing, and a title list for a collapsed thread."""
    notes = []
    if digest.missing_sources:
        notes.append(fit(f"⚠️ not fetched this time: {', '.join(digest.missing_sources)}", 500))
    if digest.remaining:
        notes.append(f"+{digest.remaining} more matched: `/papers more` posts the next ones here")
    notes.append(f"{VOTE_HINT} on a paper")
    blocks = [header(digest.headline), context(notes)]
    lines = [
        f"• {link(item.paper.abs_url, item.paper.title, 150)}"
        for item in digest.items
        if not item.suggested
    ]
    also = [f"• {link(i.paper.abs_url, i.paper.title, 150)}" for i in digest.items if i.suggested]
    lines += [f"*{ALSO_WORTH}*", *also] if also else []
    blocks.extend(section(chunk) for chunk in _chunks(lines, MAX_SECTION))
    return SlackMessage(_fallback(digest.headline), clamp(blocks, "lines"))


# --- replies ---------------------------------------------------------------------------------


def _chunks(lines: Sequence[str], limit: int) -> Iterator[str]:
    """Pack already-escaped lines into texts of at most `limit` units; a longer line is cut."""
    current: list[str] = []
    size = 0
    for line in lines:
        if slack_len(line) > limit:
            line = hard_cut(line, limit)
        extra = slack_len(line) + (1 if current else 0)
        if current and size + extra > limit:
            yield "\n".join(current)
            current, size = [], 0
            extra = slack_len(line)
        current.append(line)
        size += extra
    if current:
        yield "\n".join(current)


def _is_table(text: str) -> bool:
    """Help-style text aligned with runs of spaces reads right only in monospace."""
    return sum("   " in line.strip() for line in text.splitlines()) >= 2


def _text_blocks(text: str, mention: str = "") -> list[Block]:
    lines = [
        escape_user_text(line, mention if n == 0 else "")
        for n, line in enumerate(text.splitlines())
    ] or [""]
    if _is_table(text):
        chunks = _chunks(lines, MAX_SECTION - 8)
        return [section(f"```\n{chunk}\n```") for chunk in chunks if chunk.strip()]
    return [section(chunk) for chunk in _chunks(lines, MAX_SECTION) if chunk.strip()]


def _result_block(number: int, item: DigestItem) -> Block:
    paper = item.paper
    lines = [f"{number}. {_title(paper, 300)}"]
    byline = _byline(paper)
    if byline:
        lines.append(fit(byline, 300))
    abstract = summary(paper, 240)
    if item.highlight:  # a search hit: the sentence that matched, matched words in bold
        lines.append(highlighted(item.highlight))
    elif abstract:
        lines.append(fit(abstract, 600))
    extra = " · ".join(part for part in (fit(stats(item), 200), _why(item, 200)) if part)
    lines.append(_links(paper) + (" · " + extra if extra else ""))
    return section("\n".join(lines))


def highlighted(fragments: Sequence[tuple[str, bool]]) -> str:
    """mrkdwn with the matched words in bold (the core keeps the sentence to ~300 chars)."""
    return "".join(
        f"*{escape(neutral(text))}*" if matched else escape(neutral(text))
        for text, matched in fragments
    )


def reply_message(reply: Reply) -> SlackMessage:
    """A command's answer: a title, its text, and any papers it lists (search, top, preview)."""
    if reply.is_error:
        text = f"⚠️ {one_line(reply.text)}"
        shown = hard_cut(escape_user_text(text), MAX_SECTION)
        return SlackMessage(hard_cut(escape_user_text(text), MAX_FALLBACK), [section(shown)])
    title = one_line(reply.title or "")
    blocks: list[Block] = [header(title)] if title else []
    blocks.extend(_text_blocks(reply.text, reply.mention))
    blocks.extend(_result_block(n, item) for n, item in enumerate(reply.items, start=1))
    joined = f"{title.rstrip(':')}: {reply.text}" if title else reply.text
    fallback = one_line(joined) or title or "paperbot"
    text = fit_user_text(fallback, MAX_FALLBACK, reply.mention)
    return SlackMessage(text, clamp(blocks or [section(text)], "results"))


def fit_user_text(text: str, limit: int, mention: str = "") -> str:
    """Like `fit`, for text that may hold what a user typed (see `escape_user_text`)."""
    escaped = escape_user_text(text, mention)
    return escaped if slack_len(escaped) <= limit else hard_cut(escaped, limit)
