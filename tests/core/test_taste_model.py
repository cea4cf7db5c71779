"""The taste model on its own: it learns a topic from a handful of real papers, names the
words it learned, fits in well under a megabyte, and reads back what it wrote."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from paperbot.models import Paper
from paperbot.sources.sample import sample_papers
from paperbot.taste.features import N_FEATURES, VectorCache, term_indices, terms, vectorize
from paperbot.taste.model import MAX_WEIGHTS, TasteModel, TrainingError, strongest_words, train
from paperbot.testing import make_paper


def about(word: str) -> list[bool]:
    return [word in f"{p.title} {p.abstract}".lower() for p in sample_papers()]


def test_a_few_votes_teach_a_topic_that_holds_on_unseen_papers() -> None:
    papers = list(sample_papers())
    liked = about("reinforcement")
    train_ids = list(range(0, len(papers), 3))
    positives = [papers[i] for i in train_ids if liked[i]][:8]
    negatives = [papers[i] for i in train_ids if not liked[i]][:12]
    model = train(positives, negatives, vectorize([*positives, *negatives]))
    held_out = [i for i in range(len(papers)) if i % 3]
    scores = model.decision(vectorize([papers[i] for i in held_out]))
    assert roc_auc_score([liked[i] for i in held_out], scores) > 0.8
    up, down = strongest_words(model, [*positives, *negatives])
    assert "reinforcement" in up[:4] and "reinforcement" not in down


def test_votes_up_only_still_give_a_model() -> None:
    positives = [p for p, hit in zip(sample_papers(), about("diffusion"), strict=True) if hit]
    model = train(positives[:5], [], vectorize(positives[:5]))
    assert model.downs == 0 and model.weights.size > 0
    assert (
        model.decision(vectorize(positives[5:])).mean()
        > model.decision(vectorize(list(sample_papers())[:50])).mean()
    )
    with pytest.raises(TrainingError):
        train([], positives[:3], vectorize(positives[:3]))


def test_the_model_is_small_and_reads_back() -> None:
    papers = list(sample_papers())
    model = train(papers[:60], papers[60:200], vectorize(papers[:200]))
    assert model.indices.size <= MAX_WEIGHTS and model.nbytes < 2**20
    blob = model.to_bytes()
    assert len(blob) < 2**20
    again = TasteModel.from_bytes(blob, model.ups, model.downs)
    rows = vectorize(papers[200:260])
    assert np.allclose(again.decision(rows), model.decision(rows))
    with pytest.raises(ValueError):
        TasteModel.from_bytes(b"not a model", 1, 0)


def test_term_columns_are_the_vectorizers_columns() -> None:
    paper = sample_papers()[0]
    found = sorted(set(terms(paper)))
    columns = term_indices(found)
    row = vectorize([paper])
    assert set(columns.tolist()) == set(row.indices.tolist())
    assert int(columns.max()) < N_FEATURES
    norm = float(np.sqrt(row.multiply(row).sum()))
    assert 0.7 < norm < 1.3  # about unit length for a typical abstract (PIVOT)


def test_a_longer_abstract_holding_a_liked_word_is_not_scored_below_a_short_one() -> None:
    # Rows are divided by the square root of their length, not by their length: a paper that
    # holds the liked word among more other words keeps more of its weight (bench_taste.py).
    filler = " ".join(f"word{chr(97 + n // 26)}{chr(97 + n % 26)}" for n in range(120))
    short = make_paper("Notes", f"We study bandits. {filler[:200]}")
    long = make_paper("Notes", f"We study bandits. {filler}")
    rows = vectorize([short, long])
    lengths = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    raw = [len(set(terms(p))) for p in (short, long)]
    assert lengths[1] / lengths[0] == pytest.approx(np.sqrt(np.sqrt(raw[1] / raw[0])), rel=0.1)
    liked = np.zeros(N_FEATURES, dtype=np.float32)
    liked[term_indices(["bandits"])] = 1.0
    scores = rows @ liked
    assert scores[1] > 0.7 * scores[0]  # an L2 row would keep about half (0.5-0.6)


def test_the_vector_cache_gives_the_rows_vectorize_gives_and_stays_bounded() -> None:
    papers = list(sample_papers())[:120]
    cache = VectorCache(capacity=60)
    fetched: list[list[str]] = []

    def fetch(ids: list[str]) -> dict[str, Paper]:
        fetched.append(ids)
        return {p.arxiv_id: p for p in papers if p.arxiv_id in ids}

    ids = [p.arxiv_id for p in papers[:40]]
    known, rows = cache.rows_by_id([*ids, "2401.99999"], fetch)
    assert known == ids  # a paper the store does not know is left out
    assert abs(rows - vectorize(papers[:40])).max() < 1e-6
    again, _ = cache.rows_by_id(ids[::-1], fetch)
    assert again == ids[::-1] and len(fetched) == 1  # cached: nothing fetched twice
    for start in range(40, 120, 20):  # more than the capacity: the oldest rows go
        cache.rows(papers[start : start + 20])
    late = cache.rows(papers[::7])
    assert abs(late - vectorize(papers[::7])).max() < 1e-6
    assert len(cache._position) <= 60 and cache._matrix.shape[0] == len(cache._position)
