"""The field's vocabulary: acronyms and their expansions (a curated table shipped in the
package, and pairs mined from papers at ingest), and how compounds and acronyms are written.

- shapes: reading a word as written: `acronym_core` ("LLMs" -> LLM), `split_compound`
  ("KVCache" -> KV, Cache), `concept_of` (the term all spellings of an acronym meet on);
- table: `Vocabulary` (acronyms -> expansions), `curated()` (acronyms.tsv), `usable_pair`;
- mining: `mine_pairs`, definitions like "mixture of experts (MoE)" found in abstracts;
- stopwords: the words a subscription cannot be made of alone.
"""

from paperbot.vocabulary.mining import mine_pairs
from paperbot.vocabulary.shapes import (
    CONCEPT,
    acronym_core,
    concept_of,
    known_suffix,
    split_compound,
)
from paperbot.vocabulary.table import Vocabulary, curated, fold_phrase, usable_pair

__all__ = [
    "CONCEPT",
    "Vocabulary",
    "acronym_core",
    "concept_of",
    "curated",
    "fold_phrase",
    "known_suffix",
    "mine_pairs",
    "split_compound",
    "usable_pair",
]
