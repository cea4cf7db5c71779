"""paperbot: research-paper alerts for Slack and Discord channels."""

__version__ = "0.1.0"
