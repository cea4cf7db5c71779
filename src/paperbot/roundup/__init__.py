"""The weekly roundup: a channel's most voted and most matched papers of the week."""

from paperbot.roundup.command import roundup_setting, roundup_status
from paperbot.roundup.timing import latest_slot
from paperbot.roundup.weekly import RoundupResult, WeeklyRoundups, build_roundup

__all__ = [
    "RoundupResult",
    "WeeklyRoundups",
    "build_roundup",
    "latest_slot",
    "roundup_setting",
    "roundup_status",
]
