"""A channel's taste, learned from its own votes: digest ranking, "also worth a look",
`/papers like` and `/papers taste`."""

from paperbot.taste.learner import DigestTaste, Suggestion, Taste, TasteSummary
from paperbot.taste.model import TasteModel, train

__all__ = ["DigestTaste", "Suggestion", "Taste", "TasteModel", "TasteSummary", "train"]
