"""Field ranks: how a compiled query says where it matched, as a small int; and the type
aliases the matching modules share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from paperbot.analysis import AnalyzedPaper
from paperbot.models import MatchField

# A compiled query answers -1 for no match, 0 for a match without a field (only filters and
# exclusions held) and otherwise the rank of the strongest field, ranked by MatchField.weight.
_BY_WEIGHT = sorted(MatchField, key=lambda f: f.weight)
assert len({f.weight for f in _BY_WEIGHT}) == len(_BY_WEIGHT), "field weights must differ"
_RANK: Final = {field: rank for rank, field in enumerate(_BY_WEIGHT, start=1)}
_FIELD_OF_RANK: Final = (MatchField.ABSTRACT, *_BY_WEIGHT)
_TITLE, _KEYWORDS, _ABSTRACT = (
    _RANK[MatchField.TITLE],
    _RANK[MatchField.KEYWORDS],
    _RANK[MatchField.ABSTRACT],
)
_AUTHOR, _CATEGORY = _RANK[MatchField.AUTHOR], _RANK[MatchField.CATEGORY]
_MISS = -1

Check = Callable[[AnalyzedPaper], int]
Rarity = Mapping[str, float]
# An anchor is a term (str) or an adjacent pair of text terms (a tuple: no string per pair).
Anchor = str | tuple[str, str]
