"""Slack adapter: `/papers` commands, Block Kit digests and votes from reactions, on the core.

Only this package imports slack_bolt / slack_sdk; the core stays platform-free.
"""

from paperbot.adapters.slack.app import SlackAdapter
from paperbot.adapters.slack.poster import ChannelPacer, SlackPoster

__all__ = ["ChannelPacer", "SlackAdapter", "SlackPoster"]
