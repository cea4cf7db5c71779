"""The reference semantics of a parsed subscription over an analysed paper; the subscription
index (paperbot.matching) compiles queries to agree with it exactly."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from paperbot.analysis import AnalyzedPaper
from paperbot.models import MatchField
from paperbot.query.nodes import (
    NEAR_WINDOW,
    And,
    Author,
    Category,
    MinUpvotes,
    Near,
    Node,
    Not,
    Scope,
    Terms,
    Text,
)

SCOPE_FIELDS = {
    Scope.ANY: (MatchField.TITLE, MatchField.KEYWORDS, MatchField.ABSTRACT),
    Scope.TITLE: (MatchField.TITLE,),
    Scope.ABSTRACT: (MatchField.ABSTRACT,),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a query matched, and the strongest field that gave positive evidence."""

    matched: bool
    field: MatchField | None = None


_NO = Verdict(False)
_YES = Verdict(True)


def evaluate(node: Node, doc: AnalyzedPaper) -> Verdict:
    """The reference semantics; matching.SubscriptionIndex compiles queries to agree with it."""
    if isinstance(node, Text):
        for field in SCOPE_FIELDS[node.scope]:
            if any(contains(doc, field, alternative) for alternative in node.alternatives):
                return Verdict(True, field)
        return _NO
    if isinstance(node, Near):
        for field in SCOPE_FIELDS[node.children[0].scope]:
            if any(contains(doc, field, a) for a in node.aliases) or near(
                doc, field, node.children
            ):
                return Verdict(True, field)
        return _NO
    if isinstance(node, Author):
        return Verdict(True, MatchField.AUTHOR) if has_author(doc, node.words) else _NO
    if isinstance(node, Category):
        return Verdict(True, MatchField.CATEGORY) if node.name in doc.category_set else _NO
    if isinstance(node, MinUpvotes):
        return _YES if doc.upvotes >= node.count else _NO
    if isinstance(node, Not):
        return _NO if evaluate(node.child, doc).matched else _YES
    if isinstance(node, And):
        best: MatchField | None = None
        for child in node.children:
            verdict = evaluate(child, doc)
            if not verdict.matched:
                return _NO
            best = _stronger(best, verdict.field)
        return Verdict(True, best)
    best = None
    matched = False
    for child in node.children:
        verdict = evaluate(child, doc)
        if verdict.matched:
            matched = True
            best = _stronger(best, verdict.field)
    return Verdict(matched, best)


def _stronger(a: MatchField | None, b: MatchField | None) -> MatchField | None:
    if a is None or b is None:
        return a or b
    return a if a.weight >= b.weight else b


def contains(doc: AnalyzedPaper, field: MatchField, phrase: tuple[str, ...]) -> bool:
    """Whether `field` of `doc` holds the terms of `phrase` consecutively."""
    if field is MatchField.TITLE:
        terms, sequence = doc.title_terms, doc.title
    elif field is MatchField.KEYWORDS:
        terms, sequence = doc.keyword_terms, doc.keywords
    else:
        terms, sequence = doc.abstract_terms, doc.abstract
    if len(phrase) == 1:
        return phrase[0] in terms
    # Every word present first (set lookups), then the words' order in the text: most papers
    # lack a word. A set of the text's pairs would answer in one lookup, but building one
    # costs more than a thousand lookups, and these are papers a query meets once (a new
    # subscription's look back, the catch-all guard's sample).
    return all(term in terms for term in phrase) and contains_phrase(sequence, phrase)


def has_author(doc: AnalyzedPaper, words: tuple[str, ...]) -> bool:
    if len(words) == 1:
        return words[0] in doc.author_words
    return all(w in doc.author_words for w in words) and any(
        contains_phrase(author, words) for author in doc.authors
    )


def contains_phrase(sequence: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    first = phrase[0]
    size = len(phrase)
    start = 0
    while True:
        try:
            at = sequence.index(first, start)
        except ValueError:
            return False
        if sequence[at : at + size] == phrase:
            return True
        start = at + 1


_FIELD_NAMES = {MatchField.TITLE: "title", MatchField.KEYWORDS: "keywords"}
_TERMS_OF = {
    MatchField.TITLE: attrgetter("title_terms"),
    MatchField.KEYWORDS: attrgetter("keyword_terms"),
    MatchField.ABSTRACT: attrgetter("abstract_terms"),
}


def near(doc: AnalyzedPaper, field: MatchField, children: tuple[Text, ...]) -> bool:
    """Whether every child is in `field` with all of them at most NEAR_WINDOW words apart."""
    name = _FIELD_NAMES.get(field, "abstract")
    # Presence first, by set lookups: most calls end here, before any position is sought.
    terms = _TERMS_OF[field](doc)
    for child in children:
        if not any(alternative[0] in terms for alternative in child.alternatives):
            return False
    found: list[list[int]] = []
    for child in children:
        if child.aliases:
            positions = [p for alt in child.alternatives for p in starts(doc, name, alt)]
        else:
            positions = starts(doc, name, child.stems)
        if not positions:
            return False
        found.append(positions)
    if len(found) == 2:  # most: two words; their few positions, compared pairwise
        window = NEAR_WINDOW
        return any(abs(a - b) <= window for a in found[0] for b in found[1])
    return within(found, NEAR_WINDOW)


def starts(doc: AnalyzedPaper, name: str, phrase: Terms) -> list[int]:
    """Where `phrase` starts in a text field (a one-term phrase may be an alias)."""
    if len(phrase) == 1:
        return doc.positions(name, phrase[0])
    sequence, _ = doc.sequence(name)
    size = len(phrase)
    return [p for p in doc.positions(name, phrase[0]) if sequence[p : p + size] == phrase]


def within(positions: list[list[int]], window: int) -> bool:
    """Whether one position can be picked from each list, all at most `window` apart: the
    smallest range covering every list, by a sweep over the merged positions."""
    if len(positions) == 1:
        return True
    merged = sorted((p, i) for i, ps in enumerate(positions) for p in ps)
    need = len(positions)
    counts = [0] * need
    covered = 0
    left = 0
    for right, (position, owner) in enumerate(merged):
        if counts[owner] == 0:
            covered += 1
        counts[owner] += 1
        while covered == need:
            start, first = merged[left]
            if position - start <= window:
                return True
            counts[first] -= 1
            if counts[first] == 0:
                covered -= 1
            left += 1
        del right
    return False
