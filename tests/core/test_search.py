"""`/papers search`: ranking, filters and hostile input (the index's upkeep: test_search_upkeep)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from search_corpus import CORPUS, TODAY, corpus_paper, ids

from paperbot.errors import InvalidInput
from paperbot.search import (
    MAX_TERMS,
    SearchIndex,
    SearchRequest,
    english_analyzer,
    parse_search,
)
from paperbot.search import analysis as search_analysis
from paperbot.search import retrieval as search_retrieval
from paperbot.sources.sample import sample_papers
from paperbot.text import stems


@pytest.fixture
def index() -> SearchIndex:
    built = SearchIndex.open(None)
    built.index_papers(CORPUS)
    return built


# --- ranking ---------------------------------------------------------------------------------


def test_title_hit_beats_abstract_hit(index: SearchIndex) -> None:
    found = ids(index, "diffusion")
    assert set(found) == {"2006.11239", "2106.01345", "2106.15001"}
    # Both title papers first; the heat paper only says "diffusion" in its abstract.
    assert found[-1] == "2106.01345"


def test_exact_phrase_outranks_scattered_words(index: SearchIndex) -> None:
    found = ids(index, "language model")
    # The scattered one is shorter, so plain BM25 would put it first; the phrase decides.
    assert found.index("2405.11111") < found.index("2405.22222")


def test_quoted_phrase_is_required(index: SearchIndex) -> None:
    assert ids(index, '"language model"') == ["2405.11111"]


def test_more_of_the_words_rank_higher(index: SearchIndex) -> None:
    found = ids(index, "exact attention memory")
    assert found[0] == "2205.14135"
    assert "1706.03762" in found  # "attention" alone still matches: words are optional


def test_inflections_meet_on_one_stem(index: SearchIndex) -> None:
    assert "2309.16588" in ids(index, "transformers")  # title says "Transformers"
    assert "1706.03762" in ids(index, "transformer")  # abstract says "Transformer"
    assert "2312.00752" in ids(index, "modelling")  # title says "Modeling"


def test_non_ascii_and_underscore_text_is_found(index: SearchIndex) -> None:
    assert ids(index, "Schrödinger") == ["2106.15001"]
    assert ids(index, "SCHRÖDINGER bridges") == ["2106.15001"]
    assert ids(index, "ell_0") == ["2106.15001"]
    assert ids(index, "ell_1 penalty")[0] == "2106.01345"  # ASCII text with "_"


def test_limit_caps_hits(index: SearchIndex) -> None:
    assert len(ids(index, "we", limit=2)) == 2
    assert index.search(parse_search("we"), limit=0) == []


def test_tantivy_analyzer_agrees_with_text_stems_on_real_abstracts() -> None:
    """The index lets tantivy stem ASCII text; queries use text.stems. They must agree."""
    analyzer = english_analyzer()
    checked = 0
    for paper in sample_papers():
        for text in (paper.title, paper.abstract):
            if text.isascii() and "_" not in text:
                assert analyzer.analyze(text) == stems(text)
                checked += 1
    assert checked > 500


TYPOGRAPHY = corpus_paper(
    "2401.09999",
    "Score\u2011based samplers \u2014 fast and \u201crobust\u201d",
    "We bound the error \u2264 1% for score\u2011based diffusion samplers \u2013 in theory\u2026",
    ("Christopher R\u00e9", "Se\u00e1n \u00d3 Dochartaigh"),
    ("cs.LG",),
    date(2024, 5, 20),
)


def test_accents_and_typography_still_go_as_json() -> None:
    assert isinstance(search_analysis.document(TYPOGRAPHY), str)
    # A letter that is not ASCII even without its accent (or text with "_") cannot.
    for changed in (
        replace(TYPOGRAPHY, authors=("\u0141ukasz Kaiser",)),
        replace(TYPOGRAPHY, abstract="a na\u00efve bound"),
        replace(TYPOGRAPHY, title="the ell_0 penalty"),
    ):
        assert not isinstance(search_analysis.document(changed), str)


def test_json_documents_index_like_field_by_field_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most papers go to tantivy as JSON; the rest field by field. Both must give the same
    hits and scores, filters included."""
    queries = [
        "language models", '"diffusion probabilistic"', "transformer attention",
        "since:2024-05-01 model", 'author:"Jonathan Ho"', "cat:cs.cl networks", "diffusion",
        '"score based samplers"', 'author:"Christopher Re"', 'author:"Sean O Dochartaigh"',
        "bound error theory",
    ]  # fmt: skip
    papers = [p for p in (*CORPUS, TYPOGRAPHY) if isinstance(search_analysis.document(p), str)]
    assert len(papers) > len(CORPUS) // 2
    as_json = SearchIndex.open(None)
    as_json.index_papers(papers)
    monkeypatch.setattr(search_analysis, "_tantivy_analyzes", lambda text: False)
    assert not isinstance(search_analysis.document(papers[0]), str)
    field_by_field = SearchIndex.open(None)
    field_by_field.index_papers(papers)
    for query in queries:
        request = parse_search(query, today=TODAY)
        hits = as_json.search(request, 20)
        assert hits, query
        assert hits == field_by_field.search(request, 20), query


