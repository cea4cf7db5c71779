"""From a SearchRequest to tantivy queries, built clause by clause (never by tantivy's parser).

Ranking, as chosen by benchmarks/search_quality.py (known-item queries over real listings):
- papers holding every word of the query come first, then those missing one, then the rest
  (SearchIndex.search runs these tiers in turn until it has enough hits);
- within a tier, each word scores BM25F-style in `text`: the title (twice, see
  search.analysis.TITLE_COPIES) and the abstract as one field, so words spread over both add
  up and saturate together under one idf, and a title word counts double;
- the words typed next to each other score a bonus as a phrase in the title, and as a sloppy
  phrase (the words close together, in order) in the text;
- quoted phrases are required; filters restrict and score nothing; excluded words and phrases
  (-word, -"a phrase") rule a paper out wherever they occur in its title or abstract.
The boosts below were picked by a sweep on the evaluation's tuning seed (title boost 1-3,
phrase 0-2, proximity 0-1, slop 1 or 3): the tiers gave nearly all of the gain (abstract-word
queries 52 % -> 98 % first); proximity added ~0.3 %, the phrase boost and title boost moved
top-1 by a few queries either way; 2.0 keeps title-word queries first without hurting others.
Then BM25F-style title copies in `text` (1 to 4) against that 1 copy plus the title field's own
BM25 x 2.0, on seed 1 at both --rarity 1 and 0: 2 copies and no title term score tied at
rarity 1 (within a query or two) and won at rarity 0 (generic words: the title field's own idf
made a word rare in titles outweigh the abstract); the held-out seed 2 agreed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import tantivy

from paperbot.search.request import MAX_PHRASE_WORDS, SearchRequest
from paperbot.text import stem

# Each word's own BM25 in the title field, added to its score in `text`: 0 (none) since the
# title counts through its copies in `text`; search_quality.py's "combined" formula sets 2.0.
TITLE_BOOST = 0.0
TITLE_PHRASE_BOOST = 2.0  # the typed words, or a quoted phrase, as a phrase in the title
PHRASE_BOOST = 1.0  # the typed words as a phrase in the text
PROXIMITY_BOOST = 1.0  # the typed words close together in the text
PROXIMITY_SLOP = 3  # gaps allowed per pair of typed words

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
    schema: tantivy.Schema
    words: list[str] = field(default_factory=list)  # distinct stems that score
    from_phrases: bool = False  # the words are the quoted phrases' (nothing typed unquoted)
    bonus: list[tantivy.Query] = field(default_factory=list)  # SHOULD, evaluated on a window
    required: list[tantivy.Query] = field(default_factory=list)  # MUST: quoted phrases
    filters: list[tantivy.Query] = field(default_factory=list)  # MUST, scoring nothing
    excluded: list[tantivy.Query] = field(default_factory=list)  # MUST NOT

    @property
    def tiers(self) -> list[int]:
        """How many of the words a hit must hold, tier by tier: all, all but one, any."""
        n = len(self.words)
        return sorted({n, max(n - 1, 1), 1}, reverse=True) if n else []

    def tier_query(self, at_least: int) -> tantivy.Query:
        """Papers holding `at_least` of the words (and every required phrase and filter),
        scored by the words. `text` holds the title too, so matching goes by `text` alone
        and the title only adds score: an intersection of plain term lists, the cheapest."""
        Q, Occur = tantivy.Query, tantivy.Occur
        in_text = [Q.term_query(self.schema, "text", w) for w in self.words]
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        if at_least >= len(self.words):
            clauses += [(Occur.Must, q) for q in in_text]
        else:
            any_of = [(Occur.Should, q) for q in in_text]
            clauses.append(
                (Occur.Must, Q.boolean_query(any_of, minimum_number_should_match=at_least))
            )
        clauses += [(Occur.Should, q) for q in self.title_terms()]
        clauses += [(Occur.Must, q) for q in self.required]
        clauses += [(Occur.Must, Q.const_score_query(q, 0.0)) for q in self.filters]
        return Q.boolean_query(clauses + self.exclusions())

    def exclusions(self) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        return [(tantivy.Occur.MustNot, q) for q in self.excluded]

    def title_terms(self) -> list[tantivy.Query]:
        if TITLE_BOOST <= 0:
            return []
        return [title_query(self.schema, (w,)) for w in self.words]

    def filter_query(self) -> tantivy.Query:
        """Required phrases and filters alone (a request without loose words)."""
        Q, Occur = tantivy.Query, tantivy.Occur
        clauses = [(Occur.Must, q) for q in self.required]
        clauses += [(Occur.Must, Q.const_score_query(q, 0.0)) for q in self.filters]
        if not clauses:
            return Q.boolean_query([(Occur.Must, Q.all_query()), *self.exclusions()])
        return Q.boolean_query(clauses + self.exclusions())


def plan(schema: tantivy.Schema, request: SearchRequest) -> QueryPlan:
    Q, Occur = tantivy.Query, tantivy.Occur
    result = QueryPlan(schema)
    loose = list(dict.fromkeys(request.terms))
    result.words = [w for w in loose if w not in STOPWORDS] or loose
    if not loose:  # only quoted phrases: their words score
        result.from_phrases = bool(request.phrases)
        phrase_words = dict.fromkeys(w for p in request.phrases for w in p)
        result.words = [w for w in phrase_words if w not in STOPWORDS] or list(phrase_words)
    typed = request.terms[:MAX_PHRASE_WORDS]
    if len(typed) >= 2:
        result.bonus.append(title_phrase_query(schema, typed))
        result.bonus.append(Q.boost_query(text_query(schema, typed), PHRASE_BOOST))
        slop = PROXIMITY_SLOP * (len(typed) - 1)
        near = Q.phrase_query(schema, "text", list(typed), slop=slop)
        result.bonus.append(Q.boost_query(near, PROXIMITY_BOOST))
    for phrase in request.phrases:
        result.required.append(text_query(schema, phrase))
        if len(phrase) >= 2:
            result.bonus.append(title_phrase_query(schema, phrase))
    result.excluded = [text_query(schema, words) for words in request.excluded]
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
        result.filters.append(_words_query(schema, "authors", tuple(author.split())))
    if request.categories:
        result.filters.append(
            Q.boolean_query(
                [(Occur.Should, Q.term_query(schema, "categories", c)) for c in request.categories]
            )
        )
    return result


def title_query(schema: tantivy.Schema, words: tuple[str, ...]) -> tantivy.Query:
    return tantivy.Query.boost_query(_words_query(schema, "title", words), TITLE_BOOST)


def title_phrase_query(schema: tantivy.Schema, words: tuple[str, ...]) -> tantivy.Query:
    return tantivy.Query.boost_query(_words_query(schema, "title", words), TITLE_PHRASE_BOOST)


def text_query(schema: tantivy.Schema, words: tuple[str, ...]) -> tantivy.Query:
    return _words_query(schema, "text", words)


def _words_query(schema: tantivy.Schema, field_name: str, words: tuple[str, ...]) -> tantivy.Query:
    if len(words) == 1:  # tantivy panics on a one-word phrase
        return tantivy.Query.term_query(schema, field_name, words[0])
    return tantivy.Query.phrase_query(schema, field_name, list(words))
