"""The catch-all guard: a subscription that would match most papers floods every digest of its
channel, so it is refused with the figure and a way to narrow it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from paperbot.analysis import AnalyzedPaper, sample_docs
from paperbot.errors import InvalidInput
from paperbot.query import And, Author, Category, Near, Node, Not, Or, Text, evaluate
from paperbot.text import split_words
from paperbot.vocabulary.stopwords import is_filler

MAX_SHARE = 0.30  # of recent papers; "neural" matches 29 % of the bundled sample, "data" 33 %
MIN_RECENT = 100  # fewer recent papers than this (a young store): judge on the bundled sample
MAX_JUDGED = 1000  # recent papers looked at, evenly spread: a command must answer in a second


def _positive_leaves(node: Node) -> Iterator[Node]:
    """The leaves a match must (or may) show, leaving out what is excluded."""
    if isinstance(node, Not):
        return
    if isinstance(node, And | Or | Near):
        for child in node.children:
            yield from _positive_leaves(child)
        return
    yield node


def refuse_fillers(node: Node) -> None:
    """Refuse a subscription whose every word is a stopword or a single letter ('the', 'a',
    '[a-'): whatever it is combined with, it says nothing about a topic."""
    leaves = list(_positive_leaves(node))
    texts = [leaf for leaf in leaves if isinstance(leaf, Text)]
    if not texts or len(texts) != len(leaves):
        return
    if all(all(is_filler(w) for w in split_words(t.raw.lstrip("="))) for t in texts):
        shown = " ".join(t.raw for t in texts)
        raise InvalidInput(
            f"'{shown}' is only common words, which nearly every paper has: follow a topic "
            'instead (like diffusion or "world model")'
        )


def refuse_broad(node: Node, recent: Sequence[AnalyzedPaper]) -> None:
    """Refuse a subscription matching more than MAX_SHARE of `recent` papers (the bundled
    sample when fewer than MIN_RECENT are given). Filters on a category or an author are a
    channel's deliberate choice ("all of cs.RO") and are not judged."""
    if any(isinstance(leaf, Category | Author) for leaf in _positive_leaves(node)):
        return
    docs = recent if len(recent) >= MIN_RECENT else sample_docs()
    if not docs:
        return
    matched = sum(1 for doc in docs if evaluate(node, doc).matched)
    share = matched / len(docs)
    if share > MAX_SHARE:
        where = "recent papers" if docs is recent else "the bundled sample of recent papers"
        raise InvalidInput(
            f"{node} would match {share:.0%} of {where} ({matched} of {len(docs)}), so every "
            f'digest would be full of it; narrow it with a second word or a "quoted phrase" '
            f"(at most {MAX_SHARE:.0%} is accepted)"
        )