# --- filters ---------------------------------------------------------------------------------


def test_since_date_filter(index: SearchIndex) -> None:
    assert set(ids(index, "transformer since:2023-01-01")) == {"2309.16588", "2312.00752"}


def test_since_relative_filter(index: SearchIndex) -> None:
    request = parse_search("calibration since:7d", today=TODAY)
    assert request.since == date(2024, 5, 25)
    assert {h.arxiv_id for h in index.search(request)} == {"2405.11111", "2405.22222"}
    assert parse_search("x since:2w", today=TODAY).since == date(2024, 5, 18)


def test_author_filter(index: SearchIndex) -> None:
    assert set(ids(index, 'attention author:"Tri Dao"')) == {"2205.14135"}
    assert set(ids(index, "author:Dao")) == {"2205.14135", "2312.00752"}
    assert ids(index, 'author:"Dao Tri"') == []  # a name is a phrase, in order
    # Accents are folded on both sides, and a phrase never spans two authors.
    assert ids(index, "author:muller") == ["2106.01345"]
    assert ids(index, 'author:"Müller Anna"') == []
    assert ids(index, "author:Darcet") == ["2309.16588"]  # "Timothée Darcet" is non-ASCII


def test_category_filter(index: SearchIndex) -> None:
    assert ids(index, "transformer cat:cs.CV") == ["2309.16588"]
    assert set(ids(index, "attention cat:cs.CL")) == {"1706.03762"}
    assert set(ids(index, "cat:stat.ML")) == {"2006.11239", "2106.15001"}


def test_filters_alone_list_newest_first(index: SearchIndex) -> None:
    hits = index.search(parse_search("cat:cs.LG since:2021-01-01", today=TODAY))
    assert [h.arxiv_id for h in hits] == [
        "2405.22222",
        "2405.11111",
        "2312.00752",
        "2205.14135",
        "2106.01345",
    ]
    assert all(h.score == 0.0 for h in hits)


def test_words_with_a_filter_need_a_word_match(index: SearchIndex) -> None:
    assert ids(index, "thermodynamics cat:cs.LG") == ["2006.11239"]


def test_a_selective_filter_finds_papers_beyond_the_window(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Four papers say "transformer"; with a window of two, the cs.AI one is outside it.
    monkeypatch.setattr(search_retrieval, "WINDOW", 2)
    assert ids(index, "transformer cat:cs.AI") == ["2312.00752"]
    assert ids(index, '"sequence transduction" transformer') == ["1706.03762"]


def test_re_scoring_in_the_window_keeps_the_scores(index: SearchIndex) -> None:
    """One word is scored in one pass; a filter sends it through the window: same score."""
    plain = index.search(parse_search("registers"))
    windowed = index.search(parse_search("registers since:2000-01-01"))
    assert [h.arxiv_id for h in plain] == [h.arxiv_id for h in windowed] == ["2309.16588"]
    assert windowed[0].score == pytest.approx(plain[0].score)


# --- hostile and odd input -------------------------------------------------------------------

NOTHING_SEARCHABLE = ["*", '"', "((((", "title:", "NOT", "-", "🔥🚀", "\x00", "   ", "AND OR NOT"]


@pytest.mark.parametrize("text", NOTHING_SEARCHABLE)
def test_nothing_searchable_is_one_line_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_search(text)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("foo AND (", ["foo"]),
        ("'; DROP TABLE papers; --", ["drop", "tabl", "paper"]),
        ("diffusion*", ["diffus"]),
        ("transf?rmer~2 attention^3", ["transf", "rmer", "2", "attent", "3"]),
        ("mamba NOT attention", ["mamba", "attent"]),  # titles say "NOT": a word
        ("--mamba attention", ["attent"]),  # a leading dash leaves mamba out
        ("title:registers", ["regist"]),
        ('"unbalanced quote', ["unbalanc", "quot"]),
        ("((attention))", ["attent"]),
        ("field:value", ["field", "valu"]),
        ("atten\x00tion \x07graphs", ["atten", "tion", "graph"]),
        ("trans\u00adformer\u200d \u202egraphs", ["transform", "graph"]),
        ("🔥 diffusion 🚀", ["diffus"]),
        ("ｔｒａｎｓｆｏｒｍｅｒ", ["transform"]),
        ("{{7*7}} ${jndi:x} <script>", ["7", "7", "jndi", "x", "script"]),
    ],
)
def test_hostile_queries_keep_the_real_words(
    index: SearchIndex, text: str, words: list[str]
) -> None:
    request = parse_search(text)
    found = list(request.terms) + [w for phrase in request.phrases for w in phrase]
    assert found == words
    index.search(request)  # must not raise


