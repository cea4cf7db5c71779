"""The nodes of a parsed subscription. `str(node)` writes the canonical form that is stored;
reading it back gives the same tree (a property test holds the parser to that)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# Lowercase operators are operators too: "diffusion or flow" means either, never the word "or",
# which is in almost every abstract anyway. A quoted "or" is still a word.
OPERATORS = {"and": "AND", "or": "OR", "not": "NOT"}
# A word that reads back as the same single word when written without quotes.
_BARE = re.compile(r'[^\s()"\-:][^\s()":]*')
# Unquoted words typed side by side must stand this close: at most this many words apart
# (benchmarks/subscription_quality.py measures the choice on the shipped listings).
NEAR_WINDOW = 5


class Scope(StrEnum):
    ANY = "any"
    TITLE = "title"
    ABSTRACT = "abstract"


Terms = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Text:
    """A word or a phrase (consecutive terms), searched in `scope`. It matches when `stems`
    or one of its `aliases` is there: `MoE` is the concept term ~moe (which papers writing
    MoE, MoEs or "mixture of experts" carry), `KVCache` the phrase "kv cache", and
    "mixture of experts" the phrase or the concept."""

    stems: Terms
    raw: str
    scope: Scope = Scope.ANY
    aliases: tuple[Terms, ...] = ()

    @property
    def alternatives(self) -> tuple[Terms, ...]:
        return (self.stems, *self.aliases)

    def __str__(self) -> str:
        bare = len(self.stems) == 1 and self.raw not in OPERATORS and _BARE.fullmatch(self.raw)
        body = self.raw if bare else f'"{self.raw}"'
        return body if self.scope is Scope.ANY else f"{self.scope}:{body}"


@dataclass(frozen=True, slots=True)
class Author:
    words: tuple[str, ...]
    raw: str

    def __str__(self) -> str:
        return f'author:"{self.raw}"'


@dataclass(frozen=True, slots=True)
class Category:
    """An arXiv category (cs.lg) or a whole archive (cs, hep-th)."""

    name: str

    def __str__(self) -> str:
        return f"cat:{self.name}"


@dataclass(frozen=True, slots=True)
class MinUpvotes:
    count: int

    def __str__(self) -> str:
        return f"upvotes:{self.count}"


@dataclass(frozen=True, slots=True)
class Near:
    """Words typed side by side (`reinforcement learning`): all in one field, at most
    NEAR_WINDOW words apart. `AND` between them keeps "anywhere in the paper"."""

    children: tuple[Text, ...]
    # Typed words that spell a curated expansion ("reinforcement learning") also match its
    # acronym (~rl); derived from the children, so not written out.
    aliases: tuple[Terms, ...] = ()

    def __str__(self) -> str:
        return " ".join(str(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " AND ".join(_wrap(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(_wrap(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class Not:
    child: Node

    def __str__(self) -> str:
        inner = self.child
        return f"NOT ({inner})" if isinstance(inner, And | Or | Near) else f"NOT {inner}"


Node = Text | Author | Category | MinUpvotes | Near | And | Or | Not


def _wrap(node: Node) -> str:
    return f"({node})" if isinstance(node, And | Or) else str(node)
