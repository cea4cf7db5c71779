"""How papers become tantivy documents, and the analyzers that make them agree with text.stems.

For ASCII text without "_", tantivy's simple tokenizer + lowercase + Snowball English gives
exactly text.stems (checked on 205,558 distinct words and on every bundled abstract) and runs in
tantivy's own indexing threads, several times cheaper than building tokens in Python. Text with
accented names or typographic punctuation is first rewritten into such ASCII text with the same
analysis, so nearly every paper goes to tantivy as one JSON string. The rest (letters outside
ASCII, "_") is analysed by text.stems and handed over pre-tokenized, so the index and the query
side always meet on the same stems.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime

import tantivy

from paperbot.models import Paper
from paperbot.text import fold_name, normalize, stems

# A character that is neither ASCII nor part of a word (\w): never inside a word of text.stems.
_NON_WORD = re.compile(r"[^\x00-\x7f\w]")
# Bump when the schema or the analysis changes: an index built the old way is wiped and rebuilt.
SCHEMA_VERSION = 4
# How many times the title goes into `text`: BM25F-style, a title word counts this many times
# in one saturation and one length norm with the abstract's words, under one idf. Chosen by
# benchmarks/search_quality.py (--formulas) over 1 copy plus the title field's own BM25 added
# (search.plan.TITLE_BOOST), which ranked title hits of words rare in titles too high.
TITLE_COPIES = 2


def new_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    # Only the id is stored: the service loads papers from the store, and a small doc store
    # keeps the index, and the page cache it needs, small.
    builder.add_text_field("arxiv_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("title", tokenizer_name="paperbot_en")
    # Title, abstract and keywords as one field, so a word scores once over all of them (see
    # search.plan); the title field beside it only adds the title's boost.
    builder.add_text_field("text", tokenizer_name="paperbot_en")
    builder.add_text_field("authors", tokenizer_name="paperbot_name")
    builder.add_text_field("categories", tokenizer_name="raw", index_option="basic")
    builder.add_date_field("day", indexed=True, fast=True)
    # A 64-bit hash of the id as a fast field: the second search phase reads it for a few
    # hundred candidates at once (no stored-document reads) and restricts scoring to them.
    builder.add_unsigned_field("key", indexed=True, fast=True)
    return builder.build()


def paper_key(arxiv_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(arxiv_id.encode(), digest_size=8).digest(), "big")


def english_analyzer() -> tantivy.TextAnalyzer:
    """text.stems for ASCII text without "_" (the only text it is given)."""
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    builder = builder.filter(tantivy.Filter.lowercase())
    return builder.filter(tantivy.Filter.stemmer("english")).build()


def name_analyzer() -> tantivy.TextAnalyzer:
    """text.fold_name for ASCII names without "_" (the only names it is given)."""
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    return builder.filter(tantivy.Filter.lowercase()).build()


def register_analyzers(index: tantivy.Index) -> None:
    """Tokenizers are not saved in the index: every open registers them again."""
    index.register_tokenizer("paperbot_en", english_analyzer())
    index.register_tokenizer("paperbot_name", name_analyzer())


IndexDocument = str | tantivy.Document


def documents(papers: Iterable[Paper]) -> Iterator[tuple[str, IndexDocument]]:
    """(arXiv id, document) for each distinct id, the last of a repeated id winning, built as
    they are consumed. Building them is plain Python (the GIL-bound part of indexing): a
    pipeline can build the next batch's while tantivy's own threads index this one."""
    latest = {paper.arxiv_id: paper for paper in papers}
    return ((arxiv_id, document(paper)) for arxiv_id, paper in latest.items())


def document(paper: Paper) -> IndexDocument:
    """The paper as tantivy indexes it: one JSON string, which tantivy reads in Rust (a third
    of the cost of filling a Document field by field), whenever every text has a plain-ASCII
    form tantivy analyses exactly as paperbot.text does; otherwise a pre-tokenized Document."""
    title = _english_text(paper.title)
    abstract = [_english_text(text) for text in (paper.abstract, *paper.ai_keywords)]
    authors = [_name_text(author) for author in paper.authors]
    if title is None or None in abstract or None in authors:
        return _tokenized_document(paper, title, abstract, authors)
    fields: dict[str, object] = {
        "arxiv_id": paper.arxiv_id,
        "key": paper_key(paper.arxiv_id),
        "title": title,
        # One value each: tantivy keeps a position gap between values, so no phrase spans two.
        "text": [*(title,) * TITLE_COPIES, *abstract],
        # One value per author, so a name phrase never spans two.
        "authors": authors,
        "categories": [category.lower() for category in paper.categories],
    }
    day = _paper_day(paper)
    if day is not None:
        fields["day"] = f"{day.isoformat()}T00:00:00Z"
    return json.dumps(fields)


def _tantivy_analyzes(text: str) -> bool:
    """Whether tantivy's own analyzers give exactly text.stems / text.fold_name for `text`."""
    return text.isascii() and "_" not in text


