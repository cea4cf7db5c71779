"""`/papers like` quality: are the papers it lists beside a paper about the same thing?

    .venv/bin/python benchmarks/like_quality.py [--synthetic 20000] [--seed 1] [--depth 5]

Two ways of finding the papers most like one, in the same run:
- the search engine's more-like-this (`SearchIndex.similar`, tantivy, over every indexed paper):
  what `/papers like` uses;
- cosine over TF-IDF vectors of the taste features (title words twice, abstract words, word
  pairs, keywords and categories, hashed; IDF over the pool) among the 5,000 latest papers: what
  `/papers like` used before (its code is kept here as the baseline);
and, as the floor, papers drawn at random.

Judged two ways:
- real listings (the ~360 papers paperbot bundles) with the hand-checked topics of
  data/subscription_judgments.json: for every paper of a topic with at least 5 papers, the
  share of its `--depth` most similar papers that are of the same topic (precision@depth),
  averaged per topic, then over topics (macro) and over papers (micro);
- synthetic papers (corpus.py; abstracts are random real sentences, so a field is the only
  thing papers share): the share of neighbours of the same field and of the same primary
  category, for `--probes` papers drawn with `--seed`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from corpus import FIELDS, synthetic_papers
from paperbot.models import Paper
from paperbot.search import SearchIndex
from paperbot.sources.sample import sample_papers
from paperbot.taste.features import vectorize

JUDGMENTS = Path(__file__).parent / "data" / "subscription_judgments.json"
TFIDF_POOL = 5000
MIN_TOPIC = 5
Finder = Callable[[Paper, int], list[str]]


def progress(message: str) -> None:
    print(f"[like_quality] {message}", file=sys.stderr, flush=True)


def tf_idf(rows: sparse.csr_matrix) -> sparse.csr_matrix:
    """Hashed term frequencies reweighted by inverse document frequency over these rows."""
    present = rows.copy()
    present.data[:] = 1
    df = np.asarray(present.sum(axis=0)).ravel()
    idf = np.log((1 + rows.shape[0]) / (1 + df)) + 1
    weighted = rows.multiply(idf.astype(np.float32)).tocsr()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    scaled: sparse.csr_matrix = sparse.diags(1.0 / norms).dot(weighted).tocsr()
    return scaled


def tfidf_finder(papers: Sequence[Paper]) -> Finder:
    """The former `/papers like`: the 5,000 latest papers, cosine over their TF-IDF rows (the
    pool's IDF, computed once here: the bot recomputed it per command over the same pool)."""
    pool = list(papers)[-TFIDF_POOL:]
    weighted = tf_idf(vectorize(pool))
    where = {p.arxiv_id: n for n, p in enumerate(pool)}

    def find(paper: Paper, depth: int) -> list[str]:
        row = weighted[where[paper.arxiv_id]] if paper.arxiv_id in where else None
        if row is None:
            return []
        similarity = np.asarray((weighted @ row.T).todense()).ravel()
        similarity[where[paper.arxiv_id]] = -1
        order = np.argsort(-similarity, kind="stable")[:depth]
        return [pool[int(i)].arxiv_id for i in order if similarity[int(i)] > 0]

    return find


def mlt_finder(papers: Sequence[Paper]) -> tuple[Finder, SearchIndex]:
    index = SearchIndex.open(None)
    index.index_papers(list(papers))

    def find(paper: Paper, depth: int) -> list[str]:
        return [hit.arxiv_id for hit in index.similar(paper, depth)]

    return find, index


def random_finder(papers: Sequence[Paper], seed: int) -> Finder:
    rng = random.Random(seed)
    ids = [p.arxiv_id for p in papers]

    def find(paper: Paper, depth: int) -> list[str]:
        return [i for i in rng.sample(ids, depth + 1) if i != paper.arxiv_id][:depth]

    return find


def topics(papers: Sequence[Paper]) -> dict[str, set[str]]:
    """Hand-checked topics: each distinct relevant set of the judgments, named by its query."""
    data = json.loads(JUDGMENTS.read_text())
    known = {p.arxiv_id for p in papers}
    out: dict[str, set[str]] = {}
    seen: set[frozenset[str]] = set()
    for judged in data["subscriptions"]:
        relevant = frozenset(judged["relevant"]) & known
        if len(relevant) >= MIN_TOPIC and relevant not in seen:
            seen.add(relevant)
            out[judged["query"]] = set(relevant)
    return out


def real_listings(finders: dict[str, Finder], papers: Sequence[Paper], depth: int) -> None:
    by_id = {p.arxiv_id: p for p in papers}
    found = topics(papers)
    print(
        f"\nreal listings: {len(papers)} papers, {len(found)} hand-checked topics of "
        f">= {MIN_TOPIC} papers; precision@{depth} of a topic paper's neighbours being of it"
    )
    print(f"  {'topic':<28} {'papers':>6} " + " ".join(f"{name:>14}" for name in finders))
    macro: dict[str, list[float]] = {name: [] for name in finders}
    micro: dict[str, list[float]] = {name: [] for name in finders}
    for name, members in sorted(found.items(), key=lambda kv: -len(kv[1])):
        row = []
        for method, find in finders.items():
            shares = []
            for pid in sorted(members):
                got = find(by_id[pid], depth)
                shares.append(sum(g in members for g in got) / depth)
            micro[method].extend(shares)
            macro[method].append(float(np.mean(shares)))
            row.append(f"{macro[method][-1]:>14.2f}")
        print(f"  {name[:28]:<28} {len(members):>6} " + " ".join(row))
    print(
        f"  {'macro (mean over topics)':<35} "
        + " ".join(f"{np.mean(macro[m]):>14.2f}" for m in finders)
    )
    print(
        f"  {'micro (mean over papers)':<35} "
        + " ".join(f"{np.mean(micro[m]):>14.2f}" for m in finders)
    )


def field_of(paper: Paper) -> str:
    return next(name for name, (_, _, cats) in FIELDS.items() if paper.categories[0] in cats)


def synthetic(
    finders: dict[str, Finder], papers: Sequence[Paper], probes: int, depth: int, seed: int
) -> None:
    by_id = {p.arxiv_id: p for p in papers}
    rng = random.Random(seed)
    # Probes among the latest papers, which the former /papers like could all reach.
    chosen = rng.sample(list(papers)[-TFIDF_POOL:], probes)
    print(
        f"\nsynthetic: {len(papers):,} papers, {probes} probes (seed {seed}); share of the "
        f"{depth} neighbours of the same field / the same primary category, and time per probe"
    )
    for method, find in finders.items():
        same_field, same_category = [], []
        started = time.perf_counter()
        for paper in chosen:
            got = [by_id[g] for g in find(paper, depth)]
            same_field.append(sum(field_of(g) == field_of(paper) for g in got) / depth)
            same_category.append(sum(g.categories[0] == paper.categories[0] for g in got) / depth)
        per_probe = (time.perf_counter() - started) / probes * 1000
        print(
            f"  {method:<14} field {np.mean(same_field):.2f}  category "
            f"{np.mean(same_category):.2f}  {per_probe:6.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--synthetic", type=int, default=20000, help="synthetic papers")
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    real = list({p.arxiv_id: p for p in sample_papers()}.values())
    mlt, index = mlt_finder(real)
    finders = {
        "more-like-this": mlt,
        "TF-IDF cosine": tfidf_finder(real),
        "random": random_finder(real, args.seed),
    }
    real_listings(finders, real, args.depth)
    index.close()
    progress(f"generating and indexing {args.synthetic:,} synthetic papers")
    papers = list(synthetic_papers(args.synthetic, seed=args.seed))
    mlt, index = mlt_finder(papers)
    finders = {
        "more-like-this": mlt,
        "TF-IDF cosine": tfidf_finder(papers),
        "random": random_finder(papers, args.seed),
    }
    synthetic(finders, papers, args.probes, args.depth, args.seed)
    index.close()


if __name__ == "__main__":
    main()
