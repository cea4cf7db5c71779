"""The one line above `/papers search` results: what was searched, corrected or not found."""

from __future__ import annotations

from paperbot.search.lookup import SearchOutcome


def search_wording(query: str, outcome: SearchOutcome) -> str:
    if outcome.pasted_id is not None:
        if outcome.pasted_missing:
            return (
                f"arXiv:{outcome.pasted_id} is not in the store yet; it is added when a source "
                "lists it (or with paperbot backfill)."
            )
        more = len(outcome.items) - 1
        return f"arXiv:{outcome.pasted_id}" + (f", and {more} like it" if more else "")
    if not outcome.items:
        return f"No papers found for {query}."
    text = f"Top {len(outcome.items)} for {query}"
    if outcome.corrections:
        typed = ", ".join(f"'{a}'" for a, _ in outcome.corrections)
        used = ", ".join(f"'{b}'" for _, b in outcome.corrections)
        text = f"No papers for {typed}; showing {used}. " + text
    if outcome.ignored:
        text += f" (could not read {', '.join(outcome.ignored)})"
    return text
