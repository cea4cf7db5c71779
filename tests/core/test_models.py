from datetime import UTC, date, datetime

import pytest

from paperbot.models import ChannelKey, normalize_arxiv_id
from paperbot.testing import make_paper


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2401.12345", "2401.12345"),
        ("2401.12345v2", "2401.12345"),
        ("arXiv:2401.1234v11", "2401.1234"),
        ("https://arxiv.org/abs/2401.12345v3", "2401.12345"),
        ("http://arxiv.org/pdf/2401.12345v1.pdf", "2401.12345"),
        ("oai:arXiv.org:2401.12345v1", "2401.12345"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("math.AG/0601001", "math.AG/0601001"),
        ("not-an-id", None),
        ("", None),
        ("2401.123", None),
        ("../../etc/passwd", None),
    ],
)
def test_normalize_arxiv_id(raw: str, expected: str | None) -> None:
    assert normalize_arxiv_id(raw) == expected


def test_merge_combines_sources_and_keeps_the_best_of_each() -> None:
    arxiv = make_paper(
        "Title",
        "Abstract",
        arxiv_id="2401.00001",
        categories=("cs.LG", "cs.CL"),
        published_at=datetime(2024, 1, 2, tzinfo=UTC),
        sources=("arxiv",),
    )
    hf = make_paper(
        "Title",
        "Abstract",
        arxiv_id="2401.00001",
        upvotes=42,
        featured_on=date(2024, 1, 3),
        ai_keywords=("llm",),
        categories=("cs.CL",),
        sources=("hf",),
    )
    merged = arxiv.merged_with(hf)
    assert merged.upvotes == 42
    assert merged.categories == ("cs.LG", "cs.CL")
    assert merged.sources == ("arxiv", "hf")
    assert merged.published_at == datetime(2024, 1, 2, tzinfo=UTC)
    assert merged.featured_on == date(2024, 1, 3)
    # Order of arrival does not change counters or sets.
    reverse = hf.merged_with(arxiv)
    assert (reverse.upvotes, set(reverse.categories), reverse.sources) == (
        42,
        {"cs.LG", "cs.CL"},
        ("arxiv", "hf"),
    )
    assert merged.hf_url == "https://huggingface.co/papers/2401.00001"


def test_merge_refuses_two_different_papers() -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        make_paper(arxiv_id="2401.00001").merged_with(make_paper(arxiv_id="2401.00002"))


def test_channel_key_round_trips_and_refuses_garbage() -> None:
    key = ChannelKey("slack", "T1", "C2")
    assert ChannelKey.parse(str(key)) == key
    with pytest.raises(ValueError, match="platform:workspace:channel"):
        ChannelKey.parse("slack:T1")
