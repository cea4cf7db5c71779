"""Search quality, known-item: does `/papers search` put the paper a researcher remembers first?

    .venv/bin/python benchmarks/search_quality.py [--seed 2] [--show-misses 0] [--write FILE]

The papers are the real listings paperbot bundles (`paperbot.sources.sample.sample_papers()`,
derived from the shared listings by scripts/derive_sample_data.py). For each paper, queries
are made the way people remember a paper, drawn with a seed:

- title: 3-4 distinctive words of its title (content words, rarer ones likelier), in order;
- abstract: 3-5 distinctive words of one sentence of its abstract, in order;
- plural: a title or abstract query with one word's number changed (model <-> models);
- typo: a title or abstract query with one word of 5+ letters mistyped (a letter dropped,
  doubled, swapped with the next, or replaced by a neighbouring key).

Both engines search the same papers in the same run: paperbot's SearchIndex (as
`/papers search` runs it) and SQLite FTS5 with the porter tokenizer, the AND of the words and
bm25 with the title weighted (3:1), the engine a user would otherwise pick. Printed per kind
and engine: top-1, top-3 and MRR (over the first 10 results). The ranking was tuned on seed 1;
the default seed 2 is held out. No test asserts on these queries.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from paperbot.models import Paper
from paperbot.search import SearchIndex, analysis, parse_search
from paperbot.search import plan as search_plan
from paperbot.search.plan import STOPWORDS
from paperbot.sources.sample import sample_papers
from paperbot.text import stem

KINDS = ("title", "abstract", "plural", "typo")
DEPTH = 10
IDF_POWER = 1.0  # how strongly people remember rare words (--rarity; 0: any content word)
FTS_TITLE_WEIGHT = 3.0
COMBINED_TITLE_BOOST = 2.0  # the title field's boost in the "combined" formula, as tuned before
_WORD = re.compile(r"[A-Za-z][A-Za-z\-]*[A-Za-z]|[A-Za-z]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# Words a person does not remember a paper by, beyond the index's own stopwords.
_VAGUE = frozenset(
    (
        *("also", "both", "can", "not", "such", "these", "than", "then", "they", "using"),
        *("propose", "paper", "work", "results", "based", "new", "via", "however", "while"),
        *("this", "that", "which", "where", "when", "more", "most", "well", "each", "many"),
        "show",
    )
)
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


@dataclass(frozen=True, slots=True)
class Query:
    kind: str
    text: str
    target: str


def content_words(text: str) -> list[str]:
    found = []
    for word in _WORD.findall(text):
        lower = word.lower()
        if len(lower) < 3 or lower in _VAGUE or stem(lower) in STOPWORDS:
            continue
        found.append(word)
    return found


def distinctive(
    words: list[str], count: int, idf: Callable[[str], float], rng: random.Random
) -> list[str]:
    """`count` distinct words, rarer ones likelier (weight idf^2), kept in their order."""
    unique = list(dict.fromkeys(words))
    if len(unique) < count:
        return []
    chosen: set[int] = set()
    weights = [idf(w) ** IDF_POWER for w in unique]
    while len(chosen) < count:
        pick = rng.choices(range(len(unique)), weights=weights)[0]
        chosen.add(pick)
        weights[pick] = 0.0
    return [unique[i] for i in sorted(chosen)]


def plural_variant(words: list[str], rng: random.Random) -> list[str] | None:
    candidates = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 4]
    if not candidates:
        return None
    i = rng.choice(candidates)
    word = words[i]
    if word.endswith("ies"):
        changed = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith("ss"):
        changed = word[:-1]
    elif word.endswith("y") and word[-2:-1] not in "aeiou":
        changed = word[:-1] + "ies"
    else:
        changed = word + ("es" if word.endswith(("ch", "sh", "x", "ss")) else "s")
    return [*words[:i], changed, *words[i + 1 :]]


def typo_variant(words: list[str], rng: random.Random) -> list[str] | None:
    candidates = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 5]
    if not candidates:
        return None
    i = rng.choice(candidates)
    word = words[i].lower()
    at = rng.randrange(1, len(word) - 1)  # people keep the first letter
    how = rng.choice(("drop", "double", "swap", "neighbour"))
    if how == "drop":
        changed = word[:at] + word[at + 1 :]
    elif how == "double":
        changed = word[:at] + word[at] + word[at:]
    elif how == "swap":
        changed = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    else:
        row = next((r for r in _KEYBOARD if word[at] in r), None)
        if row is None:
            return None
        k = row.index(word[at])
        near = [row[j] for j in (k - 1, k + 1) if 0 <= j < len(row)]
        changed = word[:at] + rng.choice(near) + word[at + 1 :]
    if changed == word:
        return None
    return [*words[:i], changed, *words[i + 1 :]]


def make_queries(papers: Sequence[Paper], seed: int) -> list[Query]:
    rng = random.Random(seed)
    df: Counter[str] = Counter()
    for paper in papers:
        df.update({stem(w.lower()) for w in content_words(f"{paper.title} {paper.abstract}")})

    def idf(word: str) -> float:
        return math.log((len(papers) + 1) / (df[stem(word.lower())] + 0.5))

    queries: list[Query] = []
    for paper in papers:
        title = distinctive(content_words(paper.title), rng.choice((3, 4)), idf, rng)
        sentences = [s for s in _SENTENCE.split(paper.abstract) if len(content_words(s)) >= 6]
        abstract = []
        if sentences:
            sentence = rng.choice(sentences)
            abstract = distinctive(content_words(sentence), rng.randint(3, 5), idf, rng)
        if title:
            queries.append(Query("title", " ".join(title), paper.arxiv_id))
        if abstract:
            queries.append(Query("abstract", " ".join(abstract), paper.arxiv_id))
        base = [words for words in (title, abstract) if words]
        if not base:
            continue
        plural = plural_variant(rng.choice(base), rng)
        if plural:
            queries.append(Query("plural", " ".join(plural), paper.arxiv_id))
        typo = typo_variant(rng.choice(base), rng)
        if typo:
            queries.append(Query("typo", " ".join(typo), paper.arxiv_id))
    return queries


@dataclass(frozen=True, slots=True)
class Formula:
    """How title and abstract score together: `title_copies` of the title in the combined
    text field (1: a combined field; more: BM25F-style, the title's words counted that many
    times in one saturation and length norm), plus `title_boost` x the title field's BM25."""

    name: str
    title_copies: int
    title_boost: float

    @classmethod
    def parse(cls, spec: str) -> Formula:
        """`shipped` (what paperbot does), `combined` (one title copy + the title field's
        BM25 x 2), or `bm25f:W` (W title copies, no title term score)."""
        if spec == "shipped":
            return cls("shipped", analysis.TITLE_COPIES, search_plan.TITLE_BOOST)
        if spec == "combined":
            return cls("combined", 1, COMBINED_TITLE_BOOST)
        kind, _, weight = spec.partition(":")
        if kind != "bm25f" or not weight.isdigit() or int(weight) < 1:
            raise argparse.ArgumentTypeError(f"formula {spec!r}: shipped, combined or bm25f:W")
        return cls(f"bm25f w={weight}", int(weight), 0.0)

    def apply(self) -> None:
        analysis.TITLE_COPIES = self.title_copies
        search_plan.TITLE_BOOST = self.title_boost


