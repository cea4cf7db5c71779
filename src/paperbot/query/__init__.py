"""The subscription language: parsed by `parser` into `nodes`, each word read by `reading`
(acronyms, compounds, expansions), evaluated by `evaluation` (the reference semantics the
matching index agrees with) and explained by `explain`. One parser serves subscriptions and
previews, so every place reads a query the same way."""

from paperbot.query.evaluation import (
    SCOPE_FIELDS,
    Verdict,
    contains,
    contains_phrase,
    evaluate,
    has_author,
    near,
)
from paperbot.query.explain import describe, matched_as
from paperbot.query.nodes import (
    NEAR_WINDOW,
    And,
    Author,
    Category,
    MinUpvotes,
    Near,
    Node,
    Not,
    Or,
    Scope,
    Text,
)
from paperbot.query.parser import MAX_CANONICAL, MAX_DEPTH, MAX_LENGTH, MAX_TERMS, parse

__all__ = [
    "MAX_CANONICAL",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_TERMS",
    "NEAR_WINDOW",
    "SCOPE_FIELDS",
    "And",
    "Author",
    "Category",
    "MinUpvotes",
    "Near",
    "Node",
    "Not",
    "Or",
    "Scope",
    "Text",
    "Verdict",
    "contains",
    "contains_phrase",
    "describe",
    "evaluate",
    "has_author",
    "matched_as",
    "near",
    "parse",
]
