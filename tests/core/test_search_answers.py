"""What `/papers search` answers: a pasted paper, typo fallback, the matching sentence in bold
on every platform, papers like a paper, and one-line answers to bad input."""

from __future__ import annotations

import pytest
from rich.text import Text

from paperbot import commands
from paperbot.adapters import console
from paperbot.adapters.discord import embeds
from paperbot.adapters.slack import blocks
from paperbot.models import ChannelKey, CommandContext, DigestItem, Reply
from paperbot.search import SearchIndex, parse_search, retrieval
from paperbot.search.paste import pasted_paper_id
from paperbot.search.snippet import MAX_SNIPPET_CHARS, best_sentence
from paperbot.service import Paperbot
from paperbot.testing import make_paper
from paperbot.text import stems

CTX = CommandContext(ChannelKey("console", "local", "general"), "U1")

PAPERS = [
    make_paper(
        "Denoising Diffusion Probabilistic Models",
        "We present image synthesis results. Diffusion models are trained with a weighted "
        "variational bound. Sampling is slow.",
        arxiv_id="2006.11239",
    ),
    make_paper(
        "Score-Based Generative Modeling through Stochastic Differential Equations",
        "Creating noise from data is easy. A diffusion process turns noise into data with "
        "score matching.",
        arxiv_id="2011.13456",
    ),
    make_paper(
        "Old Style Lattice Gauge Theory",
        "Lattice gauge fields on a torus.",
        arxiv_id="hep-lat/9901001",
    ),
    make_paper(
        "Graph Sparsification by Effective Resistances",
        "We sample edges of a graph by effective resistance <b>&amp; keep *cuts* @here.",
        arxiv_id="0803.0929",
    ),
]


@pytest.fixture
async def loaded(bot: Paperbot) -> Paperbot:
    bot.ingest_papers(PAPERS)
    return bot


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2006.11239", "2006.11239"),
        ("2006.11239v3", "2006.11239"),
        ("arXiv:2006.11239v1", "2006.11239"),
        ("https://arxiv.org/abs/2006.11239", "2006.11239"),
        ("http://arxiv.org/abs/2006.11239v2/", "2006.11239"),
        ("https://arxiv.org/pdf/2006.11239v2.pdf", "2006.11239"),
        ("arxiv.org/pdf/2006.11239", "2006.11239"),
        ("https://www.arxiv.org/abs/2006.11239?context=cs", "2006.11239"),
        ("<https://arxiv.org/abs/2006.11239>", "2006.11239"),
        ("<https://arxiv.org/abs/2006.11239|arxiv.org/abs/2006.11239>", "2006.11239"),
        ("https://huggingface.co/papers/2006.11239", "2006.11239"),
        ("huggingface.co/papers/2006.11239#community", "2006.11239"),
        ("hep-lat/9901001", "hep-lat/9901001"),
        ("hep-lat/9901001v2", "hep-lat/9901001"),
        ("https://arxiv.org/abs/math.GT/0309136v1", "math.GT/0309136"),
        ("2412.123456", None),
        ("2006.11239 diffusion", None),
        ("diffusion", None),
        ("https://example.org/abs/2006.11239", None),
        ("https://huggingface.co/papers", None),
    ],
)
def test_pasted_ids_and_links(text: str, expected: str | None) -> None:
    assert pasted_paper_id(text) == expected


async def test_a_pasted_paper_comes_first_with_papers_like_it(loaded: Paperbot) -> None:
    for text in ("https://arxiv.org/abs/2006.11239v2", "hep-lat/9901001v1"):
        reply = await commands.handle(loaded, CTX, f"/papers search {text}")
        expected = pasted_paper_id(text)
        assert reply.items[0].paper.arxiv_id == expected
        assert reply.text.startswith(f"arXiv:{expected}")
    outcome = await loaded.find_papers("arxiv.org/abs/2006.11239")
    assert [i.paper.arxiv_id for i in outcome.items][:2] == ["2006.11239", "2011.13456"]


@pytest.mark.parametrize(
    "text",
    [
        "https://arxiv.org/abs/2405.",
        "arxiv.org/list/cs.LG/recent",
        "https://huggingface.co/papers",
        "<https://arxiv.org/abs/24051234|arxiv.org/abs/24051234>",
        "arXiv:",
        "2412.123456",
        "2405.1234v",
    ],
)
async def test_a_link_or_id_that_names_no_paper_gets_one_line_saying_what_to_paste(
    loaded: Paperbot, text: str
) -> None:
    reply = await commands.handle(loaded, CTX, f"/papers search {text}")
    assert reply.is_error and not reply.items
    assert "2405.01234" in reply.text and "\n" not in reply.text


@pytest.mark.parametrize("text", ["arxiv preprints", "GPT 3.5", "2006.11239 diffusion", "2024"])
async def test_words_beside_a_link_shape_are_still_searched(loaded: Paperbot, text: str) -> None:
    reply = await commands.handle(loaded, CTX, f"/papers search {text}")
    assert not reply.is_error


