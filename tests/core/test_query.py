"""The subscription language: what it accepts, what it means, and how it refuses."""

import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from paperbot.analysis import AnalyzedPaper, analyze
from paperbot.errors import InvalidInput
from paperbot.models import MatchField
from paperbot.query import (
    MAX_CANONICAL,
    MAX_DEPTH,
    And,
    Author,
    Category,
    MinUpvotes,
    Not,
    Or,
    Scope,
    Text,
    evaluate,
    parse,
)
from paperbot.text import normalize


def doc(title: str = "", abstract: str = "", **kw: object) -> AnalyzedPaper:
    return analyze("2401.00001", title, abstract, **kw)  # type: ignore[arg-type]


def test_words_phrases_and_operators_parse_into_a_tree() -> None:
    node = parse('"diffusion model" AND (video OR audio) -survey')
    assert isinstance(node, And)
    assert isinstance(node.children[0], Text) and node.children[0].stems == ("diffusion", "model")
    assert isinstance(node.children[1], Or)
    assert isinstance(node.children[2], Not)
    assert str(node) == '"diffusion model" AND (video OR audio) AND NOT survey'


def test_fields() -> None:
    node = parse('author:"Yann LeCun" cat:cs.LG title:agents upvotes:10')
    assert isinstance(node, And)
    author, category, title, upvotes = node.children
    assert isinstance(author, Author) and author.words == ("yann", "lecun")
    assert category == Category("cs.lg")
    assert isinstance(title, Text) and title.scope == "title"
    assert upvotes == MinUpvotes(10)


def test_lowercase_operators_mean_what_people_type() -> None:
    assert parse("diffusion or flow") == parse("diffusion OR flow")
    assert parse("transformer and not survey") == parse("transformer -survey")
    # Quoted, they are words again, and they are written out quoted so they stay words.
    quoted = parse('"or" AND robot')
    assert isinstance(quoted, And) and quoted.children[0] == Text(("or",), "or")
    assert str(quoted) == '"or" AND robot'


def test_a_field_applies_to_a_whole_group() -> None:
    node = parse('title:(diffusion OR "flow matching") -survey')
    assert node == And(
        (
            Or(
                (
                    Text(("diffusion",), "diffusion", Scope.TITLE),
                    Text(("flow", "match"), "flow matching", Scope.TITLE),
                )
            ),
            Not(Text(("survey",), "survey")),
        )
    )
    assert parse('author:(Hinton OR "Yann LeCun")') == Or(
        (Author(("hinton",), "Hinton"), Author(("yann", "lecun"), "Yann LeCun"))
    )
    assert parse("cat:(cs.LG OR math)") == Or((Category("cs.lg"), Category("math")))


