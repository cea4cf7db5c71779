"""Running a QueryPlan on a tantivy searcher: tier by tier, phrases scored on a window, and a
typo fallback for words no paper holds."""

from __future__ import annotations

import string
from dataclasses import replace

import tantivy

from paperbot.search.plan import QueryPlan
from paperbot.search.request import SearchRequest
from paperbot.text import stem

# How many best papers of a tier by words alone get their phrase bonus evaluated. Phrases
# switch off tantivy's block-max WAND pruning, so scoring them over every paper that holds a
# common word costs tens of ms at a million papers; on the window it costs a fraction of one.
WINDOW = 200
# When a tier may hold more papers than this (for the all-words tier: when even the rarest
# word is in this many), it is a big intersection that tantivy would score doc by doc (no
# pruning): tens of ms at a million papers. Then the best WINDOW papers of the union
# (block-max WAND) are ranked into that tier and the next instead: a paper holding more of the
# words scores higher than one holding fewer, so the best of them are in that window. Quoted
# phrases of such words are first looked for in that window too (see _phrases_in_window).
EXACT_TIERS_MAX_DOCS = 20_000
# How many of those get the phrase bonuses evaluated: the bonus queries' cost grows with it
# (at 200 they took two thirds of a three-word search at 200,000 papers; at 50, a fifth).
BONUS_WINDOW = 50
# A typed word no paper holds is corrected only when it is this long: shorter words (and
# acronyms) have too many neighbours one edit away to guess which was meant.
MIN_CORRECTED_LENGTH = 4
_LETTERS = string.ascii_lowercase

Found = list[tuple[float, tantivy.DocAddress]]


def retrieve(searcher: tantivy.Searcher, query_plan: QueryPlan, limit: int) -> Found:
    """The best `limit` papers: every hit holding all the words before any missing one."""
    if not query_plan.words:  # filters alone: newest first
        result = searcher.search(
            query_plan.filter_query(), limit, count=False, order_by_field="day"
        )
        return [(0.0, address) for _, address in result.hits]
    if _common_phrases_only(searcher, query_plan):
        found = _phrases_in_window(searcher, query_plan, limit)
        if found is not None:
            return found
    found = []
    seen: set[tuple[int, int]] = set()
    for at_least in query_plan.tiers:
        if at_least > 1 and _big_tier(searcher, query_plan, at_least):
            found += _tiers_in_window(searcher, query_plan, limit - len(found), seen)
            break
        query = _tier(query_plan, at_least)
        candidates = searcher.search(query, WINDOW, count=False).hits
        fresh = [(score, address) for score, address in candidates if _slot(address) not in seen]
        seen.update(_slot(address) for _, address in candidates)
        found += _with_bonus(searcher, query_plan, fresh)[: limit - len(found)]
        if len(found) >= limit:
            break
    return found


def _big_tier(searcher: tantivy.Searcher, query_plan: QueryPlan, at_least: int) -> bool:
    """Whether the papers holding `at_least` of the words may be too many to score one by one.
    Each of them holds one of the n - at_least + 1 rarest words (missing all of those leaves
    at most at_least - 1), so those words' papers bound the tier: "lepemumo language model"
    has a small all-words tier but a huge all-but-one ("language model" alone)."""
    if query_plan.required or query_plan.filters:
        return False  # they narrow the intersection: the exact tiers stay cheap enough
    frequencies = sorted(searcher.doc_freq("text", w) for w in query_plan.words)
    return sum(frequencies[: len(frequencies) - at_least + 1]) > EXACT_TIERS_MAX_DOCS


def _tiers_in_window(
    searcher: tantivy.Searcher,
    query_plan: QueryPlan,
    limit: int,
    seen: set[tuple[int, int]] | None = None,
) -> Found:
    """The union's best WINDOW (but those `seen` in an earlier tier), with bonuses, ordered by
    how many of the words each holds."""
    candidates = searcher.search(_tier(query_plan, 1), WINDOW, count=False).hits
    candidates = [hit for hit in candidates if not seen or _slot(hit[1]) not in seen]
    if not candidates:
        return []
    ranked = _with_bonus(searcher, query_plan, candidates)
    only = _only(searcher, query_plan, candidates)
    holding: dict[tuple[int, int], int] = {}
    for word in query_plan.words:
        term = tantivy.Query.term_query(query_plan.schema, "text", word)
        for _, address in _among(searcher, only, term, len(candidates)):
            holding[_slot(address)] = holding.get(_slot(address), 0) + 1
    position = {_slot(address): n for n, (_, address) in enumerate(ranked)}
    ranked.sort(key=lambda hit: (-holding.get(_slot(hit[1]), 0), position[_slot(hit[1])]))
    return ranked[:limit]


def _common_phrases_only(searcher: tantivy.Searcher, query_plan: QueryPlan) -> bool:
    """Quoted phrases alone, no filter, every word of them in many papers: tantivy would
    check the positions of every paper holding all the words ("to be": nearly every one)."""
    if not query_plan.from_phrases or query_plan.filters:
        return False
    return min(searcher.doc_freq("text", w) for w in query_plan.words) > EXACT_TIERS_MAX_DOCS


