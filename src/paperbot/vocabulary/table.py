"""The acronyms paperbot knows and what they stand for: the curated table shipped in the
package (`acronyms.tsv`, reviewed by hand) and the pairs mined from papers at ingest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources

from paperbot.text import split_words, terms
from paperbot.vocabulary.shapes import acronym_core, concept_of, split_compound

Expansion = tuple[str, ...]  # an expansion as matching terms: ("mixture", "of", "expert")


@dataclass(frozen=True)
class Vocabulary:
    """Acronyms (as written, "LoRA") with their expansions (as written). Immutable: learning
    mined pairs gives a new Vocabulary, so a paper is analysed with one table throughout."""

    expansions: Mapping[str, tuple[str, ...]]
    curated: frozenset[str] = frozenset()  # the acronyms of the shipped table
    _memo: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def known(self) -> frozenset[str]:
        """Acronyms as written; compounds ending in one split before it (QLoRA: Q + LoRA)."""
        return frozenset(self.expansions)

    @cached_property
    def by_concept(self) -> dict[str, list[str]]:
        """Concept term -> the expansions as written (for explanations)."""
        found: dict[str, list[str]] = {}
        for acronym, written in self.expansions.items():
            found.setdefault(concept_of(acronym), []).extend(written)
        return found

    @cached_property
    def folded(self) -> dict[Expansion, str]:
        """Each expansion as matching terms -> its concept term."""
        found: dict[Expansion, str] = {}
        for acronym, written in self.expansions.items():
            for text in written:
                key = fold_phrase(text, self.known)
                if len(key) >= 2:
                    found.setdefault(key, concept_of(acronym))
        return found

    @cached_property
    def expansion_keys(self) -> frozenset[str]:
        """One term of each expansion (its rarest in the bundled sample): a text holding none
        of them holds no expansion."""
        return frozenset(self.by_expansion_key)

    @cached_property
    def by_expansion_key(self) -> dict[str, list[tuple[Expansion, int, str]]]:
        """Each expansion under its rarest term, with where that term first is in it and its
        concept: a text's expansions are sought only where their rarest terms are."""
        share = _term_shares()
        found: dict[str, list[tuple[Expansion, int, str]]] = {}
        for expansion, concept in self.folded.items():
            key = min(expansion, key=lambda t: (share.get(t, 0.0), t))
            found.setdefault(key, []).append((expansion, expansion.index(key), concept))
        return found

    @cached_property
    def curated_folded(self) -> dict[Expansion, str]:
        """Like `folded`, for the curated table only: what a typed phrase is read as."""
        return {k: c for k, c in self.folded.items() if c[1:] in {a.lower() for a in self.curated}}

    def concept_of_phrase(self, phrase: Expansion) -> str | None:
        """The concept a typed phrase is an expansion of (curated table only, so what a stored
        subscription means never changes with what was mined)."""
        return self.curated_folded.get(phrase)

    def learn(self, pairs: Iterable[tuple[str, str]]) -> Vocabulary:
        """This vocabulary plus mined (acronym, expansion) pairs that pass `usable_pair`."""
        merged = {k: list(v) for k, v in self.expansions.items()}
        added = False
        for acronym, expansion in pairs:
            if not usable_pair(acronym, expansion):
                continue
            known = merged.setdefault(acronym, [])
            if all(fold_phrase(e, ()) != fold_phrase(expansion, ()) for e in known):
                known.append(expansion)
                added = True
        if not added:
            return self
        return Vocabulary({k: tuple(v) for k, v in merged.items()}, self.curated)


def fold_phrase(text: str, known: Iterable[str] = ()) -> Expansion:
    """A phrase as matching terms, compounds split as papers' words are."""
    known_set = frozenset(known)
    out: list[str] = []
    for word in text.replace("'", " ").split():
        for piece in _word_pieces(word):
            parts = split_compound(piece, known_set)
            out.extend(terms(" ".join(parts)) if parts else terms(piece))
    return tuple(out)


def _word_pieces(word: str) -> list[str]:
    """The \\w runs of a word as written (case kept): "vision-language" -> vision, language."""
    pieces: list[str] = []
    current = ""
    for ch in word:
        if ch.isalnum() or ch == "_":
            current += ch
        elif current:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


def usable_pair(acronym: str, expansion: str) -> bool:
    """Whether a mined pair may be used: the acronym is written like one and is not an ordinary
    word, the expansion has two to eight words whose initials spell the acronym in order, and
    none of them is the acronym itself. Anything else could tie an acronym to common words
    ("sample (SAM)" would make SAM match every sample)."""
    core = acronym_core(acronym)
    if core is None or core != acronym.rstrip("s") or core.lower() in ordinary_words():
        return False
    words = split_words(expansion)
    if not 2 <= len(words) <= 8 or core.lower() in words:
        return False
    return _initials_spell(core.lower(), words)


def _initials_spell(letters: str, words: list[str]) -> bool:
    """Each letter of the acronym (digits aside) starts a word or continues the word the
    previous letter was in, the first letter starting the first word and every word used."""
    letters = "".join(c for c in letters if c.isalpha())
    if not letters or letters[0] != words[0][0]:
        return False
    small = {"of", "and", "the", "for", "in", "on", "to", "a", "with", "from", "by"}
    wi, offset = 0, 1  # in word wi, the next letter must come at or after offset
    for letter in letters[1:]:
        nxt = next((j for j in range(wi + 1, len(words)) if words[j][0] == letter), None)
        skipped = words[wi + 1 : nxt] if nxt is not None else []
        if nxt is not None and all(w in small for w in skipped):
            wi, offset = nxt, 1
            continue
        at = words[wi].find(letter, offset)
        if at == -1:
            return False
        offset = at + 1
    return all(w in small for w in words[wi + 1 :])


@lru_cache(maxsize=1)
def _term_shares() -> dict[str, float]:
    """Share of the bundled sample's papers holding each matching term."""
    from paperbot.sources.sample import sample_papers

    papers = sample_papers()
    counts: dict[str, int] = {}
    for paper in papers:
        for term in set(terms(f"{paper.title} {paper.abstract}")):
            counts[term] = counts.get(term, 0) + 1
    return {term: n / len(papers) for term, n in counts.items()}


@lru_cache(maxsize=1)
def ordinary_words() -> frozenset[str]:
    """Words the bundled sample writes in lowercase at least twice: typed in capitals they are
    still the word ("DIFFUSION"), and a mined acronym spelled like one is not used."""
    from paperbot.sources.sample import sample_papers

    counts: dict[str, int] = {}
    for paper in sample_papers():
        for word in f"{paper.title} {paper.abstract}".split():
            word = word.strip(".,;:()[]{}\"'!?")
            if word.isalpha() and word.islower():
                counts[word] = counts.get(word, 0) + 1
    return frozenset(w for w, n in counts.items() if n >= 2)


@lru_cache(maxsize=1)
def curated() -> Vocabulary:
    """The table shipped in the package."""
    raw = resources.files("paperbot.vocabulary").joinpath("acronyms.tsv").read_text("utf-8")
    table: dict[str, tuple[str, ...]] = {}
    for line in raw.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        acronym, _, expansions = line.partition("\t")
        table[acronym.strip()] = tuple(e.strip() for e in expansions.split(";") if e.strip())
    return Vocabulary(table, frozenset(table))
