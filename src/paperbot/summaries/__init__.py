"""Optional one-sentence TL;DRs by a language model (OpenAI-compatible chat completions)."""

from paperbot.summaries.client import ChatCompletions, Completion, SummaryError
from paperbot.summaries.prompt import SYSTEM_PROMPT, clean_tldr, messages_for
from paperbot.summaries.writer import TldrWriter

__all__ = [
    "SYSTEM_PROMPT",
    "ChatCompletions",
    "Completion",
    "SummaryError",
    "TldrWriter",
    "clean_tldr",
    "messages_for",
]
