"""`/papers search`: a lenient query reader and a BM25 index over every stored paper."""

from paperbot.search.analysis import english_analyzer
from paperbot.search.index import (
    CATCH_UP_BATCH,
    PaperFeed,
    SearchHit,
    SearchIndex,
    SearchResult,
)
from paperbot.search.request import MAX_TERMS, SearchRequest, parse_search
from paperbot.search.storage import STATE_FILE

__all__ = [
    "CATCH_UP_BATCH",
    "MAX_TERMS",
    "STATE_FILE",
    "PaperFeed",
    "SearchHit",
    "SearchIndex",
    "SearchRequest",
    "SearchResult",
    "english_analyzer",
    "parse_search",
]
