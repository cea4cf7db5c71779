"""`/papers like`: the paper a person names (an arXiv id or link, a Hugging Face link, a number
in the latest digest, or the id of the message that posted it) and the stored papers most like
it, by cosine over TF-IDF of the taste features among the latest papers."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from paperbot.errors import InvalidInput
from paperbot.models import ChannelKey, Paper, normalize_arxiv_id
from paperbot.store.taste import TasteStore
from paperbot.taste.features import VectorCache

LIKE_POOL = 5000
"""The latest papers `/papers like` looks among (benchmarks/like_quality.py measures it)."""
_HF_PREFIXES = ("https://huggingface.co/papers/", "http://huggingface.co/papers/")


def resolve_paper(store: TasteStore, key: ChannelKey, target: str) -> Paper:
    """A paper named by arXiv id, arXiv/HF link, number in the latest digest, or the id of a
    message that posted it; InvalidInput in one line otherwise."""
    text = target.strip()
    paper_id: str | None = None
    if text.isdigit():
        latest = store.latest_digest(key)
        number = int(text)
        if not 1 <= number <= len(latest):
            shown = f"it had {len(latest)}" if latest else "there was none yet"
            raise InvalidInput(f"no paper #{number} in this channel's latest digest ({shown})")
        paper_id = latest[number - 1]
    else:
        for prefix in _HF_PREFIXES:
            text = text.removeprefix(prefix)
        paper_id = normalize_arxiv_id(text) or store.store.paper_for_message(key, text)
    if paper_id is None:
        raise InvalidInput(
            "give an arXiv id (2401.12345), an arxiv.org link, or a number from the "
            "latest digest: /papers like 2"
        )
    paper = store.store.get_paper(paper_id)
    if paper is None:
        raise InvalidInput(
            f"I have not seen arXiv:{paper_id[:40]}; try /papers search with its title"
        )
    return paper


def most_like(
    store: TasteStore, vectors: VectorCache, key: ChannelKey, target: str, limit: int = 5
) -> tuple[Paper, list[Paper]]:
    """The papers most like `target` among the latest ones stored: cosine over TF-IDF."""
    paper = resolve_paper(store, key, target)
    pool = [p for p in store.recent_papers(LIKE_POOL) if p.arxiv_id != paper.arxiv_id]
    if not pool:
        return paper, []
    rows = vectors.rows([paper, *pool])
    weighted = tf_idf(rows)
    similarity = np.asarray((weighted[1:] @ weighted[0].T).todense()).ravel()
    order = [int(i) for i in np.argsort(-similarity, kind="stable")[:limit]]
    return paper, [pool[i] for i in order if similarity[i] > 0]


def tf_idf(rows: sparse.csr_matrix) -> sparse.csr_matrix:
    """Reweight hashed term frequencies by inverse document frequency over these rows."""
    count = rows.shape[0]
    present = rows.copy()
    present.data[:] = 1
    df = np.asarray(present.sum(axis=0)).ravel()
    idf = np.log((1 + count) / (1 + df)) + 1
    weighted = rows.multiply(idf.astype(np.float32)).tocsr()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    result: sparse.csr_matrix = sparse.diags(1.0 / norms).dot(weighted).tocsr()
    return result
