"""A subscription's first minutes: the recent papers the catch-all guard judges it on, and the
look back that gives a new subscription the last few days' matches at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from operator import itemgetter

from paperbot import catchall
from paperbot.analysis import AnalyzedPaper
from paperbot.ingest.live import RecentDocs
from paperbot.matching import match_naively
from paperbot.models import Paper, Subscription
from paperbot.store.matches import LOOKBACK, pack
from paperbot.store.store import Store
from paperbot.vocabulary import Vocabulary

# A new subscription also looks back this far, so the next digest is not empty for a new channel.
SUBSCRIBE_LOOKBACK = LOOKBACK
PREVIEW_WINDOW = timedelta(days=7)

Analyze = Callable[[Paper], AnalyzedPaper]


def judged_papers(
    store: Store, recent: RecentDocs, analyze: Analyze, vocabulary: Vocabulary, now: datetime
) -> list[AnalyzedPaper]:
    """The recent papers the catch-all guard judges on (none for a young store: it takes
    the bundled sample), analysed once per process and paper revision."""
    revisions = store.revisions_seen_since(now - PREVIEW_WINDOW)
    if len(revisions) < catchall.MIN_RECENT:
        return []
    # A share is measured well on a thousand papers; a busy week holds ten times more.
    revisions.sort(key=itemgetter(1))
    step = max(1, len(revisions) // catchall.MAX_JUDGED)
    return recent.analysed(store, revisions[::step], analyze, analysis=vocabulary, keep=True)


def match_recent(
    store: Store,
    recent: RecentDocs,
    analyze: Analyze,
    vocabulary: Vocabulary,
    subscription: Subscription,
    now: datetime,
) -> int:
    """Match the new subscription's query against the last few days' papers, dated from the
    start of that look back: only its own channel's digest (which looks back as far for a
    new subscription) counts them, not those of channels that follow the query already.
    A query another channel has followed all that time has its matches stored already."""
    since = now - SUBSCRIBE_LOOKBACK
    stored = store.followed_query_matches(subscription, since)
    if stored is not None:
        return stored
    # Papers the latest ingests analysed with this same vocabulary are not analysed again.
    docs = recent.seen_since(store, since, analyze, analysis=vocabulary)
    # One query over a few thousand papers: evaluated directly, which is the reference the
    # index agrees with and twice as fast as an index built for it.
    found = [pack(m.arxiv_id, m.field) for m in match_naively([subscription], docs)]
    if not found:
        return 0
    query_id = store.query_ids([subscription.query])[subscription.query]
    return store.record_query_matches({query_id: found}, since)
