"""Reading a text with a vocabulary: its words as matching terms, compounds split into their
parts, and the aliases its acronyms, compounds and written-out expansions stand for, each at
the position of the words it stands for."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Container, Iterator
from itertools import compress, count

from paperbot.text import fold_words, split_words
from paperbot.vocabulary.shapes import acronym_core, concept_of, known_suffix, split_compound
from paperbot.vocabulary.table import Vocabulary

_WORD = re.compile(r"\w+")
Alias = tuple[str, int]  # (term, position of the word it stands for)
# text.ASCII_SEPARATORS as a bytes table: ASCII text is split on everything but \w (letters,
# digits, "_") a fifth faster through bytes.translate than through str.translate.
_SEPARATOR_BYTES = bytes(b if chr(b).isalnum() or b == ord("_") else 32 for b in range(256))


def annotate(text: str, vocabulary: Vocabulary) -> tuple[list[str], list[Alias]]:
    """`text` as matching terms, compounds split, with the aliases of its acronyms, compounds
    and expansions."""
    aliases: list[Alias] = []
    if text.isascii():
        written = text.encode("ascii").translate(_SEPARATOR_BYTES).decode("ascii").split()
        try:
            # Nearly every word of a day's abstracts was read before: its term in one lookup.
            found = list(map(_TERM_OF_WRITTEN.__getitem__, written))
            shaped: Collection[str] = _SHAPED.intersection(written)
        except KeyError:
            found, shaped = _read_new_words(written)
    else:
        written = _WORD.findall(unicodedata.normalize("NFKC", text))
        lowered = split_words(text)
        found = fold_words(lowered)
        # Words with a capital that are not just capitalised: "MoE", "KVCache", "3DGS".
        capitalised = set(written).difference(lowered)
        shaped = [w for w in capitalised if not (w.isalpha() and w[1:].islower())]
    if shaped and len(written) == len(found):
        found = _split_shaped(written, shaped, found, aliases, vocabulary)
    # Every expansion holds one of these terms (its rarest): most texts hold none or one, and
    # an expansion is sought only where its rarest term is.
    keys = vocabulary.expansion_keys.intersection(found)
    if keys:
        _expansions(found, keys, aliases, vocabulary)
    return found, aliases


# ASCII words as written ("Transformers", "MoE") -> their matching term, and the written words
# that are shaped (a capital that is not just capitalisation: "MoE", "KVCache", "3DGS", "A"):
# one lookup per word instead of lowercasing, folding and comparing cases per text. A word is
# only put in the first once it is in the second if shaped, so the two always agree.
_TERM_OF_WRITTEN: dict[str, str] = {}
_SHAPED: set[str] = set()
_WORD_CACHE_LIMIT = 500_000


def _is_shaped(word: str) -> bool:
    return word != word.lower() and not (word.isalpha() and word[1:].islower())


def _read_new_words(written: list[str]) -> tuple[list[str], Collection[str]]:
    """Terms and shaped words of a text with words not read before, which are kept for next
    time (while the cache has room; past that, the text is read without it)."""
    for word in set(written).difference(_TERM_OF_WRITTEN):
        if len(_TERM_OF_WRITTEN) >= _WORD_CACHE_LIMIT:
            return fold_words([w.lower() for w in written]), {w for w in written if _is_shaped(w)}
        if _is_shaped(word):
            _SHAPED.add(word)
        _TERM_OF_WRITTEN[word] = fold_words([word.lower()])[0]
    return list(map(_TERM_OF_WRITTEN.__getitem__, written)), _SHAPED.intersection(written)


def _split_shaped(
    written: list[str],
    shaped: Collection[str],
    found: list[str],
    aliases: list[Alias],
    vocab: Vocabulary,
) -> list[str]:
    """Aliases for acronyms; compounds replaced by their parts, their whole kept as an alias."""
    readings = _readings(vocab)
    meaningful: dict[str, Reading] = {}
    for word in shaped:
        reading = readings.get(word)
        if reading is None:
            reading = readings[word] = _read(word, vocab)
        if reading[0] or reading[1] is not None:
            meaningful[word] = reading
    if not meaningful:
        return found
    # Where they are, in order, in one pass in C (not one scan of the text per word).
    where = [(at, meaningful[written[at]]) for at in _where(written, meaningful)]
    if all(parts is None for _, (_, parts) in where):
        # Acronyms only (the common case): the words stay, the aliases go where they are.
        aliases.extend((concept, at) for at, (concepts, _) in where for concept in concepts)
        return found
    out: list[str] = []
    done = 0  # words of `found` already copied to `out`
    for index, (concepts, parts) in where:
        out.extend(found[done:index])
        done = index + 1
        at = len(out)
        for concept in concepts:
            aliases.append((concept, at))
        if parts is None:
            out.append(found[index])
            continue
        aliases.append((found[index], at))  # the compound whole: "kvcache" still matches
        for part, concept in parts:
            if concept:
                aliases.append((concept, len(out)))
            out.append(part)
    out.extend(found[done:])
    return out


# How a shaped word is read: (its concept terms, its parts as (term, concept or "") or None).
Reading = tuple[tuple[str, ...], tuple[tuple[str, str], ...] | None]


def _read(word: str, vocab: Vocabulary) -> Reading:
    concepts: list[str] = []
    core = acronym_core(word)
    # Only a known acronym (curated or mined) carries its concept: a subscription to any
    # other is read as the word too (query.reading), so no paper needs it.
    if core is not None and core in vocab.known:
        concepts.append(concept_of(core))
    if core is not None:
        form = known_suffix(word, vocab.known)
        if form is not None:
            concepts.append(concept_of(form))  # QLoRA is a LoRA too
    split = split_compound(word, vocab.known)
    if split is None:
        return tuple(concepts), None
    parts = []
    for part in split:
        # A part is an acronym only when it is a known one of three characters or more
        # (QLoRA's LoRA, ChatGPT's GPT): TruthfulQA is a benchmark, not question answering.
        known = part in vocab.known and len(part) >= 3
        (term,) = fold_words([part.lower()])
        parts.append((term, concept_of(part) if known else ""))
    return tuple(concepts), tuple(parts)


def _readings(vocab: Vocabulary) -> dict[str, Reading]:
    """Shaped words read before (a day's abstracts repeat their acronyms), per vocabulary."""
    memo = vocab._memo
    found = memo.get("readings")
    if not isinstance(found, dict) or len(found) > 200_000:
        memo["readings"] = found = {}
    return found


def _where(sequence: list[str], wanted: Container[str]) -> Iterator[int]:
    """The positions of the items of `sequence` that are in `wanted`, in order."""
    return compress(count(), map(wanted.__contains__, sequence))


def _expansions(
    found: list[str], keys: frozenset[str], aliases: list[Alias], vocab: Vocabulary
) -> None:
    """Aliases for every expansion of a known acronym written out in `found`: each found
    where its rarest term is (`keys`: those in `found`)."""
    table = vocab.by_expansion_key
    where: dict[str, list[int]] = {}
    for at in _where(found, keys):
        where.setdefault(found[at], []).append(at)
    for key, places in where.items():
        for expansion, offset, concept in table[key]:
            size = len(expansion)
            for at in places:
                begin = at - offset
                if begin >= 0 and tuple(found[begin : begin + size]) == expansion:
                    aliases.append((concept, begin))
