"""Pairs mined from papers: "mixture of experts (MoE)", "large language models (LLMs)". The
long form is the shortest run of words just before the parenthesis whose initials spell the
acronym (after Schwartz and Hearst, 2003); `usable_pair` then decides whether it may be used."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from paperbot.vocabulary.shapes import acronym_core
from paperbot.vocabulary.table import usable_pair

_DEFINED = re.compile(r"\(\s*([A-Za-z0-9][A-Za-z0-9\-]{0,11})\s*[;,)]")
_WORD_BEFORE = re.compile(r"[\w][\w'\-]*")


def mine_pairs(texts: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(acronym as written, expansion as written) for each definition in `texts`."""
    for text in texts:
        for found in _DEFINED.finditer(text):
            short = found.group(1).strip("-")
            core = acronym_core(short.replace("-", ""))
            if core is None:
                continue
            before = _WORD_BEFORE.findall(text[max(0, found.start() - 200) : found.start()])
            # Hyphenated words count each part ("vision-language model (VLM)").
            words = [part for w in before for part in w.split("-") if part]
            longest = min(len(words), len(core) + 5, 2 * len(core) + 2)
            for size in range(2, longest + 1):
                candidate = words[-size:]
                if candidate[0][0].lower() != core[0].lower():
                    continue
                expansion = " ".join(candidate)
                if usable_pair(core, expansion):
                    yield core, expansion
                    break