def test_exclusions_may_sit_anywhere_while_something_positive_remains() -> None:
    assert parse("(NOT survey) robot") == And((Not(Text(("survey",), "survey")), parse("robot")))
    assert isinstance(parse("robot (agent OR -survey)"), And)


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ('"unclosed', "closing quote for the one at position 1"),
        ("(a OR b", "missing ')' for the '(' at position 1"),
        ("a OR b)", "unexpected ')' at position 7"),
        ("OR a", "needs a term before"),
        ("a AND", "ends where a term"),
        ("NOT survey", "must contain"),
        ("robot OR -survey", "OR branch at position 10"),
        ("upvotes:0", "must contain"),
        ("foo:bar", "unknown field 'foo:' at position 1"),
        ("robot cat:not a category!", "'not' at position 7 is not an arXiv category"),
        ("cat:cs..lg", "arXiv category"),
        ("upvotes:many", "whole number"),
        ("upvotes:²", "whole number"),  # a digit to str.isdigit, not to int()
        ("upvotes:(5)", "not a group"),
        ("title:(a OR abstract:b)", "'abstract:' at position 13 cannot go inside 'title:( )'"),
        ("title: agents", "'title:' at position 1 needs a value"),
        ("robot ()", "empty parentheses at position 7"),
        ("***", "'***' has no words to match: subscriptions are words and phrases"),
        ("", "empty"),
        ("   ", "empty"),
        ("a\x00b", "contains a NUL character"),
        ("(" * 12 + "a" + ")" * 12, "nested"),
        (" ".join(["w"] * 21), "too many terms (at most 20) at position 41"),
        ("x" * 1001, "too long"),
        (" ".join(f"-author:x{i}" for i in range(12)) + " y", "too long written out"),
    ],
)
def test_unparseable_subscriptions_are_refused_with_a_pointer(query: str, pointer: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse(query)
    assert pointer in str(error.value)
    assert "\n" not in str(error.value)


def _nested(innermost: str, levels: int) -> str:
    query = innermost
    for k in range(levels):
        query = f"w{k} OR ({query})" if k % 2 else f"w{k} ({query})"
    return query


def test_depth_counts_the_parentheses_the_canonical_form_will_have() -> None:
    fine = _nested("p OR q", MAX_DEPTH)
    assert parse(str(parse(fine))) == parse(fine)
    # Same literal depth, but "p OR q AND r" is written "p OR (q AND r)": one level more,
    # refused, or its written form would not parse back.
    with pytest.raises(InvalidInput, match="nested"):
        parse(_nested("p OR q AND r", MAX_DEPTH))


def test_long_runs_of_not_are_refused_not_crashed_on() -> None:
    with pytest.raises(InvalidInput, match="too long written out"):
        parse("x " + "NOT " * 240 + "a")
    assert parse("x NOT NOT a") == And((parse("x"), Not(Not(parse("a")))))


def test_words_that_look_like_syntax_are_quoted_when_written_out() -> None:
    for query in ['"-a"', '"x:"', '"and"', '"(a)"']:
        node = parse(query)
        assert str(node).startswith('"')
        assert parse(str(node)) == node


@pytest.mark.parametrize(
    ("query", "title", "abstract", "field"),
    [
        ("transformer", "Transformers for Everything", "", MatchField.TITLE),
        ('"diffusion model"', "", "We train diffusion models at scale.", MatchField.ABSTRACT),
        ("Diffusion", "", "latent DIFFUSION works", MatchField.ABSTRACT),
        ("agent", "Multi-Agent Systems", "", MatchField.TITLE),
        ("ｔｒａｎｓｆｏｒｍｅｒ", "A transformer", "", MatchField.TITLE),  # full-width input
        ("self-supervised", "", "a self supervised objective", MatchField.ABSTRACT),
        ("abstract:robot", "Robots", "robots everywhere", MatchField.ABSTRACT),
    ],
)
def test_inflections_case_and_fields(
    query: str, title: str, abstract: str, field: MatchField
) -> None:
    verdict = evaluate(parse(query), doc(title, abstract))
    assert verdict.matched and verdict.field is field


@pytest.mark.parametrize(
    ("query", "title", "abstract"),
    [
        ("transformer", "Transformation of images", ""),  # not a word-boundary match of ours
        ('"diffusion model"', "", "a model of diffusion"),  # words out of order
        ("graph", "", "paragraphs are long"),  # inside another word
        ("title:agents", "Robots", "agents everywhere"),
        ("llm -survey", "An LLM survey", ""),
        ("diffusion or flow", "", "or or or"),  # an operator, not the word
        ("abstract:robot", "Robots", ""),
    ],
)
def test_non_matches(query: str, title: str, abstract: str) -> None:
    assert not evaluate(parse(query), doc(title, abstract)).matched


def test_title_beats_abstract_and_keywords_count() -> None:
    both = doc("Diffusion for video", "diffusion again")
    assert evaluate(parse("diffusion"), both).field is MatchField.TITLE
    kw = doc("Something", "else", keywords=("world models",))
    assert evaluate(parse('"world model"'), kw).field is MatchField.KEYWORDS
    # A phrase never spans two keywords.
    split = doc("Something", "else", keywords=("world", "models of x"))
    assert not evaluate(parse('"world model"'), split).matched


def test_author_category_and_upvotes() -> None:
    paper = doc("T", "A", authors=("Yann LeCun", "Zoë Müller"), categories=("cs.LG",), upvotes=12)
    assert evaluate(parse('author:"Yann LeCun"'), paper).field is MatchField.AUTHOR
    assert evaluate(parse("author:muller"), paper).matched
    assert not evaluate(parse("author:hinton"), paper).matched
    assert not evaluate(parse('author:"LeCun Yann"'), paper).matched  # order matters
    assert not evaluate(parse('author:"Yann Müller"'), paper).matched  # never across two people
    assert evaluate(parse("cat:cs.lg"), paper).matched
    assert evaluate(parse("cat:cs.LG upvotes:10"), paper).matched
    assert not evaluate(parse("cat:cs.LG upvotes:13"), paper).matched


def test_a_whole_archive_matches_its_categories() -> None:
    paper = doc("T", "A", categories=("math.AG", "hep-th"))
    assert evaluate(parse("cat:math"), paper).field is MatchField.CATEGORY
    assert evaluate(parse("cat:hep-th"), paper).matched
    assert not evaluate(parse("cat:cs"), paper).matched
    assert not evaluate(parse("cat:math.CO"), paper).matched


def test_the_strongest_field_of_a_conjunction_is_reported() -> None:
    paper = doc("Robots", "learning to walk", categories=("cs.RO",))
    assert evaluate(parse("learning AND robot"), paper).field is MatchField.TITLE
    assert evaluate(parse("learning cat:cs.RO"), paper).field is MatchField.CATEGORY
    assert evaluate(parse("learning -survey"), paper).field is MatchField.ABSTRACT


def test_normalize_is_a_fixed_point() -> None:
    for text in ["ΐ", "ﬁne", "Straße", "ǅ", "ｔｅｓｔ", "e\u0301"]:
        once = normalize(text)
        assert normalize(once) == once


# --- properties ----------------------------------------------------------------------------

WORDS = [
    "diffusion",
    "Transformers",
    "self-supervised",
    "LLM",
    "naïve",
    "Straße",
    "ｔｒａｎｓ",
    "3d",
    "x:y",
    "ΐ",
    "graph.",
]
word = st.one_of(
    st.sampled_from(WORDS), st.text(string.ascii_letters + "éß-", min_size=1, max_size=8)
)
phrase = st.lists(word, min_size=1, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"')
category = st.sampled_from(["cs.LG", "math", "hep-th", "q-bio.NC", "cond-mat.mes-hall"])
leaf = st.one_of(
    word,
    phrase,
    st.tuples(st.sampled_from(["title", "abstract", "Title"]), st.one_of(word, phrase)).map(
        lambda p: f"{p[0]}:{p[1]}"
    ),
    st.sampled_from(["Ada Lovelace", "Zoë Müller", "Turing"]).map(lambda a: f'author:"{a}"'),
    category.map(lambda c: f"cat:{c}"),
    st.integers(1, 999).map(lambda n: f"upvotes:{n}"),
    st.lists(word, min_size=1, max_size=2).map(lambda ws: "title:(" + " OR ".join(ws) + ")"),
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(children, children)
    return st.one_of(
        pair.map(lambda p: f"({p[0]} OR {p[1]})"),
        pair.map(lambda p: f"{p[0]} or {p[1]}"),
        pair.map(lambda p: f"({p[0]} AND {p[1]})"),
        pair.map(lambda p: f"{p[0]} {p[1]}"),
        pair.map(lambda p: f"{p[0]} -{p[1]}"),
        pair.map(lambda p: f"{p[0]} NOT {p[1]}"),
    )


queries = st.recursive(leaf, _combine, max_leaves=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(queries)
def test_the_written_out_form_reads_back_as_the_same_query(query: str) -> None:
    try:
        node = parse(query)
    except InvalidInput:
        assume(False)
        raise
    written = str(node)
    assert parse(written) == node
    assert str(parse(written)) == written


SYNTAX = ' ()"-:ANDORNTandornt' + "titleabstractauthorcatupvotes" + "é1.>=ΐ\t\u200b"


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=80), st.text(SYNTAX, max_size=60)))
def test_garbage_is_refused_only_with_invalid_input(text: str) -> None:
    try:
        node = parse(text)
    except InvalidInput as error:
        assert str(error) and "\n" not in str(error)
        return
    # Whatever parses is a proper query whose written form parses to the same tree.
    assert parse(str(node)) == node
    assert len(str(node)) <= MAX_CANONICAL


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("prune", "we pruned the network"),
        ("pruning", "prune it"),
        ("scaling", "scaled up"),
        ("embedding", "word embeddings"),
        ("study", "two studies"),
        ("series", "a time series"),
        ("loss", "training losses"),
    ],
)
def test_inflected_forms_meet(query: str, text: str) -> None:
    assert evaluate(parse(query), doc("", text)).matched
