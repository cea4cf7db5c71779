"""A pasted paper: an arXiv id (new or old style, with or without version) or an arxiv.org /
huggingface.co/papers link, read as "show me this paper" rather than as search words."""

from __future__ import annotations

import re

_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Za-z]{2})?/\d{7})(?:v\d{1,3})?"
_PASTED = re.compile(
    rf"""
    (?:
        (?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/
      | (?:https?://)?(?:www\.)?huggingface\.co/papers/
      | arxiv:
    )?
    {_ID}(?:\.pdf)?/?(?:[?\#]\S*)?
    """,
    re.VERBOSE | re.IGNORECASE,
)


# One token that is meant as a paper (an arxiv.org or huggingface.co link, "arxiv:...", or a
# new-style id's shape) but is not one `_PASTED` reads: searched as words it would only find
# papers that happen to say "arxiv" or "https".
_MEANT_AS_PAPER = re.compile(
    r"(?:https?://)?(?:www\.|export\.)?(?:arxiv\.org|huggingface\.co)(?:/\S*)?|arxiv:\S*"
    r"|\d{4}\.\d+(?:v\d*)?",
    re.IGNORECASE,
)
EXAMPLE = "https://arxiv.org/abs/2405.01234 or 2405.01234"


def _pasted_text(text: str) -> str:
    stripped = text.strip().strip("<>")  # Slack wraps links it recognises in <...>
    if "|" in stripped:  # <url|label> from Slack: the url is what was pasted
        stripped = stripped.split("|", 1)[0]
    return stripped


def unreadable_paste(text: str) -> str | None:
    """A one-line answer when `text` is one arXiv or Hugging Face link, or an id-shaped word,
    that names no paper `pasted_paper_id` can read; None otherwise."""
    stripped = _pasted_text(text)
    if _PASTED.fullmatch(stripped) or not _MEANT_AS_PAPER.fullmatch(stripped):
        return None
    if stripped[:1].isdigit():
        return (
            "that is not an arXiv id: new ones are four digits, a dot and four or five "
            f"(2405.01234), old ones like hep-th/9901001; paste {EXAMPLE}"
        )
    return f"that link names no paper I can read; paste a paper's link or id, like {EXAMPLE}"


def pasted_paper_id(text: str) -> str | None:
    """The arXiv id (without version) when `text` is nothing but a paper's id or link."""
    stripped = _pasted_text(text)
    match = _PASTED.fullmatch(stripped)
    if match is None:
        return None
    found = match.group("id")
    if "/" in found:  # old style: the archive is lowercase, a subject class upper ("math.GT")
        archive, number = found.split("/")
        name, dot, subject = archive.partition(".")
        return f"{name.lower()}{dot}{subject.upper()}/{number}"
    return found
