"""Reading a subscription: words, "phrases", AND/OR/NOT (or -term), parentheses and the fields
title:, abstract:, author:, cat: and upvotes:N, also over a group (title:(a OR b)). Words typed
side by side must be near each other (see nodes.Near); `AND` keeps "anywhere".

How a word is read (see `reading`): an acronym (`MoE`) as its concept, a compound (`KVCache`)
as its parts, a curated expansion ("mixture of experts") as the phrase or its acronym, and a
word written `=MoE` exactly as written, nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from paperbot.errors import InvalidInput
from paperbot.query.nodes import (
    OPERATORS,
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
from paperbot.query.reading import read_text
from paperbot.text import fold_name, meaning_changer, split_words, strip_invisible
from paperbot.vocabulary import curated

MAX_TERMS = 20
MAX_DEPTH = 8
MAX_LENGTH = 1000  # characters typed: bounds the parser's work on hostile input
MAX_CANONICAL = 200  # characters written out: what the subscriptions table holds
_FIELDS = ("title", "abstract", "author", "cat", "upvotes")
_OPERATORS = OPERATORS
_CATEGORY = re.compile(r"([a-z][a-z\-]*)(\.[a-z\-]+)?")
# arXiv archives, current and retired (old-style ids like hep-th/9901001 carry them).
# fmt: off
_ARCHIVES = frozenset((
    "acc-phys", "adap-org", "alg-geom", "ao-sci", "astro-ph", "atom-ph", "bayes-an", "chao-dyn",
    "chem-ph", "cmp-lg", "comp-gas", "cond-mat", "cs", "dg-ga", "econ", "eess", "funct-an",
    "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math", "math-ph", "mtrl-th", "nlin",
    "nucl-ex", "nucl-th", "patt-sol", "physics", "plasm-ph", "q-alg", "q-bio", "q-fin",
    "quant-ph", "solv-int", "stat", "supr-con",
))
# fmt: on
_EDGES = re.compile(r"^[^\w\"]+|[^\w\"]+$")  # punctuation around a word, left out of suggestions


# --- parsing -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<field>[A-Za-z]+):(?P<fvalue>"[^"]*"?|[^\s()"]*)
  | (?P<phrase>"[^"]*"?)
  | (?P<minus>-(?=[^\s\-]))
  | (?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    value: str
    field: str = ""
    at: int = 0
    end: int = 0


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or ""
        if kind == "space":
            continue
        if kind == "fvalue":  # the named group inside `field`
            kind = "field"
        if kind == "field":
            name = m.group("field").lower()
            if name not in _FIELDS:
                raise InvalidInput(
                    f"unknown field '{name}:' at position {m.start() + 1} "
                    "(fields: title:, abstract:, author:, cat:, upvotes:)"
                )
            tokens.append(_Tok("field", m.group("fvalue"), name, m.start(), m.end()))
        elif kind == "word" and m.group().lower() in _OPERATORS:
            operator = _OPERATORS[m.group().lower()]
            tokens.append(_Tok(operator, m.group(), at=m.start(), end=m.end()))
        else:
            tokens.append(_Tok(kind, m.group(), at=m.start(), end=m.end()))
    return tokens


class _Parser:
    """Recursive descent: OR binds loosest, then AND (or juxtaposition), then NOT / -."""

    def __init__(self, text: str) -> None:
        shown = " ".join(text.split())
        self.text = shown if len(shown) <= 40 else shown[:40] + "…"
        self.tokens = _tokenize(text)
        self.pos = 0
        self.terms = 0
        self.group_field: str | None = None  # inside title:( ... ) and the like
        self.starts: dict[int, int] = {}  # id(node) -> position, for pointing at a problem

    def parse(self) -> Node:
        if not self.tokens:
            raise InvalidInput("the query is empty")
        node = self._or(0)
        if self.pos < len(self.tokens):
            tok = self.tokens[self.pos]
            raise InvalidInput(f"unexpected '{tok.value}' at position {tok.at + 1}")
        return node

    def _peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _or(self, depth: int) -> Node:
        children = [self._and(depth)]
        while (tok := self._peek()) is not None and tok.kind == "OR":
            self.pos += 1
            children.append(self._and(depth))
        return children[0] if len(children) == 1 else self._at(Or(tuple(children)), children[0])

    def _and(self, depth: int) -> Node:
        # Runs of words typed side by side (no AND between them, one scope) become a Near.
        runs: list[list[Node]] = [[self._unary(depth)]]
        while (tok := self._peek()) is not None and tok.kind not in ("OR", "rparen"):
            explicit = tok.kind == "AND"
            if explicit:
                self.pos += 1
            node = self._unary(depth)
            last = runs[-1][-1]
            if (
                not explicit
                and isinstance(node, Text)
                and isinstance(last, Text)
                and node.scope is last.scope
            ):
                runs[-1].append(node)
            else:
                runs.append([node])
        children = [run[0] if len(run) == 1 else self._at(_near(run), run[0]) for run in runs]
        return children[0] if len(children) == 1 else self._at(And(tuple(children)), children[0])

    def _unary(self, depth: int) -> Node:
        # Iterative, so a long run of NOTs cannot exhaust the stack.
        first = self._peek()
        negations = 0
        while (tok := self._peek()) is not None and tok.kind in ("NOT", "minus"):
            self.pos += 1
            negations += 1
        node = self._primary(depth)
        for _ in range(negations):
            node = Not(node)
        return self._at(node, first) if negations and first is not None else node

    def _primary(self, depth: int) -> Node:
        tok = self._peek()
        if tok is None:
            raise InvalidInput("the query ends where a term was expected")
        self.pos += 1
        if tok.kind == "lparen":
            return self._group(tok, depth)
        if tok.kind == "rparen":
            raise InvalidInput(f"unmatched ')' at position {tok.at + 1}")
        if tok.kind in ("AND", "OR"):
            raise InvalidInput(f"'{tok.value}' at position {tok.at + 1} needs a term before it")
        if tok.kind == "field":
            if self.group_field is not None:
                raise InvalidInput(
                    f"'{tok.field}:' at position {tok.at + 1} cannot go inside "
                    f"'{self.group_field}:( )'"
                )
            following = self._peek()
            if (
                not tok.value
                and following is not None
                and following.kind == "lparen"
                and following.at == tok.end
            ):
                return self._field_group(tok, depth)
            self._count_term(tok)
            return self._at(self._field(tok.field, _unquote(tok), tok), tok)
        self._count_term(tok)
        if self.group_field is not None:
            return self._at(self._field(self.group_field, _unquote(tok), tok), tok)
        return self._at(self._text(_unquote(tok), Scope.ANY, tok), tok)

    def _group(self, opening: _Tok, depth: int) -> Node:
        if depth >= MAX_DEPTH:
            raise InvalidInput(f"too many nested parentheses (at most {MAX_DEPTH})")
        inner = self._peek()
        if inner is not None and inner.kind == "rparen":
            raise InvalidInput(f"empty parentheses at position {opening.at + 1}")
        node = self._or(depth + 1)
        closing = self._peek()
        if closing is None or closing.kind != "rparen":
            raise InvalidInput(f"missing ')' for the '(' at position {opening.at + 1}")
        self.pos += 1
        return node

    def _field_group(self, tok: _Tok, depth: int) -> Node:
        """`title:(a OR "b c")`: the field applies to every word and phrase inside."""
        if tok.field == "upvotes":
            raise InvalidInput(f"upvotes: at position {tok.at + 1} takes a number, not a group")
        opening = self.tokens[self.pos]
        self.pos += 1
        self.group_field = tok.field
        try:
            node = self._group(opening, depth)
        finally:
            self.group_field = None
        return self._at(node, tok)

    def _at(self, node: Node, where: _Tok | Node) -> Node:
        self.starts[id(node)] = (
            where.at if isinstance(where, _Tok) else self.starts.get(id(where), 0)
        )
        return node

    def _count_term(self, tok: _Tok) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise InvalidInput(f"too many terms (at most {MAX_TERMS}) at position {tok.at + 1}")

    def _text(self, raw: str, scope: Scope, tok: _Tok) -> Text:
        read = read_text(raw, scope)
        if read is None:
            raise InvalidInput(self._no_words(tok))
        return read

    def _field(self, name: str, value: str, tok: _Tok) -> Node:
        where = f"at position {tok.at + 1}"
        if not value.strip():
            raise InvalidInput(f"'{name}:' {where} needs a value right after it, like {name}:x")
        if name in ("title", "abstract"):
            return self._text(value, Scope(name), tok)
        if name == "author":
            words = fold_name(value)
            if not words:
                raise InvalidInput(f"no name in 'author:' {where}")
            return Author(tuple(words), " ".join(value.split()))
        if name == "cat":
            category = value.strip().lower()
            shape = _CATEGORY.fullmatch(category)
            if shape is None or shape.group(1) not in _ARCHIVES:
                raise InvalidInput(f"'{value}' {where} is not an arXiv category (like cs.LG)")
            return Category(category)
        digits = value.strip().removeprefix(">=")
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 6:
            raise InvalidInput(f"upvotes: {where} takes a whole number, got '{value}'")
        return MinUpvotes(int(digits))

    def _no_words(self, tok: _Tok) -> str:
        """Why a token is refused, and what would be accepted instead."""
        wordy = [
            _EDGES.sub("", t.value)
            for t in self.tokens
            if t.kind in ("word", "phrase") and any(len(w) > 1 for w in split_words(t.value))
        ]
        if not wordy:
            return (
                f"'{self.text}' has no words to match: subscriptions are words and phrases "
                '(like diffusion or "world model")'
            )
        return (
            f"'{tok.value}' at position {tok.at + 1} has no words to match: subscriptions are "
            f"words and phrases; leave it out (like: {' '.join(wordy[:4])})"
        )

    def check(self, node: Node) -> None:
        """Refuse trees that parse but would misbehave as subscriptions."""
        vague = _vague_part(node)
        if vague is not None:
            where = (
                "the query"
                if vague is node
                else f"the OR branch at position {self.starts.get(id(vague), 0) + 1}"
            )
            raise InvalidInput(
                f"{where} would match almost any paper; give it a term papers must contain "
                "(like: diffusion -survey)"
            )
        if _printed_depth(node) > MAX_DEPTH:
            raise InvalidInput(f"too many nested parentheses (at most {MAX_DEPTH})")
        written = len(str(node))
        if written > MAX_CANONICAL:
            raise InvalidInput(
                f"the query is too long written out ({written} characters, at most {MAX_CANONICAL})"
            )


def _near(run: list[Node]) -> Near:
    texts = tuple(node for node in run if isinstance(node, Text))
    spelled = tuple(t for text in texts for t in text.stems)
    concept = curated().concept_of_phrase(spelled) if all(not t.aliases for t in texts) else None
    return Near(texts, ((concept,),) if concept else ())


def _unquote(tok: _Tok) -> str:
    value = tok.value
    if value.startswith('"'):
        if len(value) == 1 or not value.endswith('"'):
            raise InvalidInput(f"missing closing quote for the one at position {tok.at + 1}")
        return value[1:-1]
    return value


def _positive(node: Node) -> bool:
    """Whether a match needs some evidence a paper must have (not just absences)."""
    if isinstance(node, Not):
        return False
    if isinstance(node, MinUpvotes):
        return node.count > 0
    if isinstance(node, And):
        return any(_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(_positive(c) for c in node.children)
    return True


def _vague_part(node: Node) -> Node | None:
    """The part that makes the query match almost everything, or None when it is specific."""
    if _positive(node):
        return None
    if isinstance(node, Or):
        return next(c for c in node.children if not _positive(c))
    return node


def _printed_depth(node: Node) -> int:
    """How deeply `str(node)` nests parentheses, so the canonical form always parses back."""
    if isinstance(node, Not):
        return _printed_depth(node.child) + isinstance(node.child, And | Or)
    if isinstance(node, And | Or):
        return max(_printed_depth(c) + isinstance(c, And | Or) for c in node.children)
    return 0


def parse(text: str) -> Node:
    """Parse a subscription; raise InvalidInput with a one-line reason pointing at the problem."""
    if len(text) > MAX_LENGTH:
        raise InvalidInput(f"the query is too long ({len(text)} characters, at most {MAX_LENGTH})")
    text = strip_invisible(text)
    changer = meaning_changer(text)
    if changer is not None:
        raise InvalidInput(f"the query contains {changer}; please retype it without it")
    parser = _Parser(text)
    node = parser.parse()
    parser.check(node)
    return node