class Paperbot:
    def __init__(self, papers: Sequence[Paper], formula: Formula) -> None:
        self.formula = formula
        self.name = "paperbot" if formula.name == "shipped" else f"paperbot {formula.name}"
        formula.apply()
        self.index = SearchIndex.open(None)
        self.index.index_papers(papers)

    def search(self, text: str) -> list[str]:
        self.formula.apply()  # the engines run one after the other, in one process
        return [hit.arxiv_id for hit in self.index.search(parse_search(text), DEPTH)]


class Fts5:
    name = "SQLite FTS5"

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute(
            "CREATE VIRTUAL TABLE papers USING fts5("
            "arxiv_id UNINDEXED, title, abstract, tokenize = 'porter unicode61')"
        )
        self.db.executemany(
            "INSERT INTO papers VALUES (?, ?, ?)",
            [(p.arxiv_id, p.title, p.abstract) for p in papers],
        )

    def search(self, text: str) -> list[str]:
        words = re.findall(r"\w+", text)
        if not words:
            return []
        match = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = self.db.execute(
            "SELECT arxiv_id FROM papers WHERE papers MATCH ? "
            f"ORDER BY bm25(papers, 0.0, {FTS_TITLE_WEIGHT}, 1.0) LIMIT {DEPTH}",
            (match,),
        )
        return [row[0] for row in rows]


