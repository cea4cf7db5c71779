"""The small corpus the search tests index: real titles and abstracts of well-known papers,
with their dates, authors and categories."""

from __future__ import annotations

from datetime import UTC, date, datetime

from paperbot.models import Paper
from paperbot.search import SearchIndex, parse_search

TODAY = date(2024, 6, 1)


def corpus_paper(
    arxiv_id: str,
    title: str,
    abstract: str,
    authors: tuple[str, ...] = (),
    categories: tuple[str, ...] = ("cs.LG",),
    published: date | None = None,
) -> Paper:
    return Paper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract,
        authors=authors,
        categories=categories,
        published_at=datetime(published.year, published.month, published.day, tzinfo=UTC)
        if published
        else None,
    )


CORPUS = (
    corpus_paper(
        "1706.03762",
        "Attention Is All You Need",
        "The dominant sequence transduction models are based on complex recurrent or "
        "convolutional neural networks. We propose a new simple network architecture, the "
        "Transformer, based solely on attention mechanisms, dispensing with recurrence entirely.",
        ("Ashish Vaswani", "Noam Shazeer", "Niki Parmar"),
        ("cs.CL", "cs.LG"),
        date(2017, 6, 12),
    ),
    corpus_paper(
        "2006.11239",
        "Denoising Diffusion Probabilistic Models",
        "We present high quality image synthesis results using diffusion probabilistic models, "
        "a class of latent variable models inspired by considerations from nonequilibrium "
        "thermodynamics.",
        ("Jonathan Ho", "Ajay Jain", "Pieter Abbeel"),
        ("cs.LG", "stat.ML"),
        date(2020, 6, 19),
    ),
    corpus_paper(
        "2309.16588",
        "Vision Transformers Need Registers",
        "We identify artifacts in feature maps of supervised and self-supervised ViT networks. "
        "We propose a simple yet effective solution: providing additional tokens to the input "
        "sequence of the Vision Transformer to fill that role.",
        ("Timothée Darcet", "Maxime Oquab", "Julien Mairal", "Piotr Bojanowski"),
        ("cs.CV",),
        date(2023, 9, 28),
    ),
    corpus_paper(
        "2205.14135",
        "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness",
        "Transformers are slow and memory-hungry on long sequences. We propose an IO-aware "
        "exact attention algorithm that uses tiling to reduce memory reads and writes between "
        "GPU high bandwidth memory and on-chip SRAM.",
        ("Tri Dao", "Daniel Y. Fu", "Stefano Ermon", "Atri Rudra", "Christopher Ré"),
        ("cs.LG",),
        date(2022, 5, 27),
    ),
    corpus_paper(
        "2312.00752",
        "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
        "Foundation models are almost universally based on the Transformer architecture. "
        "We identify that a key weakness of such models is their inability to perform "
        "content-based reasoning, and let the state space parameters be functions of the input.",
        ("Albert Gu", "Tri Dao"),
        ("cs.LG", "cs.AI"),
        date(2023, 12, 1),
    ),
    corpus_paper(
        "2106.01345",
        "Heat Transport on Graphs with Neural Operators",
        "We learn operators for heat transport on irregular meshes. Diffusion of heat is "
        "modelled by a graph network whose message passing mimics a discretised Laplacian "
        "and is trained with an ell_1 penalty.",
        ("Klaus-Robert Müller", "Anna Schmidt"),
        ("cs.LG", "physics.comp-ph"),
        date(2021, 6, 2),
    ),
    corpus_paper(
        "2106.15001",
        "Diffusion Schrödinger Bridge with Applications to Score-Based Generative Modeling",
        "Progressively applying Gaussian noise transforms complex data distributions to "
        "approximately Gaussian. We solve the Schrödinger bridge problem with an ell_0 penalty.",
        ("Valentin De Bortoli", "James Thornton", "Jeremy Heng", "Arnaud Doucet"),
        ("stat.ML",),
        date(2021, 6, 1),
    ),
    corpus_paper(
        "2405.11111",
        "Calibrating Retrieval Pipelines",
        "We study how a language model ranks passages and propose a calibration step that "
        "needs no labels, evaluated on eight retrieval benchmarks and two domains.",
        published=date(2024, 5, 28),
    ),
    corpus_paper(
        "2405.22222",
        "Calibrating Ranking Pipelines",
        "A model of language ranks passages; we propose a calibration step without labels.",
        published=date(2024, 5, 30),
    ),
)
BY_ID = {p.arxiv_id: p for p in CORPUS}


def ids(index: SearchIndex, query: str, limit: int = 10) -> list[str]:
    return [hit.arxiv_id for hit in index.search(parse_search(query, today=TODAY), limit)]
