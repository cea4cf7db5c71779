"""English function words: a subscription made only of these (or of one-letter words) would
match every paper, so it is refused."""

from __future__ import annotations

# fmt: off
STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren as at be because been before
being below between both but by can cannot could did do does doing down during each either
few for from further had has have having he her here hers herself him himself his how i if in
into is isn it its itself just let me more most my myself neither no nor not now of off on once
only or other ought our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through thus to too under until
up upon us very via was we were what when where whether which while who whom why will with
within without would yet you your yours yourself yourselves
""".split())
# fmt: on


def is_filler(word: str) -> bool:
    """A word that says nothing about a topic: a stopword or a single letter or digit."""
    return len(word) <= 1 or word in STOPWORDS