@dataclass(slots=True)
class Score:
    queries: int = 0
    top1: int = 0
    top3: int = 0
    reciprocal: float = 0.0

    def add(self, rank: int | None) -> None:
        self.queries += 1
        if rank is not None:
            self.top1 += rank == 1
            self.top3 += rank <= 3
            self.reciprocal += 1.0 / rank

    @property
    def mrr(self) -> float:
        return self.reciprocal / self.queries if self.queries else 0.0


def evaluate(engine: Paperbot | Fts5, queries: Sequence[Query], misses: int) -> dict[str, Score]:
    scores = {kind: Score() for kind in (*KINDS, "all")}
    shown = 0
    for query in queries:
        found = engine.search(query.text)
        rank = found.index(query.target) + 1 if query.target in found else None
        scores[query.kind].add(rank)
        scores["all"].add(rank)
        if rank != 1 and shown < misses:
            shown += 1
            print(
                f"  miss {engine.name} [{query.kind}] {query.text!r}: rank {rank}", file=sys.stderr
            )
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seed", type=int, default=2, help="1 was used for tuning; 2 is held out")
    parser.add_argument("--show-misses", type=int, default=0, help="print this many misses")
    parser.add_argument("--write", type=Path, help="also write the queries as JSON here")
    parser.add_argument(
        "--rarity", type=float, default=IDF_POWER, help="word weight idf^R (0: any content word)"
    )
    parser.add_argument(
        "--formulas",
        default="shipped",
        help="comma-separated: shipped (what paperbot does), combined (title + abstract as one "
        "field, plus the title field's own BM25 x 2), bm25f:W (BM25F-style: the title W times "
        "in that field, no title term score)",
    )
    args = parser.parse_args()
    globals()["IDF_POWER"] = args.rarity
    formulas = [Formula.parse(spec) for spec in args.formulas.split(",")]

    papers = list({p.arxiv_id: p for p in sample_papers()}.values())
    queries = make_queries(papers, args.seed)
    if args.write:
        args.write.write_text(json.dumps([q.__dict__ for q in queries], indent=1) + "\n")
    engines: list[Paperbot | Fts5] = [Paperbot(papers, formula) for formula in formulas]
    engines.append(Fts5(papers))
    results = {engine.name: evaluate(engine, queries, args.show_misses) for engine in engines}

    print(
        f"known-item search over {len(papers)} real papers, seed {args.seed}, "
        f"rarity {args.rarity:g}, top {DEPTH}"
    )
    width = max(len(engine.name) for engine in engines) + 1
    print(f"{'kind':<10}{'queries':>8}  {'engine':<{width}}{'top-1':>12}{'top-3':>12}{'MRR':>8}")
    for kind in (*KINDS, "all"):
        for name, scores in results.items():
            s = scores[kind]
            print(
                f"{kind:<10}{s.queries:>8}  {name:<{width}}"
                f"{s.top1:>5} {s.top1 / s.queries:>5.1%}{s.top3:>6} {s.top3 / s.queries:>5.1%}"
                f"{s.mrr:>8.4f}"
            )
    fts = results["SQLite FTS5"]
    for engine in engines[:-1]:
        ours = results[engine.name]
        ahead = (
            all(ours[k].top1 >= fts[k].top1 and ours[k].top3 >= fts[k].top3 for k in KINDS)
            and ours["all"].mrr > fts["all"].mrr
        )
        verdict = "MET" if ahead else "MISSED"
        print(f"{engine.name} at least FTS5 on every kind and a higher MRR: {verdict}")


if __name__ == "__main__":
    main()
