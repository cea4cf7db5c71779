"""A paper as subscriptions see it: its fields as matching terms, plus the aliases its words
stand for (acronyms as concepts, compounds whole), placed where they occur.

Aliases are what lets `MoE` meet "mixture of experts", `KVCache` meet "KV cache" and `LoRA`
meet QLoRA: a paper writing "Mixture of Experts" carries the concept term `~moe` at that
position, one writing "MoE" or "MoEs" carries it too, and one writing "moe" (a word) does not,
so acronyms stay case-aware and whole-word ("RL" is never in "world")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, pairwise
from typing import Any

from paperbot.models import Paper
from paperbot.text import category_terms, fold_name, pair_term
from paperbot.vocabulary import Vocabulary, curated
from paperbot.vocabulary.annotation import Alias, annotate

__all__ = [
    "Alias",
    "AnalyzedPaper",
    "analyze",
    "analyze_paper",
    "annotate",
    "query_terms",
    "sample_docs",
]


@dataclass(frozen=True, slots=True)
class AnalyzedPaper:
    """A paper reduced to what queries look at; built once per paper per ingest.

    The term sets are derived on first use and kept, so a query checks a word in O(1) instead
    of scanning the abstract, however many subscriptions ask (a phrase: its words first); the
    subscription index needs none of them (it intersects its keys with the sequences)."""

    arxiv_id: str
    title: tuple[str, ...]
    abstract: tuple[str, ...]
    keywords: tuple[str, ...]
    authors: tuple[tuple[str, ...], ...]
    categories: frozenset[str]
    upvotes: int
    title_aliases: tuple[Alias, ...] = ()
    abstract_aliases: tuple[Alias, ...] = ()
    keyword_aliases: tuple[Alias, ...] = ()
    _memo: dict[str, Any] = field(init=False, repr=False, compare=False, default_factory=dict)

    def _set(
        self, name: str, sequence: tuple[str, ...], aliases: tuple[Alias, ...]
    ) -> frozenset[str]:
        found = self._memo.get(name)
        if found is None:
            found = frozenset(sequence)
            if aliases:
                found = found.union([term for term, _ in aliases])
            self._memo[name] = found
        return found

    @property
    def title_terms(self) -> frozenset[str]:
        """The title's terms and its aliases."""
        return self._set("title_terms", self.title, self.title_aliases)

    @property
    def abstract_terms(self) -> frozenset[str]:
        return self._set("abstract_terms", self.abstract, self.abstract_aliases)

    @property
    def keyword_terms(self) -> frozenset[str]:
        return self._set("keyword_terms", self.keywords, self.keyword_aliases)

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

    def sequence(self, name: str) -> tuple[tuple[str, ...], tuple[Alias, ...]]:
        """A text field ("title", "keywords", "abstract") with its aliases."""
        if name == "title":
            return self.title, self.title_aliases
        if name == "keywords":
            return self.keywords, self.keyword_aliases
        return self.abstract, self.abstract_aliases

    def positions(self, name: str, term: str) -> list[int]:
        """Where `term` is in a text field, aliases at the position of the words they stand
        for (what proximity is measured on)."""
        sequence, aliases = self.sequence(name)
        found = []
        if aliases:
            by_term = self._memo.get("alias_positions_" + name)
            if by_term is None:
                by_term = {}
                for alias, position in aliases:
                    by_term.setdefault(alias, []).append(position)
                self._memo["alias_positions_" + name] = by_term
            found = list(by_term.get(term, ()))
        start = 0
        while True:
            try:
                at = sequence.index(term, start)
            except ValueError:
                return found
            found.append(at)
            start = at + 1

    def other_terms(self) -> list[str]:
        """The index terms that are not words of the text: author names (each word, and each
        adjacent pair of words of one name), categories with their archives, upvote buckets."""
        found = list(chain.from_iterable(map(_author_terms, self.authors)))
        found += ["cat:" + cat for cat in self.category_set]
        found += _UPVOTE_TERMS[: min(max(self.upvotes, 0).bit_length(), len(_UPVOTE_TERMS))]
        return found

    def all_terms(self) -> frozenset[str]:
        """Every term a stored query could be indexed under (see matching.anchor_terms), except
        adjacent text pairs, which `all_pairs` gives as tuples (no string built per pair).
        Built from the sequences and not kept: the bundled sample's papers, which the index
        measures rarity on, stay small for the rest of the process."""
        every = set(self.title)
        every.update(self.abstract, self.keywords)
        for aliases in (self.title_aliases, self.abstract_aliases, self.keyword_aliases):
            every.update([term for term, _ in aliases])
        every.update(self.other_terms())
        return frozenset(every)

    def all_pairs(self) -> frozenset[tuple[str, str]]:
        """Every adjacent pair of terms in the title, keywords or abstract (not kept either)."""
        return frozenset(
            chain(pairwise(self.title), pairwise(self.abstract), pairwise(self.keywords))
        )


