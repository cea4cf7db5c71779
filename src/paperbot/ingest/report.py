"""What an ingest did, in one line: per source what was fetched, skipped or failed."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class IngestReport:
    fetched: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    inserted: int = 0
    updated: int = 0
    matched: int = 0

    @property
    def summary(self) -> str:
        parts = [
            f"{name} {count}{_dropped(self.skipped.get(name, 0), self.duplicates.get(name, 0))}"
            for name, count in self.fetched.items()
        ]
        parts += [f"{name} FAILED ({reason})" for name, reason in self.failed.items()]
        return (
            f"ingest: {', '.join(parts) or 'no sources'}; {self.inserted} new, "
            f"{self.updated} updated, {self.matched} matches"
        )


def _dropped(skipped: int, duplicates: int) -> str:
    """` (3 skipped, 1 duplicate)`: what a source sent that did not become a paper."""
    counts = [f"{skipped} skipped"] if skipped else []
    if duplicates:
        counts.append(f"{duplicates} duplicate{'s' if duplicates > 1 else ''}")
    return f" ({', '.join(counts)})" if counts else ""