def _phrases_in_window(
    searcher: tantivy.Searcher, query_plan: QueryPlan, limit: int
) -> Found | None:
    """The papers among the best WINDOW by the phrases' words (block-max WAND) that hold the
    phrases, scored exactly; None when fewer than `limit` do (a rare phrase of common words:
    the exact search is needed)."""
    candidates = searcher.search(_union(query_plan), WINDOW, count=False).hits
    only = _only(searcher, query_plan, candidates)
    query = query_plan.tier_query(len(query_plan.words))
    holding = _among(searcher, only, query, len(candidates))
    if len(holding) < limit:
        return None
    holding.sort(key=lambda hit: (-hit[0], _slot(hit[1])))
    return _with_bonus(searcher, query_plan, holding)[:limit]


def _only(searcher: tantivy.Searcher, query_plan: QueryPlan, candidates: Found) -> tantivy.Query:
    """Matches exactly the candidates, scoring 0. One TermQuery per key: tantivy's
    TermSetQuery walks the whole key dictionary."""
    Q, Occur = tantivy.Query, tantivy.Occur
    keys = searcher.fast_field_values("key", [address for _, address in candidates])
    return Q.const_score_query(
        Q.boolean_query([(Occur.Should, Q.term_query(query_plan.schema, "key", k)) for k in keys]),
        0.0,
    )


def _among(
    searcher: tantivy.Searcher, only: tantivy.Query, query: tantivy.Query, count: int
) -> Found:
    """`query`'s hits among the candidates `only` matches."""
    Q, Occur = tantivy.Query, tantivy.Occur
    both = Q.boolean_query([(Occur.Must, only), (Occur.Must, query)])
    hits: Found = searcher.search(both, count, count=False).hits
    return hits


def _tier(query_plan: QueryPlan, at_least: int) -> tantivy.Query:
    """The tier's query; "any word" without MUST clauses as a plain union of term queries,
    which tantivy prunes with block-max WAND (a hit in the title is a hit in the text)."""
    if at_least > 1 or query_plan.required or query_plan.filters:
        return query_plan.tier_query(at_least)
    return _union(query_plan)


def _union(query_plan: QueryPlan) -> tantivy.Query:
    """Papers holding any of the words, as a plain union of term queries."""
    Q, Occur = tantivy.Query, tantivy.Occur
    schema = query_plan.schema
    clauses = [(Occur.Should, Q.term_query(schema, "text", w)) for w in query_plan.words]
    clauses += [(Occur.Should, q) for q in query_plan.title_terms()]
    return Q.boolean_query(clauses + query_plan.exclusions())


def _with_bonus(searcher: tantivy.Searcher, query_plan: QueryPlan, found: Found) -> Found:
    """The best BONUS_WINDOW of `found` (best first) re-scored with the phrase bonuses; the
    rest follow unchanged (a bonus only adds, so none of them can pass the re-scored ones)."""
    if not found or not query_plan.bonus:
        return found
    candidates, rest = found[:BONUS_WINDOW], found[BONUS_WINDOW:]
    addresses = {_slot(address): address for _, address in candidates}
    scores = {_slot(address): float(score) for score, address in candidates}
    only = _only(searcher, query_plan, candidates)
    for bonus in query_plan.bonus:
        # Separate queries, not one union: a union seeked doc by doc refills whole blocks.
        for score, address in _among(searcher, only, bonus, len(candidates)):
            slot = _slot(address)
            if slot in scores:
                scores[slot] += float(score)
    best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [(score, addresses[slot]) for slot, score in best] + rest


def corrected(
    searcher: tantivy.Searcher, request: SearchRequest
) -> tuple[SearchRequest, tuple[tuple[str, str], ...]]:
    """The request with each typed word that no paper holds replaced by the word one edit
    away that most papers hold, and the (typed, used instead) pairs."""
    terms = list(request.terms)
    changes: list[tuple[str, str]] = []
    for i, (term, typed) in enumerate(zip(request.terms, request.words, strict=False)):
        if len(typed) < MIN_CORRECTED_LENGTH or not typed.isalpha() or not typed.isascii():
            continue
        if searcher.doc_freq("text", term):
            continue
        best: tuple[int, str, str] | None = None
        for candidate in _one_edit(typed):
            candidate_stem = stem(candidate)
            frequency = searcher.doc_freq("text", candidate_stem)
            if frequency and (best is None or (frequency, candidate) > best[:2]):
                best = (frequency, candidate, candidate_stem)
        if best is not None:
            terms[i] = best[2]
            changes.append((typed, best[1]))
    if not changes:
        return request, ()
    return replace(request, terms=tuple(terms)), tuple(changes)


def _one_edit(word: str) -> set[str]:
    """Every word one deletion, swap, replacement or insertion away (Norvig's edits1)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    swaps = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in _LETTERS]
    inserts = [a + c + b for a, b in splits for c in _LETTERS]
    return set(deletes + swaps + replaces + inserts) - {word}


def _slot(address: tantivy.DocAddress) -> tuple[int, int]:
    return (address.segment_ord, address.doc)
