"""Subscription quality over the listings paperbot ships (DESIGN §6: recall >= 0.98, no false
positive on the precision traps), beside a word-boundary matcher and a substring matcher
scored in the same run.

    .venv/bin/python benchmarks/subscription_quality.py [--freeze] [--show-misses]

Judgments (benchmarks/data/subscription_judgments.json) are hand-checked patterns over
`paperbot.sources.sample` (the real listings bundled in the package): acronyms and their
expansions both ways, compounds, words typed side by side, and near-miss traps ("RL" in
"world", "RAG" in "leverage"). `--freeze` records each pattern's matches as the judged ids
(after reading them); a normal run warns when a pattern no longer gives the frozen ids.

Also measured (the window of words typed side by side): recall and precision of those
subscriptions at several windows, and as AND (anywhere in the paper), which is what chose
query.NEAR_WINDOW.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import paperbot.query.evaluation as evaluation
from paperbot.analysis import analyze_paper
from paperbot.models import Paper
from paperbot.query import evaluate, parse
from paperbot.sources.sample import sample_papers
from paperbot.vocabulary import curated, mine_pairs

JUDGMENTS = Path(__file__).parent / "data" / "subscription_judgments.json"
TARGET_RECALL = 0.98
Matcher = Callable[[str, Paper], bool]


@dataclass
class Score:
    relevant: int = 0
    found: int = 0
    retrieved: int = 0
    trap_papers: int = 0
    trap_hits: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.relevant if self.relevant else 1.0

    @property
    def precision(self) -> float:
        return self.found / self.retrieved if self.retrieved else 1.0


def text_of(paper: Paper) -> str:
    return f"{paper.title}\n{paper.abstract}"


def _typed_words(query: str) -> tuple[list[str], bool]:
    """The words of a subscription and whether they were quoted (a phrase)."""
    quoted = query.startswith('"') and query.endswith('"')
    return re.findall(r"\w+", query), quoted or len(query.split()) == 1


def word_boundary(query: str, paper: Paper) -> bool:
    """The baseline a user would write: whole words, any case; quoted words in sequence,
    unquoted words anywhere."""
    words, phrase = _typed_words(query)
    text = text_of(paper)
    if phrase:
        pattern = r"\b" + r"\W+".join(map(re.escape, words)) + r"\b"
        return re.search(pattern, text, re.IGNORECASE) is not None
    return all(re.search(rf"\b{re.escape(w)}\b", text, re.IGNORECASE) for w in words)


def substring(query: str, paper: Paper) -> bool:
    """The crudest baseline: the typed text inside the paper's, any case."""
    words, phrase = _typed_words(query)
    text = text_of(paper).lower()
    if phrase:
        return query.strip('"').lower() in text
    return all(w.lower() in text for w in words)


def paperbot_matcher(papers: Sequence[Paper]) -> Matcher:
    """paperbot's subscriptions, with the acronyms mined from these papers learned first (as
    an ingest does)."""
    vocabulary = curated().learn(mine_pairs(text_of(p) for p in papers))
    docs = {p.arxiv_id: analyze_paper(p, vocabulary) for p in papers}
    parsed: dict[str, object] = {}

    def matches(query: str, paper: Paper) -> bool:
        node = parsed.get(query)
        if node is None:
            node = parsed[query] = parse(query)
        return evaluate(node, docs[paper.arxiv_id]).matched  # type: ignore[arg-type]

    return matches


def score(
    entries: list[dict[str, object]], papers: Sequence[Paper], matcher: Matcher
) -> dict[str, Score]:
    """Scores by kind of subscription, and "all"."""
    by_kind: dict[str, Score] = {}
    for entry in entries:
        query = str(entry["query"])
        relevant = set(entry["relevant"])  # type: ignore[call-overload]
        trap = str(entry.get("trap", ""))
        for kind in (str(entry["kind"]), "all"):
            s = by_kind.setdefault(kind, Score())
            for paper in papers:
                hit = matcher(query, paper)
                is_relevant = paper.arxiv_id in relevant
                s.relevant += is_relevant
                s.found += hit and is_relevant
                s.retrieved += hit
                if hit is False and is_relevant and kind != "all":
                    s.misses.append(f"{query}: {paper.title[:70]}")
                if trap and not is_relevant and trap in text_of(paper).lower():
                    s.trap_papers += 1
                    s.trap_hits += hit
    return by_kind


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--freeze", action="store_true", help="record the patterns' matches")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    data = json.loads(JUDGMENTS.read_text())
    entries: list[dict[str, object]] = data["subscriptions"]
    papers = list({p.title: p for p in sample_papers()}.values())  # listings repeat papers
    for entry in entries:
        pattern = re.compile(str(entry["pattern"]))
        found = {p.arxiv_id for p in papers if pattern.search(text_of(p))}
        found |= set(entry.get("also_relevant", []))  # type: ignore[call-overload]
        ids = sorted(found - set(entry.get("not_relevant", [])))  # type: ignore[call-overload]
        if args.freeze:
            entry["relevant"] = ids
        elif ids != entry.get("relevant"):
            print(f"warning: the pattern of {entry['query']} no longer gives its judged ids")
    if args.freeze:
        JUDGMENTS.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"froze {len(entries)} judgments", file=sys.stderr)

    matchers = {
        "paperbot": paperbot_matcher(papers),
        "word boundary": word_boundary,
        "substring": substring,
    }
    results = {name: score(entries, papers, m) for name, m in matchers.items()}
    relevant = sum(len(e["relevant"]) for e in entries)  # type: ignore[arg-type]
    print(f"subscription quality: {len(entries)} subscriptions x {len(papers)} shipped listings,")
    print(f"  {relevant} judged (subscription, paper) matches; target recall >= {TARGET_RECALL}")
    print()
    kinds = ["acronym", "expansion", "compound", "near", "all"]
    print(f"| matcher | {' | '.join(kinds)} | precision (all) | trap false positives |")
    print(f"| --- | {' | '.join('---' for _ in kinds)} | --- | --- |")
    for name, by_kind in results.items():
        cells = [f"R {by_kind[k].recall:.3f}" for k in kinds]
        total = by_kind["all"]
        traps = f"{total.trap_hits} of {total.trap_papers}"
        print(f"| {name} | {' | '.join(cells)} | {total.precision:.3f} | {traps} |")
    ours = results["paperbot"]["all"]
    verdict = "MET" if ours.recall >= TARGET_RECALL and ours.trap_hits == 0 else "MISSED"
    print(
        f"\npaperbot: recall {ours.recall:.3f}, {ours.trap_hits} trap false positives -> {verdict}"
    )
    if args.show_misses:
        for kind in kinds[:-1]:
            for miss in results["paperbot"][kind].misses:
                print(f"  missed ({kind}) {miss}")

    near = [e for e in entries if e["kind"] == "near"]
    print("\nwords typed side by side: the window (query.NEAR_WINDOW) measured")
    print("| window (words apart) | recall | precision | matched |")
    print("| --- | --- | --- | --- |")
    chosen = evaluation.NEAR_WINDOW
    for window in (1, 2, 3, 4, 5, 6, 8, 12, 10_000):
        evaluation.NEAR_WINDOW = window
        s = score(near, papers, paperbot_matcher(papers))["all"]
        shown = "any distance in one field" if window == 10_000 else str(window)
        mark = " (chosen)" if window == chosen else ""
        print(f"| {shown}{mark} | {s.recall:.3f} | {s.precision:.3f} | {s.retrieved} |")
    evaluation.NEAR_WINDOW = chosen


if __name__ == "__main__":
    main()
