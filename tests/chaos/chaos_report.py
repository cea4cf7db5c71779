"""What a chaos run found: its kill points and the verdict over what the channels show."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from paperbot.models import ChannelKey
from paperbot.store.store import Store

ABS = re.compile(r"arxiv\.org/abs/([\w.]+)")


@dataclass
class KillPoint:
    round: int
    instance: int
    after_posts: int | None  # post attempts seen since the round began, or None: at a moment
    at_seconds: float


@dataclass
class ChaosReport:
    backend: str
    instances: int
    channels: int
    matched: int = 0
    posts: int = 0  # paper messages the channels show
    headers: int = 0
    lost: int = 0
    doubled: int = 0
    uncertain: int = 0
    pending: int = 0
    header_mismatches: int = 0
    requesters_answered: int = 0
    requesters_interrupted: int = 0
    kill_points: list[KillPoint] = field(default_factory=list)
    outages: list[tuple[float, float]] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and self.header_mismatches == 0

    def render(self) -> str:
        outage_s = sum(end - start for start, end in self.outages)
        lines = [
            f"chaos run on {self.backend}, {self.instances} instance(s), "
            f"{self.channels} channels, {self.seconds:.0f} s",
            f"  kill points (SIGKILL): {len(self.kill_points)}"
            f" ({sum(k.after_posts is not None for k in self.kill_points)} after a post count,"
            f" {sum(k.after_posts is None for k in self.kill_points)} at a random moment)",
            f"  outage windows (connections refused): {len(self.outages)}, {outage_s:.1f} s in all",
            f"  injected post faults: {dict(sorted(self.faults.items()))}",
            f"  matched (channel, paper) pairs: {self.matched}",
            f"  posts: {self.posts} in {self.headers} digest headers",
            f"  lost: {self.lost}",
            f"  doubled: {self.doubled}",
            f"  uncertain (named, never resent): {self.uncertain}",
            f"  still pending: {self.pending}",
            f"  headers whose list differs from their thread: {self.header_mismatches}",
            f"  interrupted requesters answered later: {self.requesters_answered}"
            f" of {self.requesters_interrupted}",
        ]
        lines += [f"  problem: {p}" for p in self.problems[:20]]
        return "\n".join(lines)


def listed_papers(header: dict[str, Any]) -> list[str]:
    body = "\n".join(b["text"]["text"] for b in header["blocks"] if b["type"] == "section")
    return ABS.findall(body)


def thread_papers(header: dict[str, Any]) -> list[str]:
    return [
        r["metadata"]["event_payload"]["paper_id"]
        for r in header.get("replies", [])
        if (r.get("metadata") or {}).get("event_type") == "paperbot_paper"
    ]


def matched_pairs(store: Store, keys: list[ChannelKey]) -> dict[ChannelKey, set[str]]:
    """Every paper that matched each channel within its keep window (all of them, here)."""
    from paperbot.store import matches as match_rows
    from paperbot.store.channels import find_channel_id

    since = datetime.now(UTC) - timedelta(days=7)
    found: dict[ChannelKey, set[str]] = {}
    with store.engine.connect() as conn:
        for key in keys:
            channel_id = find_channel_id(conn, key)
            assert channel_id is not None
            matched = match_rows.channel_matches(conn, channel_id, since)
            found[key] = {paper_id for paper_id, _ in matched}
    return found
