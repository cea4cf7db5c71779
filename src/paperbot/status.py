"""What `paperbot status` shows: each channel's next and last digest, and each source's health.

Computed from the database and the schedule rules alone, so it works while the bot is down (which
is when an operator most wants to know what it will do next).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from paperbot.models import ChannelKey
from paperbot.scheduler import crontab_trigger
from paperbot.settings import ScheduleSettings, Settings
from paperbot.slots import next_digest_at
from paperbot.store.coordination import Coordination
from paperbot.store.store import PostState, Store, utc_now


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    key: ChannelKey
    timezone: str
    digest_hour: int
    digest_days: tuple[str, ...]
    next_digest_at: datetime | None
    last_digest_at: datetime | None
    paused: bool
    pause_reason: str | None
    ledger: dict[str, int] = field(default_factory=dict)
    # Papers that may or may not have reached the channel: never resent, so named for a person.
    uncertain_titles: tuple[str, ...] = ()

    @property
    def needs_attention(self) -> int:
        """Posts an operator should look at: uncertain ones are never resent automatically."""
        return self.ledger.get(PostState.UNCERTAIN, 0) + self.ledger.get(PostState.PENDING, 0)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    name: str
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    last_count: int | None

    @property
    def ok(self) -> bool:
        if self.last_error_at is None:
            return self.last_success_at is not None
        return self.last_success_at is not None and self.last_success_at > self.last_error_at


@dataclass(frozen=True, slots=True)
class Status:
    now: datetime
    next_ingest_at: datetime | None
    channels: list[ChannelStatus]
    sources: list[SourceHealth]


def collect_status(
    store: Store,
    schedule: ScheduleSettings,
    now: datetime | None = None,
    source_names: list[str] | None = None,
) -> Status:
    """The status of every channel and source; `source_names` adds configured sources that were
    never fetched, so a source that never worked shows up too."""
    now = now or utc_now()
    ledger = Coordination(store).ledger_counts()
    channels = [
        ChannelStatus(
            key=channel.key,
            timezone=channel.settings.timezone,
            digest_hour=channel.settings.digest_hour,
            digest_days=channel.settings.digest_days,
            next_digest_at=next_digest_at(channel.settings, now),
            last_digest_at=channel.last_digest_at,
            paused=channel.settings.paused,
            pause_reason=channel.pause_reason,
            ledger=ledger.get(channel.key, {}),
            uncertain_titles=tuple(title for _, title in store.uncertain_papers(channel.key))
            if ledger.get(channel.key, {}).get(PostState.UNCERTAIN)
            else (),
        )
        for channel in store.list_channels()
    ]
    known = {s.source: s for s in store.source_statuses()}
    names = sorted(set(known) | set(source_names or ()))
    sources = [
        SourceHealth(name, None, None, None, None)
        if name not in known
        else SourceHealth(
            name,
            known[name].last_success_at,
            known[name].last_error_at,
            known[name].last_error,
            known[name].last_count,
        )
        for name in names
    ]
    trigger = crontab_trigger(schedule.ingest_cron, schedule.ingest_timezone)
    next_ingest = trigger.get_next_fire_time(None, now) if schedule.enabled else None
    return Status(now, next_ingest, channels, sources)


def render_status(status: Status) -> str:
    """Plain lines (a terminal, a log, a support ticket): times in each channel's own zone."""
    lines = [f"status at {_when(status.now, 'UTC')}"]
    if status.next_ingest_at is not None:
        lines.append(f"next ingest: {_when(status.next_ingest_at, 'UTC')}")
    lines.append(f"channels ({len(status.channels)}):")
    for c in status.channels:
        if c.paused:
            state = f"PAUSED ({c.pause_reason or 'by command'})"
        elif c.next_digest_at is None:
            state = "no digest days"
        else:
            state = f"next digest {_when(c.next_digest_at, c.timezone)}"
        last = _when(c.last_digest_at, c.timezone) if c.last_digest_at else "never"
        line = f"  {c.key}  {state}; last digest {last}; {c.digest_hour:02d}:00 {c.timezone}"
        line += f" on {','.join(c.digest_days) or '-'}"
        if c.needs_attention:
            line += (
                f"; {c.ledger.get(PostState.UNCERTAIN, 0)} uncertain,"
                f" {c.ledger.get(PostState.PENDING, 0)} pending post(s)"
            )
        if c.uncertain_titles:
            shown = ", ".join(f"“{title}”" for title in c.uncertain_titles[:10])
            more = len(c.uncertain_titles) - 10
            line += f"; uncertain: {shown}" + (f" and {more} more" if more > 0 else "")
            line += " (may or may not have arrived; never resent)"
        lines.append(line)
    lines.append(f"sources ({len(status.sources)}):")
    for s in status.sources:
        success = _when(s.last_success_at, "UTC") if s.last_success_at else "never"
        never_tried = s.last_success_at is None and s.last_error_at is None
        state = "not fetched yet" if never_tried else ("ok" if s.ok else "FAILING")
        line = f"  {s.name:<8} {state}; last successful fetch {success}"
        if s.last_count is not None:
            line += f" ({s.last_count} papers)"
        if not s.ok and s.last_error:
            line += f"; last error: {s.last_error}"
        lines.append(line)
    return "\n".join(lines)


def status_text(settings: Settings) -> str:
    """`paperbot status` in one call: open the database, collect, render, close."""
    from paperbot.wiring import open_store

    store = open_store(settings)
    try:
        names = [name for name in ("hf", "arxiv") if getattr(settings.sources, name).enabled]
        return render_status(collect_status(store, settings.schedule, source_names=names))
    finally:
        store.close()


def _when(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")
