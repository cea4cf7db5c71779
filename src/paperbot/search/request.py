"""Reading what a user typed after `/papers search`: leniently, so no input is a syntax error.

Words become stems (paperbot.text, the same analysis the index uses), "quoted text" a phrase a
hit must contain, -word, -"a phrase" or AND NOT word what no hit may hold, and since:/author:/
cat: filters. Other operators (a lone NOT: titles write it as a word), wildcards, stray quotes
and parentheses, emoji and control characters are read as plain words or dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from paperbot.errors import InvalidInput
from paperbot.text import fold_name, split_words, stems

MAX_QUERY_CHARS = 1000
MAX_TERMS = 24
MAX_PHRASES = 4
MAX_PHRASE_WORDS = 12
MAX_AUTHORS = 4
MAX_CATEGORIES = 8
MAX_EXCLUDED = 8

_CATEGORY = re.compile(r"^[a-z][a-z\-]*(\.[a-z\-]+)?$")
_RELATIVE = re.compile(r"^(\d{1,5})([dwmy])$")
_RELATIVE_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}
_QUOTES = str.maketrans({c: '"' for c in "“”„‟«»〝〞"})
_TOKEN = re.compile(
    r"""
    (?P<field>(?<![^\s(])(?:since|author|authors|cat|category|title|abstract)):
        (?P<value>"[^"]*"?|[^\s"]*)
  | (?P<phrase>-?"[^"]*")
  | (?P<stray>")
  | (?P<word>[^\s"]+)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_OPERATORS = frozenset({"AND", "OR", "NOT"})


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """What the user asked, read leniently: `terms` are optional words (stems, in typed order),
    `phrases` are quoted word sequences a hit must contain; filters restrict, never score."""

    text: str
    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    since: date | None = None
    authors: tuple[str, ...] = ()  # folded names ("yann lecun"); a hit has every one
    categories: tuple[str, ...] = ()  # lowercased; a hit has at least one
    ignored: tuple[str, ...] = ()  # filters that could not be read, so a reply can say so
    words: tuple[str, ...] = ()  # the typed (lowercased) word of each term, for replies
    excluded: tuple[tuple[str, ...], ...] = ()  # words or phrases (stems) no hit may hold

    @property
    def has_words(self) -> bool:
        return bool(self.terms or self.phrases)

    @property
    def has_filters(self) -> bool:
        return bool(self.since or self.authors or self.categories)


def parse_search(text: str, today: date | None = None) -> SearchRequest:
    """Never raises for syntax: operators, wildcards, stray quotes and parentheses, emoji and
    control characters are read as plain words or dropped. Raises InvalidInput only when
    nothing searchable is left."""
    today = today or datetime.now(UTC).date()
    cleaned = _clean(text[: MAX_QUERY_CHARS * 4])[:MAX_QUERY_CHARS]
    terms: list[str] = []
    typed: list[str] = []
    phrases: list[tuple[str, ...]] = []
    shown: list[str] = []
    since: date | None = None
    authors: list[str] = []
    categories: list[str] = []
    ignored: list[str] = []

    excluded: list[tuple[str, ...]] = []

    negate = False  # after AND NOT, as subscriptions write it

    def add_text(raw: str, quoted: bool, leave_out: bool = False) -> None:
        nonlocal negate
        if negate or leave_out:  # -word, -"a phrase", AND NOT word: what no hit may hold
            negate = False
            left_out = stems(raw)
            if left_out and len(excluded) < MAX_EXCLUDED:
                excluded.append(tuple(left_out[:MAX_PHRASE_WORDS]))
                shown.append(f'-"{raw}"' if quoted else f"-{raw}")
            return
        found = stems(raw)
        if not found:
            return
        shown.append(f'"{raw}"' if quoted else raw)
        if quoted and len(phrases) < MAX_PHRASES:
            phrases.append(tuple(found[:MAX_PHRASE_WORDS]))
        else:
            terms.extend(found)
            typed.extend(split_words(raw))  # stems() stems exactly these words

    previous_word: str | None = None
    for m in _TOKEN.finditer(cleaned):
        word = m.group("word")
        if word == "NOT" and previous_word == "AND":
            negate = True
        previous_word = word
        if m.group("field"):
            name = m.group("field").lower()
            raw_value = m.group("value")
            quoted = raw_value.startswith('"')
            value = raw_value.strip('"').strip()
            if not value:
                continue
            if name == "since":
                found_date = _read_since(value, today)
                if found_date is None:
                    ignored.append(m.group())
                else:
                    since = found_date
            elif name in ("author", "authors"):
                name_words = fold_name(value)
                if name_words and len(authors) < MAX_AUTHORS:
                    authors.append(" ".join(name_words))
            elif name in ("cat", "category"):
                category = value.lower()
                if _CATEGORY.match(category) and len(categories) < MAX_CATEGORIES:
                    categories.append(category)
                else:
                    ignored.append(m.group())
            else:  # title:/abstract: are searched like any word; both fields are always searched
                add_text(value, quoted)
        elif m.group("phrase"):
            phrase = m.group("phrase")  # a dash inside the quotes is text: "- outputting"
            add_text(phrase.removeprefix("-").strip('"'), True, leave_out=phrase[0] == "-")
        elif word and word not in _OPERATORS:
            add_text(word.lstrip("-"), False, leave_out=word[0] == "-")
    request = SearchRequest(
        text=" ".join(shown),
        terms=tuple(terms[:MAX_TERMS]),
        phrases=tuple(phrases),
        since=since,
        authors=tuple(dict.fromkeys(authors)),
        categories=tuple(dict.fromkeys(categories)),
        ignored=tuple(ignored),
        words=tuple(typed[:MAX_TERMS]),
        excluded=tuple(dict.fromkeys(excluded)),
    )
    if not (request.has_words or request.has_filters):
        if excluded:
            raise InvalidInput(
                "a search with only -words says what to leave out, not what to find: add a "
                "word, e.g. /papers search video -diffusion"
            )
        raise InvalidInput("nothing to search for: give some words, e.g. /papers search diffusion")
    return request


def _clean(text: str) -> str:
    """NFKC (full-width letters, digits and quotes become plain ones), curly quotes straightened,
    invisible format characters (soft hyphen, zero-width joiners, bidi marks) dropped so they
    cannot split or disguise a word, and other control characters turned into spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    if text.isascii() and text.isprintable():
        return text
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        out.append(" " if category[0] == "C" else ch)
    return "".join(out)


def _read_since(value: str, today: date) -> date | None:
    value = value.lower()
    relative = _RELATIVE.match(value)
    try:
        if relative:
            days = int(relative.group(1)) * _RELATIVE_DAYS[relative.group(2)]
            return today - timedelta(days=min(days, 200 * 365))
        if value in ("today", "yesterday"):
            return today - timedelta(days=0 if value == "today" else 1)
        parts = [int(p) for p in value.split("-")]
        if len(parts) == 1:
            return date(parts[0], 1, 1)
        if len(parts) == 2:
            return date(parts[0], parts[1], 1)
        if len(parts) == 3:
            return date(parts[0], parts[1], parts[2])
    except (ValueError, OverflowError):
        return None
    return None
