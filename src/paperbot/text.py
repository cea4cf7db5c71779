"""Text normalisation shared by matching and search, so a subscription and a paper meet in one
form."""

from __future__ import annotations

import re
import unicodedata

import Stemmer

_WORD = re.compile(r"\w+")
# Characters nobody sees, that a paste from a PDF or a chat client brings along: removed before
# anything reads the text (zero-width space, joiners, word joiner, BOM, soft hyphen, invisible
# operators, left/right marks, Mongolian vowel separator).
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
# Line and paragraph separators are spaces; tab, newline and carriage return are spaces already.
_SEPARATORS = re.compile("[\u2028\u2029]")
# What changes how text reads or is shown, and is refused: C0/C1 controls (NUL, ESC and the
# escape sequences it starts) and the bidirectional embeddings, overrides and isolates.
_MEANINGFUL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_MEANINGFUL_NAMES = {"\x00": "a NUL character", "\x1b": "an escape sequence"}
_stemmer = Stemmer.Stemmer("english")
# Stems are cached by word: a day's abstracts reuse a small vocabulary, and the C stemmer's
# per-call overhead is what costs.
_stem_cache: dict[str, str] = {}
_STEM_CACHE_LIMIT = 500_000


# ASCII text (nearly every abstract) is split by translate + split, three times faster than the
# regex and the same words: \w on ASCII is exactly [A-Za-z0-9_].
ASCII_SEPARATORS = str.maketrans(
    {chr(i): " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")}
)


def split_words(text: str) -> list[str]:
    r"""The normalised words (\w+ runs) of `text`."""
    if text.isascii():
        return text.lower().translate(ASCII_SEPARATORS).split()
    return _WORD.findall(normalize(text))


def normalize(text: str) -> str:
    """NFKC-fold and casefold, so full-width letters, ligatures and case never hide a match.

    The result is a fixed point (normalising it again changes nothing): a query written out and
    read back must mean the same, and casefolding can undo NFKC composition for a few letters."""
    if text.isascii():
        return text.lower()
    folded = unicodedata.normalize("NFKC", text)
    for _ in range(4):
        again = unicodedata.normalize("NFKC", folded.casefold())
        if again == folded:
            break
        folded = again
    return folded


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a character that changes its meaning (see `meaning_changer`)."""
    return meaning_changer(text) is not None


def strip_invisible(text: str) -> str:
    """`text` without the invisible format characters a user cannot see or retype."""
    if text.isascii():
        return text
    return _SEPARATORS.sub(" ", _INVISIBLE.sub("", text))


def meaning_changer(text: str) -> str | None:
    """What in `text` would change how it reads (a control character, a bidirectional
    override), named for a person; None when there is nothing of the kind."""
    found = _MEANINGFUL.search(text)
    if found is None:
        return None
    char = found.group()
    if char in _MEANINGFUL_NAMES:
        return _MEANINGFUL_NAMES[char]
    if "\u202a" <= char <= "\u2069":
        return f"a right-to-left/left-to-right override (U+{ord(char):04X})"
    return f"a control character (U+{ord(char):04X})"


def words(text: str) -> list[str]:
    """Lowercased words without stemming (for names and exact display)."""
    return split_words(text)


def stem(word: str) -> str:
    cached = _stem_cache.get(word)
    if cached is None:
        cached = _stemmer.stemWord(word)
        if len(_stem_cache) < _STEM_CACHE_LIMIT:
            _stem_cache[word] = cached
    return cached


def stems(text: str) -> list[str]:
    """Snowball stems, for search recall: "Transformers" and "transformation" both give
    "transform"."""
    cache = _stem_cache
    found = split_words(text)
    out = [cache.get(w) for w in found]
    if None in out:
        out = [stem(w) for w in found]
    return out  # type: ignore[return-value]


def fold_name(name: str) -> list[str]:
    """An author name as comparable words: accents stripped, so "Müller" matches "Muller"."""
    if name.isascii():  # most names; NFKD leaves ASCII as it is and it has no combining marks
        return words(name)
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return words(plain)


_VOWELS = frozenset("aeiouy")
_KEEP_DOUBLE = frozenset("sz")
# Words whose final s is not a plural; their plurals ("biases") fold back onto them.
_NOT_PLURAL = frozenset(
    [
        "bias",
        "alias",
        "atlas",
        "canvas",
        "corpus",
        "virus",
        "status",
        "focus",
        "thus",
        "this",
        "analysis",
        "basis",
        "axis",
        "diagnosis",
        "synthesis",
        "hypothesis",
        "thesis",
        "series",
        "species",
        "lens",
        "bus",
        "gas",
        "physics",
        "mathematics",
    ]
)
_term_cache: dict[str, str] = {}


def fold_inflection(word: str) -> str:
    """Fold plurals, -ing/-ed forms and a final silent e onto one root, conservatively:
    "transformers" and "transformer" meet, "pruned", "pruning" and "prune" meet, but
    "transformation" stays apart (Snowball would merge it, and subscriptions are about
    precision). Short words and words without a vowel in the root are left alone."""
    if len(word) <= 3 or not word.isalpha():
        return word
    return _drop_silent_e(_fold_suffix(word))


def _fold_suffix(word: str) -> str:
    if word in _NOT_PLURAL:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ses"):
        root = word[:-2]
        return root if root.endswith("ss") or root in _NOT_PLURAL else word[:-1]
    if word.endswith(("xes", "zes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]  # and go on: "embeddings" -> "embedding" -> "embed"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix):
            root = word[: -len(suffix)]
            if len(root) >= 4 and _VOWELS.intersection(root):
                if root[-1] == root[-2] and root[-1] not in _VOWELS | _KEEP_DOUBLE:
                    root = root[:-1]  # embedding -> embedd -> embed
                return root
    return word


def _drop_silent_e(word: str) -> str:
    """ "scale" meets "scaled" and "scaling" (both "scal"); "degree" keeps its double e."""
    if len(word) > 4 and word.endswith("e") and not word.endswith("ee"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The words of `text` as matching terms: normalised, plural and -ing/-ed folded."""
    return fold_words(split_words(text))


