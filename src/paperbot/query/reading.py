"""How a typed word or phrase is read, as a Text node: acronyms as their concept (`MoE` meets
"mixture of experts" and QLoRA's LoRA), compounds as their parts (`KVCache` as "kv cache"),
a curated expansion as itself or its acronym, and `=word` exactly as written.

Only the curated table is consulted here, never pairs mined at ingest: what a stored
subscription means must not change with the papers that came in (mined pairs act on the
papers' side, see analysis)."""

from __future__ import annotations

import unicodedata

from paperbot.analysis import query_terms
from paperbot.query.nodes import Scope, Terms, Text
from paperbot.text import normalize, split_words, terms
from paperbot.vocabulary import acronym_core, concept_of, curated, split_compound
from paperbot.vocabulary.table import ordinary_words

EXACT = "="  # `=MoE`: the word as written, no expansion, no compound parts


def read_text(raw: str, scope: Scope) -> Text | None:
    """`raw` as a Text in `scope`, or None when it has no words."""
    written = " ".join(unicodedata.normalize("NFKC", raw).split())
    if written.startswith(EXACT):
        found = tuple(terms(written[1:]))
        # Shown as typed (`=MoE`, not `=moe`): the words match in any case, whole words only.
        return Text(found, written, scope) if found else None
    words = written.split()
    if len(words) == 1 and len(split_words(written)) == 1:
        return _read_word(written, scope)
    found = query_terms(written)
    if not found:
        return None
    shown = " ".join(_shown(w) for w in words)
    concept = curated().concept_of_phrase(found)
    return Text(found, shown, scope, ((concept,),) if concept else ())


def _read_word(word: str, scope: Scope) -> Text | None:
    core = _acronym(word)
    parts = split_compound(word.strip("-_'.,;!?"), curated().known)
    found = query_terms(word)
    if not found:
        return None
    if core is not None:
        if core in curated().known:
            # Case-aware: the concept only, which papers writing SAM (not Sam or sample), or
            # an expansion, carry; for a compound acronym (GPT4) its parts too ("GPT-4").
            aliases: tuple[Terms, ...] = (found,) if parts is not None and len(found) > 1 else ()
            return Text((concept_of(core),), word, scope, aliases)
        # Not in the table: the word as written, or the concept a mined definition gives it.
        return Text((concept_of(core),), word, scope, (found,))
    return Text(found, _shown(word), scope)  # KVCache: the phrase "kv cache"


def _acronym(word: str) -> str | None:
    """The acronym a typed word is, if it is one: written like one, and either in the curated
    table or not an ordinary word in capitals ("ROBOT" is the word robot)."""
    bare = word.strip("-_'.,;!?")
    core = acronym_core(bare)
    if core is None:
        return None
    if core in curated().known or core.lower() not in ordinary_words():
        return core
    return None


def _shown(word: str) -> str:
    """A word as it is stored: lowercased unless its case says what it is (KVCache)."""
    lower = normalize(word)
    return lower if query_terms(lower) == query_terms(word) else word