def test_a_dashed_word_or_phrase_leaves_papers_out(index: SearchIndex) -> None:
    assert set(ids(index, "diffusion")) == {"2006.11239", "2106.01345", "2106.15001"}
    # Anywhere in the paper: "heat" is in 2106.01345's title, "gaussian" in 2106.15001's abstract.
    assert ids(index, "diffusion -heat -gaussian") == ["2006.11239"]
    assert set(ids(index, 'diffusion -"heat transport"')) == {"2006.11239", "2106.15001"}
    assert set(ids(index, 'diffusion -"transport heat"')) == set(ids(index, "diffusion"))
    assert set(ids(index, "diffusion -bridges")) == {"2006.11239", "2106.01345"}  # by stem
    # With a filter and no words, and within the all-but-one and any-word tiers.
    assert ids(index, "since:2021-01-01 -diffusion -attention", limit=20) == [
        "2405.22222",
        "2405.11111",
        "2312.00752",
        "2309.16588",
    ]
    assert "1706.03762" not in ids(index, "attention transformer sequence -recurrent")
    assert ids(index, "diffusion AND NOT heat") == ids(index, "diffusion -heat")
    assert ids(index, "Attention Is NOT All You Need")[0] == "1706.03762"  # a lone NOT: a word
    # Only a dash before the word or the opening quote leaves out; inside quotes it is text.
    assert parse_search('"- outputting"').phrases == (("output",),)
    assert parse_search('"-heat" diffusion').excluded == ()
    request = parse_search('diffusion -heat -"score matching"')
    assert request.text == 'diffusion -heat -"score matching"'
    assert request.excluded == (("heat",), ("score", "match"))


@pytest.mark.parametrize("text", ["-diffusion", '-"diffusion model" -heat', "-a"])
def test_only_left_out_words_say_what_is_missing(text: str) -> None:
    with pytest.raises(InvalidInput, match="add a word") as caught:
        parse_search(text)
    assert "\n" not in str(caught.value)


def test_very_long_input_is_capped_not_refused(index: SearchIndex) -> None:
    request = parse_search("transformer attention " * 5000)
    assert 0 < len(request.terms) <= MAX_TERMS
    assert ids(index, "transformer attention " * 5000)


def test_operators_and_filters_are_not_search_words() -> None:
    request = parse_search('Diffusion AND “score matching” cat:CS.LG author:"De Bortoli"')
    assert request.terms == ("diffus",)
    assert request.phrases == (("score", "match"),)
    assert request.categories == ("cs.lg",)
    assert request.authors == ("de bortoli",)
    assert request.text == 'Diffusion "score matching"'


def test_unreadable_filters_are_reported_not_fatal() -> None:
    request = parse_search("attention since:someday cat:../../etc", today=TODAY)
    assert request.terms == ("attent",)
    assert request.since is None
    assert request.categories == ()
    assert request.ignored == ("since:someday", "cat:../../etc")


def test_a_filter_alone_is_searchable() -> None:
    assert parse_search("since:2024-05-01") == SearchRequest(text="", since=date(2024, 5, 1))
