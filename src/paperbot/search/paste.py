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


def pasted_paper_id(text: str) -> str | None:
    """The arXiv id (without version) when `text` is nothing but a paper's id or link."""
    stripped = text.strip().strip("<>")  # Slack wraps links it recognises in <...>
    if "|" in stripped:  # <url|label> from Slack: the url is what was pasted
        stripped = stripped.split("|", 1)[0]
    match = _PASTED.fullmatch(stripped)
    if match is None:
        return None
    found = match.group("id")
    if "/" in found:  # old style: the archive is lowercase, a subject class upper ("math.GT")
        archive, number = found.split("/")
        name, dot, subject = archive.partition(".")
        return f"{name.lower()}{dot}{subject.upper()}/{number}"
    return found
