"""Stored-query matching: subscriptions are filed under the keys they need, so a paper only ever
meets the subscriptions that could match it (the presearcher idea behind Lucene's Monitor),
never every subscription. Results are identical to evaluating every pair (`match_naively`; a
property test holds the index to it).

What keeps a day (2,000 papers) against 100,000 subscriptions near a second in pure Python
(benchmarks/bench_matching.py):
- identical queries (many channels follow "diffusion") are one entry, decided once per paper
  and fanned out to every subscriber;
- most queries are decided by set algebra in C: a query that is an AND of ORs of "leaves"
  (a word, a two-word phrase, an author, a category) and of excluded leaves is filed under
  its leaves' keys; the keys a paper holds select the queries whose slots all hold, minus
  those an excluded leaf rules out, and give the field each matched in;
- the rest (upvote filters, longer phrases, nested negations) are compiled once into closures
  and only run when their rarest key (by document frequency in the bundled sample of real
  abstracts), and a second necessary key, are in the paper;
- a query's parse, placement and closure are cached by its text, so the long-lived index
  follows the store (`sync`) at little cost.

Modules, in the order a query goes through them:
- ranks: how a compiled query reports where it matched (field ranks), and shared type aliases;
- anchors: which keys every matching paper must hold, and how rare each is;
- compile: a query's meaning as a key (`query_key`) and as a closure (`compile_query`);
- placement: where a query is filed in the index (set-decided or checked), cached per text;
- filing: a distinct query with its subscribers, and the buckets of the tables it is filed in;
- paper_keys: which filed keys a paper holds, field by field (a paper's first step);
- index: `SubscriptionIndex`, matching papers against the filed queries;
- rows: the day's matches fanned out to one row per subscriber for the store;
- naive: `Match` and `match_naively`, the reference the index must agree with.
"""

from paperbot.matching.anchors import anchor_terms, default_rarity
from paperbot.matching.compile import compile_query, query_key
from paperbot.matching.index import Group, SubscriptionIndex, Table
from paperbot.matching.naive import Match, match_naively
from paperbot.matching.placement import MAX_SLOTS, Branch, Leaf, Slot
from paperbot.matching.ranks import Anchor, Check, Rarity
from paperbot.matching.rows import QueryMatch, subscription_rows

__all__ = [
    "MAX_SLOTS",
    "Anchor",
    "Branch",
    "Check",
    "Group",
    "Leaf",
    "Match",
    "QueryMatch",
    "Rarity",
    "Slot",
    "SubscriptionIndex",
    "Table",
    "anchor_terms",
    "compile_query",
    "default_rarity",
    "match_naively",
    "query_key",
    "subscription_rows",
]
