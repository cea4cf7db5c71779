"""Text normalisation shared by matching and search, so a subscription and a paper meet in one
form."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import Any

import Stemmer

_WORD = re.compile(r"\w+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064]")
_stemmer = Stemmer.Stemmer("english")
# Stems are cached by word: a day's abstracts reuse a small vocabulary, and the C stemmer's
# per-call overhead is what costs.
_stem_cache: dict[str, str] = {}
_STEM_CACHE_LIMIT = 500_000


# ASCII text (nearly every abstract) is split by translate + split, three times faster than the
# regex and the same words: \w on ASCII is exactly [A-Za-z0-9_].
_ASCII_SEPARATORS = str.maketrans(
    {chr(i): " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")}
)


def split_words(text: str) -> list[str]:
    r"""The normalised words (\w+ runs) of `text`."""
    if text.isascii():
        return text.lower().translate(_ASCII_SEPARATORS).split()
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
    return bool(_CONTROL.search(text))


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
    found = split_words(text)
    try:
        # C speed for known words (nearly all of a day's): no None to look for afterwards.
        return list(map(_term_cache.__getitem__, found))
    except KeyError:
        cache = _term_cache
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


@dataclass(frozen=True, slots=True)
class AnalyzedPaper:
    """A paper reduced to what queries look at; built once per paper per ingest.

    The term and pair sets are derived on first use and kept, so a query checks a word or a
    two-word phrase in O(1) instead of scanning the abstract, however many subscriptions ask;
    the subscription index needs none of them (it intersects its keys with the sequences)."""

    arxiv_id: str
    title: tuple[str, ...]
    abstract: tuple[str, ...]
    keywords: tuple[str, ...]
    authors: tuple[tuple[str, ...], ...]
    categories: frozenset[str]
    upvotes: int
    _memo: dict[str, frozenset[Any]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    @property
    def title_terms(self) -> frozenset[str]:
        found = self._memo.get("title_terms")
        if found is None:
            found = self._memo["title_terms"] = frozenset(self.title)
        return found

    @property
    def abstract_terms(self) -> frozenset[str]:
        found = self._memo.get("abstract_terms")
        if found is None:
            found = self._memo["abstract_terms"] = frozenset(self.abstract)
        return found

    @property
    def keyword_terms(self) -> frozenset[str]:
        found = self._memo.get("keyword_terms")
        if found is None:
            found = self._memo["keyword_terms"] = frozenset(self.keywords)
        return found

    @property
    def title_pairs(self) -> frozenset[tuple[str, str]]:
        """Adjacent term pairs: a two-word phrase is one lookup, a longer one pre-filtered."""
        found = self._memo.get("title_pairs")
        if found is None:
            found = self._memo["title_pairs"] = frozenset(pairwise(self.title))
        return found

    @property
    def abstract_pairs(self) -> frozenset[tuple[str, str]]:
        found = self._memo.get("abstract_pairs")
        if found is None:
            found = self._memo["abstract_pairs"] = frozenset(pairwise(self.abstract))
        return found

    @property
    def keyword_pairs(self) -> frozenset[tuple[str, str]]:
        found = self._memo.get("keyword_pairs")
        if found is None:
            found = self._memo["keyword_pairs"] = frozenset(pairwise(self.keywords))
        return found

    @property
    def author_words(self) -> frozenset[str]:
        found = self._memo.get("author_words")
        if found is None:
            found = self._memo["author_words"] = frozenset(w for a in self.authors for w in a)
        return found

    @property
    def category_set(self) -> frozenset[str]:
        """Each category and its archive ("cs.lg" and "cs")."""
        found = self._memo.get("category_set")
        if found is None:
            found = frozenset(t for c in self.categories for t in category_terms(c))
            self._memo["category_set"] = found
        return found

    def other_terms(self) -> list[str]:
        """The index terms that are not words of the text: author names (each word, and each
        adjacent pair of words of one name), categories with their archives, upvote buckets."""
        found = ["author:" + word for word in self.author_words]
        found += ["author:" + pair_term(*p) for author in self.authors for p in pairwise(author)]
        found += ["cat:" + cat for cat in self.category_set]
        found += [f"upvotes>={b}" for b in _UPVOTE_BUCKETS if b <= self.upvotes]
        return found

    def all_terms(self) -> frozenset[str]:
        """Every term a stored query could be indexed under (see matching.anchor_terms), except
        adjacent text pairs, which `all_pairs` gives as tuples (no string built per pair)."""
        found = self._memo.get("all_terms")
        if found is None:
            every = set(self.title)
            every.update(self.abstract)
            every.update(self.keywords)
            every.update(self.other_terms())
            found = self._memo["all_terms"] = frozenset(every)
        return found

    def all_pairs(self) -> frozenset[tuple[str, str]]:
        """Every adjacent pair of terms in the title, keywords or abstract."""
        found = self._memo.get("all_pairs")
        if found is None:
            found = self.title_pairs | self.abstract_pairs | self.keyword_pairs
            self._memo["all_pairs"] = found
        return found


def analyze(
    arxiv_id: str,
    title: str,
    abstract: str,
    keywords: Iterable[str] = (),
    authors: Iterable[str] = (),
    categories: Iterable[str] = (),
    upvotes: int = 0,
) -> AnalyzedPaper:
    return AnalyzedPaper(
        arxiv_id=arxiv_id,
        title=tuple(terms(title)),
        abstract=tuple(terms(abstract)),
        # A separator token keeps a phrase from spanning two keywords.
        keywords=tuple(_join_with_gaps(terms(k) for k in keywords)),
        authors=tuple(tuple(fold_name(a)) for a in authors),
        categories=frozenset(c.lower() for c in categories),
        upvotes=upvotes,
    )


def _join_with_gaps(parts: Iterable[list[str]]) -> list[str]:
    out: list[str] = []
    for part in parts:
        if out:
            out.append("\x00")
        out.extend(part)
    return out


@lru_cache(maxsize=4096)
def query_terms(text: str) -> tuple[str, ...]:
    """A subscription word or phrase in the same form `analyze` gives a paper."""
    return tuple(terms(text))
