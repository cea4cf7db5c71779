"""The shapes of technical words, read from how they are written (so case matters here, and
only here): acronyms ("MoE", "LLMs", "3DGS") and compounds ("KVCache", "Text2Video",
"QLoRA") that stand for words written apart elsewhere."""

from __future__ import annotations

import re
from collections.abc import Collection

MAX_ACRONYM = 8  # letters and digits, without a plural s
# Pieces of a camelCase or letter-digit word: an uppercase run before a capitalised word or a
# digit ("KV" in "KVCache"), a (capitalised) lowercase run, digits, any uppercase run.
_PIECES = re.compile(r"[A-Z]{2,}(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z]+|\d+|[A-Z]+")
_LETTERS_DIGITS = re.compile(r"[A-Za-z]+|\d+")
# A digit between two words of a compound reads as a word: Text2Video, Seq2Seq, Data4Science.
_DIGIT_WORDS = {"2": "to", "4": "for"}
CONCEPT = "~"  # prefix of a concept term: no word of any text can start with it


def acronym_core(word: str) -> str | None:
    """The acronym `word` is written as, without a plural s ("LLMs" -> "LLM"), or None when it
    is not written like one: at most MAX_ACRONYM characters, at least two capitals, at least
    half of its letters capitals, starting with a capital or a digit ("MoE", "LoRA", "3DGS",
    "GPT4"; not "KVCache", "DeepSeek", "iPhone" or "Transformer")."""
    if len(word) < 2 or not word.isascii() or word.islower():
        return None
    core = word[:-1] if word.endswith("s") and len(word) > 2 else word
    if (
        len(core) > MAX_ACRONYM
        or not core.isalnum()
        or not (core[0].isupper() or core[0].isdigit())
    ):
        return None
    capitals = sum(c.isupper() for c in core)
    letters = sum(c.isalpha() for c in core)
    if capitals < 2 or capitals * 2 < letters:
        return None
    return core


def concept_of(core: str) -> str:
    """The term every spelling of an acronym (and its expansions) meets on."""
    return CONCEPT + core.lower()


def split_compound(word: str, known: Collection[str] = ()) -> list[str] | None:
    """The parts `word` is a compound of, as written ("KVCache" -> KV, Cache; "Text2Video" ->
    Text, to, Video; "QLoRA" -> Q, LoRA when LoRA is a `known` acronym), or None when it is
    one word. `known` holds acronyms as written, which are never split themselves."""
    if (word.isalpha() and (word.islower() or word[1:].islower())) or word.isdigit():
        return None  # nearly every word: all lowercase or just capitalised
    if not word.isascii() or not word.isalnum():
        return None
    if word in known or word.rstrip("s") in known:
        return None
    form = known_suffix(word, known)
    if form is not None and word[: -len(form)].isalpha():
        return [word[: -len(form)], form]  # a known acronym after a prefix: DistilBERT, ChatGPT
    if any(c.isdigit() for c in word):
        pieces = _LETTERS_DIGITS.findall(word)
        if len(pieces) < 2 or any(p.isalpha() and len(p) < 2 for p in pieces):
            return None  # l2, H100, GPT4o, 3D stay whole
        # Each run of letters may be a camelCase compound itself: ResNet50 as ResNet-50.
        return [part for piece in _read_digits(pieces) for part in _camel(piece, known)]
    pieces = _PIECES.findall(word)
    if len(pieces) < 2 or "".join(pieces) != word:
        return None
    for piece in pieces:
        if (piece.isupper() and len(piece) < 2) or (not piece.isupper() and len(piece) < 3):
            return None  # LoRA ("Lo"), MoE, LLaMA, GaLore: a name, not a compound
    return pieces


def known_suffix(word: str, known: Collection[str]) -> str | None:
    """The longest known acronym (of three characters or more) `word` ends with after a
    prefix ("LoRA" in QLoRA), or None."""
    for size in range(min(len(word) - 1, MAX_ACRONYM), 2, -1):
        if word[-size:] in known:
            return word[-size:]
    return None


def _camel(piece: str, known: Collection[str]) -> list[str]:
    if not piece.isalpha():
        return [piece]
    return split_compound(piece, known) or [piece]


def _read_digits(pieces: list[str]) -> list[str]:
    out: list[str] = []
    for i, piece in enumerate(pieces):
        between = 0 < i < len(pieces) - 1 and pieces[i - 1].isalpha() and pieces[i + 1].isalpha()
        out.append(_DIGIT_WORDS.get(piece, piece) if between else piece)
    return out