def fold_words(found: list[str]) -> list[str]:
    """Normalised words as matching terms (see `terms`)."""
    try:
        # C speed for known words (nearly all of a day's): no None to look for afterwards.
        return list(map(_term_cache.__getitem__, found))
    except KeyError:
        # A few new words (every abstract has some): fold those once, then the fast path.
        for word in set(found).difference(_term_cache):
            _fold_new(word)
        if len(_term_cache) < _STEM_CACHE_LIMIT:
            return list(map(_term_cache.__getitem__, found))
        cache = _term_cache  # full: not every new word was kept, so fold them as met
        return [term if (term := cache.get(w)) is not None else _fold_new(w) for w in found]


def _fold_new(word: str) -> str:
    term = fold_inflection(word)
    if len(_term_cache) < _STEM_CACHE_LIMIT:
        _term_cache[word] = term
    return term


# Upvote filters are indexed by power-of-two buckets: a paper with u upvotes carries the bucket
# term of every power of two up to u, and `upvotes:N` is anchored on the largest one up to N.
_UPVOTE_BUCKETS = tuple(1 << k for k in range(31))


def upvote_term(threshold: int) -> str:
    """The bucket term every paper with at least `threshold` (>= 1) upvotes carries."""
    return f"upvotes>={1 << (threshold.bit_length() - 1)}"


def pair_term(first: str, second: str) -> str:
    """The index term of two adjacent terms, so a phrase is anchored on its rarest pair."""
    return f"{first} {second}"


def category_terms(category: str) -> tuple[str, ...]:
    """A category and its archive ("cs.lg" and "cs"), so `cat:cs` matches any cs paper."""
    archive, dot, _ = category.partition(".")
    return (category, archive) if dot else (category,)
