"""From a SearchRequest to tantivy queries, built clause by clause (never by tantivy's parser).

A hit's score is a plain sum: BM25 of every word in the title (boosted) and the abstract, plus
the typed word sequence as a boosted phrase, plus each quoted phrase, which is also required.
Filters restrict and add nothing. The clauses are kept apart so the index can score them in
two phases (see SearchIndex.search) and still give the same sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import tantivy

from paperbot.search.request import MAX_PHRASE_WORDS, SearchRequest
from paperbot.text import stem

TITLE_BOOST = 3.0
PHRASE_BOOST = 2.0

# Words in almost every abstract: as loose words they cost the most and rank the least, so
# they only count when a query has nothing else. They stay in phrases, where "attention is
# all you need" needs every one of them.
STOPWORDS = frozenset(
    stem(w)
    for w in (
        *("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in"),
        *("into", "is", "it", "its", "of", "on", "or", "our", "that", "the", "their", "this"),
        *("to", "via", "was", "we", "were", "which", "with"),
    )
)


@dataclass(slots=True)
class QueryPlan:
    words: list[tantivy.Query] = field(default_factory=list)  # SHOULD: a term in a field
    bonus: list[tantivy.Query] = field(default_factory=list)  # SHOULD: the typed phrase
    required: list[tuple[tantivy.Query, tantivy.Query]] = field(default_factory=list)  # MUST
    filters: list[tantivy.Query] = field(default_factory=list)  # MUST, scoring nothing

    @property
    def is_word_union(self) -> bool:
        """Only SHOULD term clauses: tantivy prunes this with block-max WAND."""
        return not (self.bonus or self.required or self.filters)

    def words_query(self) -> tantivy.Query:
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in self.words])

    def full_query(self) -> tantivy.Query:
        Q, Occur = tantivy.Query, tantivy.Occur
        clauses = [(Occur.Should, q) for q in (*self.words, *self.bonus)]
        for title, abstract in self.required:
            either = Q.boolean_query([(Occur.Should, title), (Occur.Should, abstract)])
            clauses.append((Occur.Must, either))
        clauses += [(Occur.Must, Q.const_score_query(q, 0.0)) for q in self.filters]
        if not clauses:
            return Q.all_query()
        if self.words and (self.required or self.filters):
            # Next to MUST clauses, SHOULD ones turn optional: ask for one word, or a filter
            # alone would return every paper of a category at score 0.
            return Q.boolean_query(clauses, minimum_number_should_match=1)
        return Q.boolean_query(clauses)


def plan(schema: tantivy.Schema, request: SearchRequest) -> QueryPlan:
    Q, Occur = tantivy.Query, tantivy.Occur
    result = QueryPlan()
    every = list(dict.fromkeys([*request.terms, *(w for p in request.phrases for w in p)]))
    for word in [w for w in every if w not in STOPWORDS] or every:
        result.words.append(field_query(schema, "title", (word,), TITLE_BOOST))
        result.words.append(field_query(schema, "abstract", (word,), 1.0))
    if 2 <= len(request.terms) <= MAX_PHRASE_WORDS:
        boost = TITLE_BOOST * PHRASE_BOOST
        result.bonus.append(field_query(schema, "title", request.terms, boost))
        result.bonus.append(field_query(schema, "abstract", request.terms, PHRASE_BOOST))
    for phrase in request.phrases:
        result.required.append(
            (
                field_query(schema, "title", phrase, TITLE_BOOST),
                field_query(schema, "abstract", phrase, 1.0),
            )
        )
    if request.since is not None:
        start = datetime(request.since.year, request.since.month, request.since.day, tzinfo=UTC)
        # The inverted index turns a recent since: into a small doc set that can lead an
        # intersection; a fast-field range would scan every paper's date.
        result.filters.append(
            Q.range_query(
                schema, "day", tantivy.FieldType.Date, start, None, use_inverted_index=True
            )
        )
    for author in request.authors:
        result.filters.append(field_query(schema, "authors", tuple(author.split()), 1.0))
    if request.categories:
        result.filters.append(
            Q.boolean_query(
                [(Occur.Should, Q.term_query(schema, "categories", c)) for c in request.categories]
            )
        )
    return result


def field_query(
    schema: tantivy.Schema, field_name: str, words: tuple[str, ...], boost: float
) -> tantivy.Query:
    Q = tantivy.Query
    if len(words) == 1:  # tantivy panics on a one-word phrase
        query = Q.term_query(schema, field_name, words[0])
    else:
        query = Q.phrase_query(schema, field_name, list(words))
    return query if boost == 1.0 else Q.boost_query(query, boost)