# The bucket terms a paper with u upvotes holds: those of the powers of two up to u, which are
# the first u.bit_length() of these.
_UPVOTE_TERMS = tuple(f"upvotes>={1 << k}" for k in range(31))


@lru_cache(maxsize=65_536)
def _author_terms(author: tuple[str, ...]) -> tuple[str, ...]:
    """An author's index terms: each word of the name, and each adjacent pair of its words."""
    return (
        *["author:" + word for word in author],
        *["author:" + pair_term(*p) for p in pairwise(author)],
    )


@lru_cache(maxsize=65_536)
def _folded_name(name: str) -> tuple[str, ...]:
    """An author name as comparable words, once per name (names recur across a day's papers)."""
    return tuple(fold_name(name))


def analyze(
    arxiv_id: str,
    title: str,
    abstract: str,
    keywords: Iterable[str] = (),
    authors: Iterable[str] = (),
    categories: Iterable[str] = (),
    upvotes: int = 0,
    vocabulary: Vocabulary | None = None,
) -> AnalyzedPaper:
    """A paper's fields as terms with their aliases, read with `vocabulary` (the curated table
    by default; the service passes the one it learned mined pairs into)."""
    vocab = curated() if vocabulary is None else vocabulary
    title_terms, title_aliases = annotate(title, vocab)
    abstract_terms, abstract_aliases = annotate(abstract, vocab)
    keyword_terms: list[str] = []
    keyword_aliases: list[Alias] = []
    for keyword in keywords:
        if keyword_terms:
            keyword_terms.append("\x00")  # keeps a phrase from spanning two keywords
        found, aliases = annotate(keyword, vocab)
        keyword_aliases.extend((term, at + len(keyword_terms)) for term, at in aliases)
        keyword_terms.extend(found)
    return AnalyzedPaper(
        arxiv_id=arxiv_id,
        title=tuple(title_terms),
        abstract=tuple(abstract_terms),
        keywords=tuple(keyword_terms),
        authors=tuple(map(_folded_name, authors)),
        categories=frozenset(c.lower() for c in categories),
        upvotes=upvotes,
        title_aliases=tuple(title_aliases),
        abstract_aliases=tuple(abstract_aliases),
        keyword_aliases=tuple(keyword_aliases),
    )


def analyze_paper(paper: Paper, vocabulary: Vocabulary | None = None) -> AnalyzedPaper:
    return analyze(
        paper.arxiv_id,
        paper.title,
        paper.abstract,
        keywords=paper.ai_keywords,
        authors=paper.authors,
        categories=paper.categories,
        upvotes=paper.upvotes,
        vocabulary=vocabulary,
    )


@lru_cache(maxsize=1)
def sample_docs() -> tuple[AnalyzedPaper, ...]:
    """The bundled real papers, analysed like ingested ones (with the curated acronyms), once
    per process: the catch-all guard judges a young store's subscriptions on them, and the
    subscription index measures how rare each term is on them."""
    from paperbot.sources.sample import sample_papers

    return tuple(analyze_paper(p) for p in sample_papers())


@lru_cache(maxsize=4096)
def query_terms(text: str) -> tuple[str, ...]:
    """A typed phrase in the same form `analyze` gives a paper's words (compounds split)."""
    found, _ = annotate(text, curated())
    return tuple(found)
