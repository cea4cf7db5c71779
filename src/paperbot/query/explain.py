"""Saying how a subscription was read ("reinforcement and learning within 5 words of each
other") and how it matched a paper ("MoE as 'mixture of experts'"), in plain words."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from functools import lru_cache

from paperbot.analysis import AnalyzedPaper
from paperbot.errors import InvalidInput
from paperbot.models import MatchField, MatchReason, Paper
from paperbot.query.evaluation import contains
from paperbot.query.nodes import NEAR_WINDOW, And, Near, Node, Not, Or, Text
from paperbot.query.parser import parse
from paperbot.query.reading import EXACT
from paperbot.vocabulary import (
    CONCEPT,
    Vocabulary,
    concept_of,
    curated,
    fold_phrase,
    split_compound,
)

_FIELDS = (MatchField.TITLE, MatchField.KEYWORDS, MatchField.ABSTRACT)


def _texts(node: Node, positive: bool = True) -> Iterator[tuple[Text, bool]]:
    if isinstance(node, Text):
        yield node, positive
    elif isinstance(node, Not):
        yield from _texts(node.child, not positive)
    elif isinstance(node, And | Or | Near):
        for child in node.children:
            yield from _texts(child, positive)


def _nears(node: Node) -> Iterator[Near]:
    if isinstance(node, Near):
        yield node
    elif isinstance(node, Not):
        yield from _nears(node.child)
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _nears(child)


def describe(node: Node) -> str:
    """How `node` was read, where that is not just "these words": empty otherwise."""
    notes: list[str] = []
    for near in _nears(node):
        words = " and ".join(str(child) for child in near.children)
        notes.append(
            f"{words} within {NEAR_WINDOW} words of each other "
            f'(AND between them: anywhere in the paper; "quotes": the exact phrase)'
        )
        if near.aliases:
            notes.append(f"{near} also as its acronym {_written(near.aliases[0][0])}")
    by_concept = curated().by_concept
    for text, _ in _texts(node):
        if text.raw.startswith(EXACT):
            notes.append(f"{text.raw} exactly as written, no expansions")
            continue
        concept = next((a[0] for a in text.alternatives if a[0].startswith(CONCEPT)), None)
        if concept is not None and text.stems[0] == concept:
            spelled = by_concept.get(concept, [])
            if spelled:
                notes.append(f"{text.raw} also as '{spelled[0]}' (={text.raw}: the word only)")
            else:
                notes.append(f"{text.raw} also as what papers define it as")
        elif concept is not None:
            notes.append(f"{text} also as its acronym {_written(concept)}")
        elif len(text.stems) > 1 and len(text.raw.split()) == 1:
            parts = split_compound(text.raw, curated().known)
            if parts:
                notes.append(f"{text.raw} also as '{' '.join(parts)}'")
    return "; ".join(dict.fromkeys(notes))


@lru_cache(maxsize=65536)
def may_expand(query: str) -> bool:
    """Whether `matched_as` can say anything for `query` (a positive leaf carries an acronym's
    concept): parsing depends on the curated table alone, so the answer is kept per text."""
    try:
        node = parse(query)
    except InvalidInput:
        return False
    return any(
        positive and _concept(text) is not None and text.stems[0] == _concept(text)
        for text, positive in _texts(node)
    )


def _concept(text: Text) -> str | None:
    return next((a[0] for a in text.alternatives if a[0].startswith(CONCEPT)), None)


def matched_as(query: str, doc: AnalyzedPaper, vocabulary: Vocabulary | None = None) -> str:
    """ "MoE as 'mixture of experts'" when a stored query matched `doc` through an expansion
    rather than as typed; empty otherwise (or when the query no longer parses)."""
    try:
        node = parse(query)
    except InvalidInput:
        return ""
    vocab = curated() if vocabulary is None else vocabulary
    for text, positive in _texts(node):
        if not positive:
            continue
        concept = next((a[0] for a in text.alternatives if a[0].startswith(CONCEPT)), None)
        if concept is None or text.stems[0] != concept:
            continue
        for written in vocab.by_concept.get(concept, []):
            phrase = fold_phrase(written, vocab.known)
            if any(contains(doc, field, phrase) for field in _FIELDS):
                return f"{text.raw} as '{written}'"
    return ""


def _written(concept: str) -> str:
    """An acronym as the curated table writes it ("MoE" for ~moe)."""
    return next((a for a in curated().expansions if concept_of(a) == concept), concept[1:].upper())


def explain_expansions(
    reasons: dict[str, list[MatchReason]],
    papers: Mapping[str, Paper],
    analyze: Callable[[Paper], AnalyzedPaper],
    vocabulary: Vocabulary,
) -> None:
    """Say how each match was made when it went through an expansion ("MoE as 'mixture of
    experts'"), in place: only for `papers` (those a digest shows), and only where the query
    holds an acronym (the others are not analysed again)."""
    for paper_id, found in reasons.items():
        paper = papers.get(paper_id)
        if paper is None or not any(may_expand(r.subscription) for r in found):
            continue
        doc = analyze(paper)
        found[:] = [replace(r, detail=matched_as(r.subscription, doc, vocabulary)) for r in found]