def _english_text(text: str) -> str | None:
    """`text`, or a plain-ASCII text with the same text.stems, for tantivy to analyse; None if
    there is none. Most non-ASCII in abstracts is punctuation (dashes, curly quotes, math
    symbols) between words: after text.normalize, a space in its place splits the same words."""
    if _tantivy_analyzes(text):
        return text
    plain = _NON_WORD.sub(" ", normalize(text))
    return plain if _tantivy_analyzes(plain) else None


def _name_text(name: str) -> str | None:
    """An author name as plain-ASCII words with the same text.fold_name, or None. Names are
    not stemmed, so their folded words can simply be joined: "Müller" goes in as "muller"."""
    if _tantivy_analyzes(name):
        return name
    plain = " ".join(fold_name(name))
    return plain if _tantivy_analyzes(plain) else None


def _tokenized_document(
    paper: Paper, title: str | None, abstract: list[str | None], authors: list[str | None]
) -> tantivy.Document:
    """The paper field by field: each text with a plain form (see `document`) as that text,
    the others pre-tokenized by text.stems or text.fold_name."""
    doc = tantivy.Document()
    doc.add_text("arxiv_id", paper.arxiv_id)
    doc.add_unsigned("key", paper_key(paper.arxiv_id))
    _add_text(doc, "title", paper.title, title, stems)
    texts = (*(paper.title,) * TITLE_COPIES, paper.abstract, *paper.ai_keywords)
    plains = (*(title,) * TITLE_COPIES, *abstract)
    for text, plain in zip(texts, plains, strict=True):
        _add_text(doc, "text", text, plain, stems)
    for author, plain in zip(paper.authors, authors, strict=True):
        _add_text(doc, "authors", author, plain, fold_name)
    for category in paper.categories:
        doc.add_text("categories", category.lower())
    day = _paper_day(paper)
    if day is not None:
        doc.add_date("day", datetime(day.year, day.month, day.day, tzinfo=UTC))
    return doc


def _add_text(
    doc: tantivy.Document,
    field: str,
    text: str,
    plain: str | None,
    analyze: Callable[[str], list[str]],
) -> None:
    """Index `plain` for tantivy to analyse, or else `text` as `analyze(text)` gives it."""
    if plain is not None:
        doc.add_text(field, plain)
        return
    words = analyze(text)
    if words:
        tokens = [tantivy.Token(w, i, 0, 0) for i, w in enumerate(words)]
        doc.add_pre_tokenized_text(field, tantivy.PreTokenizedString(text, tokens))


def _paper_day(paper: Paper) -> date | None:
    """The day a paper counts as new for since:, the later of published and featured."""
    days = [d for d in (paper.published_at and paper.published_at.date(), paper.featured_on) if d]
    return max(days) if days else None
