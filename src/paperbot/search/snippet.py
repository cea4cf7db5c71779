"""Why a paper ranked: the abstract sentence that best matches the query, with the matched
words marked, as platform-neutral fragments the renderers make bold."""

from __future__ import annotations

import re
from collections.abc import Collection

from paperbot.text import normalize, stem

MAX_SNIPPET_CHARS = 300
Fragments = tuple[tuple[str, bool], ...]  # (text, matched) pieces, in order

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_WORD = re.compile(r"\w+")


def best_sentence(
    text: str, wanted: Collection[str], max_chars: int = MAX_SNIPPET_CHARS
) -> Fragments:
    """The sentence of `text` holding the most distinct `wanted` stems (ties: the words next
    to each other, then the earlier sentence), cut to `max_chars` around its matches; empty
    when no sentence holds any."""
    if not wanted or not text:
        return ()
    best: tuple[float, list[tuple[int, int]], str] | None = None
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        spans, stems_found, adjacent, previous = [], set(), 0, -2
        for n, match in enumerate(_WORD.finditer(sentence)):
            word_stem = stem(normalize(match.group()))
            if word_stem in wanted:
                spans.append(match.span())
                stems_found.add(word_stem)
                adjacent += previous == n - 1
                previous = n
        score = len(stems_found) + 0.25 * adjacent
        if spans and (best is None or score > best[0]):
            best = (score, spans, sentence)
    if best is None:
        return ()
    _, spans, sentence = best
    return _fragments(*_window(sentence, spans, max_chars))


def _window(
    sentence: str, spans: list[tuple[int, int]], max_chars: int
) -> tuple[str, list[tuple[int, int]]]:
    """A long sentence cut at word boundaries to `max_chars`, starting shortly before its
    first match; "…" marks each cut."""
    if len(sentence) <= max_chars:
        return sentence, spans
    start = max(0, spans[0][0] - max_chars // 5)
    if start:
        space = sentence.find(" ", start)
        start = space + 1 if 0 <= space < spans[0][0] else spans[0][0]
    end = start + max_chars - 2
    if end < len(sentence):
        space = sentence.rfind(" ", start, end)
        end = space if space > start else end
    prefix = "…" if start else ""
    suffix = "…" if end < len(sentence) else ""
    shift = len(prefix) - start
    cut = prefix + sentence[start:end] + suffix
    kept = [(a + shift, b + shift) for a, b in spans if a >= start and b <= end]
    return cut, kept


def _fragments(sentence: str, spans: list[tuple[int, int]]) -> Fragments:
    out: list[tuple[str, bool]] = []
    at = 0
    for a, b in spans:
        if a > at:
            out.append((sentence[at:a], False))
        out.append((sentence[a:b], True))
        at = b
    if at < len(sentence):
        out.append((sentence[at:], False))
    return tuple(out)