async def test_a_pasted_paper_not_stored_says_so(loaded: Paperbot) -> None:
    reply = await commands.handle(loaded, CTX, "/papers search https://arxiv.org/abs/2401.00001")
    assert not reply.items and not reply.is_error
    assert reply.text.startswith("arXiv:2401.00001 is not in the store yet")
    assert "\n" not in reply.text


async def test_a_typo_falls_back_to_the_word_one_edit_away(loaded: Paperbot) -> None:
    reply = await commands.handle(loaded, CTX, "/papers search difusion")
    assert reply.text.startswith("No papers for 'difusion'; showing 'diffusion'.")
    assert {i.paper.arxiv_id for i in reply.items} == {"2006.11239", "2011.13456"}
    # A known word next to the typo keeps its place; only the unknown one is replaced.
    outcome = await loaded.find_papers("sparsificaton graph")
    assert outcome.corrections == (("sparsificaton", "sparsification"),)
    assert outcome.items[0].paper.arxiv_id == "0803.0929"
    nothing = await commands.handle(loaded, CTX, "/papers search zyzzyva")
    assert nothing.text == "No papers found for zyzzyva."


@pytest.mark.parametrize("exact_up_to", [retrieval.EXACT_TIERS_MAX_DOCS, 0])
def test_papers_holding_every_word_rank_above_title_hits_missing_some(
    exact_up_to: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0: every word counts as common, so the tiers are ranked within the union's window.
    monkeypatch.setattr(retrieval, "EXACT_TIERS_MAX_DOCS", exact_up_to)
    index = SearchIndex.open(None)
    index.index_papers(
        [
            make_paper("Spectral Graph Theory", "A survey.", arxiv_id="2101.00001"),
            make_paper(
                "A Survey",
                "We bound the spectral gap of random regular graph expanders by counting walks.",
                arxiv_id="2101.00002",
            ),
        ]
    )
    found = [h.arxiv_id for h in index.search(parse_search("spectral graph expanders walks"))]
    assert found == ["2101.00002", "2101.00001"]


def test_best_sentence_marks_the_matched_words() -> None:
    abstract = PAPERS[0].abstract
    fragments = best_sentence(abstract, set(stems("diffusion bound")))
    assert "".join(t for t, _ in fragments) == (
        "Diffusion models are trained with a weighted variational bound."
    )
    assert [t for t, matched in fragments if matched] == ["Diffusion", "bound"]
    assert best_sentence(abstract, set(stems("quokka"))) == ()


def test_a_long_sentence_is_cut_around_its_matches() -> None:
    long = "Filler words go here " * 40 + "and the quokka appears " + "then more filler " * 40
    fragments = best_sentence(long + ".", set(stems("quokka")))
    text = "".join(t for t, _ in fragments)
    assert len(text) <= MAX_SNIPPET_CHARS
    assert text.startswith("…") and text.endswith("…")
    assert ("quokka", True) in fragments


async def test_each_platform_shows_the_sentence_with_matched_words_bold(
    loaded: Paperbot,
) -> None:
    reply = await commands.handle(loaded, CTX, "/papers search effective resistance")
    assert reply.items[0].highlight
    slack = blocks.reply_message(reply)
    text = "\n".join(b["text"]["text"] for b in slack.blocks if b["type"] == "section")
    assert "*effective* *resistance*" in text
    # The abstract's own markup is shown, never live: no <...>, no unescaped &, no broadcast.
    assert "&lt;b&gt;&amp;amp;" in text and "<b>" not in text
    discord_embed = embeds.reply_message(reply).embeds[0]
    assert "**effective** **resistance**" in (discord_embed.description or "")
    assert "\\*cuts\\*" in (discord_embed.description or "")
    rendered = console.render_item(reply.items[0], number=1)
    assert isinstance(rendered, Text)
    bold = [rendered.plain[s.start : s.end] for s in rendered.spans if s.style == "bold"]
    assert "effective" in bold and "resistance" in bold


def test_highlights_stay_within_platform_limits() -> None:
    paper = make_paper("T", "word " * 3000 + "quokka " + "word " * 3000 + ".")
    item = DigestItem(paper, highlight=best_sentence(paper.abstract, {"quokka"}))
    reply = Reply(text="Top 10", title="Search results", items=(item,) * 10)
    for block in blocks.reply_message(reply).blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
    rendered = embeds.reply_message(reply)
    assert sum(len(e.description or "") + len(e.title or "") for e in rendered.embeds) <= 6000


def test_papers_like_a_paper() -> None:
    index = SearchIndex.open(None)
    index.index_papers(PAPERS)
    similar = [hit.arxiv_id for hit in index.similar(PAPERS[0], 3)]
    assert similar[0] == "2011.13456"  # the other diffusion paper
    assert "2006.11239" not in similar


@pytest.mark.parametrize(
    "argument",
    [
        "",
        "x" * 100_000,
        'AND OR NOT (( )) "" * ~ ^ : title: -',
        "the of and with",
        "a\x00b",
        "🔥🚀✨",
        '"""',
        "since:2024-13-45 cat:",
    ],
)
async def test_bad_input_gets_a_one_line_answer(loaded: Paperbot, argument: str) -> None:
    reply = await commands.handle(loaded, CTX, f"/papers search {argument}")
    assert reply.text and "\n" not in reply.text
    assert len(reply.text) < 300
