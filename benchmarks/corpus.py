"""Realistic synthetic corpora and subscription sets for the benchmarks.

Everything is drawn from the ~360 real papers bundled with paperbot
(`paperbot.sources.sample.sample_papers()`): abstracts are rebuilt from real sentences (so word
frequencies, phrases and lengths are those of real abstracts), titles keep real title shapes,
and a long tail of rare tokens stands in for the names and acronyms every real corpus has.
Papers are spread over arXiv's fields (see FIELDS), which share common words but not topics.
Subscriptions follow what channels really ask for: mostly topic words and phrases of their
field, some combinations, exclusions, authors, categories, and a few very common words, with
popular topics shared by many channels (Zipf). Deterministic for a given seed. See README.md.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from itertools import accumulate, pairwise

from paperbot.models import ChannelKey, Paper, Subscription
from paperbot.sources.sample import sample_papers
from paperbot.text import terms

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_RAW_WORD = re.compile(r"[A-Za-z][A-Za-z\-]+")
STOPWORDS = frozenset(
    """a an the of and or to in on for with by from as at is are be been was were this that these
    those we our us it its their they which such can may also than then there here into over
    under between both each more most many much very not no only other some any all via using
    based show shows shown propose proposed new novel paper work approach method methods results
    while when where how what however thus therefore first second two three one large small
    high low well has have had do does did further without within across towards toward""".split()  # noqa: SIM905
)
_NOT_TOPICAL = STOPWORDS | {"https", "http", "github", "com", "www", "org", "llms", "code"}
# The fields of a real arXiv day, with their share of papers and their categories. Machine
# learning text is the sample's own; every other field reuses the same real sentences with its
# topical words swapped for that field's own (marked by a prefix: "neural" -> "maneural"), so
# fields share function words and common words ("model", "data") but not topics, as they do on
# arXiv. Without this, a day made only of ML text would match every ML topic several times
# more often than a real day does.
FIELDS: dict[str, tuple[str, int, dict[str, int]]] = {
    "ml": ("", 36, {"cs.LG": 12, "cs.CV": 9, "cs.CL": 7, "cs.AI": 6, "stat.ML": 3}),
    "cs": ("sy", 9, {"cs.RO": 2, "cs.CR": 2, "cs.IR": 1, "cs.NE": 1, "cs.DS": 2, "cs.SE": 1}),
    "eess": ("ee", 4, {"eess.SP": 2, "eess.IV": 1, "eess.SY": 1}),
    "math": ("ma", 14, {"math.OC": 2, "math.PR": 2, "math.AP": 2, "math.CO": 2, "math.AG": 1,
                        "math.NA": 1, "math.NT": 1}),
    "quant": ("qu", 5, {"quant-ph": 4}),
    "hep": ("he", 8, {"hep-th": 3, "hep-ph": 3, "gr-qc": 2, "hep-ex": 1}),
    "astro": ("as", 8, {"astro-ph.GA": 2, "astro-ph.CO": 2, "astro-ph.SR": 1, "astro-ph.HE": 1}),
    "cond": ("co", 9, {"cond-mat.mtrl-sci": 2, "cond-mat.str-el": 2, "cond-mat.stat-mech": 1,
                       "cond-mat.soft": 1}),
    "physics": ("ph", 4, {"physics.optics": 1, "physics.flu-dyn": 1, "physics.chem-ph": 1}),
    "bio": ("bi", 2, {"q-bio.NC": 1, "q-bio.BM": 1}),
    "econ": ("ec", 1, {"econ.EM": 1, "q-fin.ST": 1}),
}  # fmt: skip
CATEGORIES = {c: w for _, _, cats in FIELDS.values() for c, w in cats.items()}
_COMMON_SHARE = 0.2  # words in more papers than this are shared by every field
_WORD4 = re.compile(r"[A-Za-z]{4,}")
FIRST_NAMES = """Ada Alan Grace Yann Geoffrey Yoshua Fei Andrew Daphne Michael Jordan Sara Wei Li
    Ming Hao Yuki Kenji Priya Arjun Olga Ivan Elena Marco Giulia Lukas Anna Jonas Sofia Mateo
    Lucia Omar Amira Chen Jie Xin Zoë Jürgen Søren Nadia Tomás Ines Kwame Ama Hiroshi Mei""".split()  # noqa: SIM905
LAST_NAMES = """Lovelace Turing Hopper LeCun Hinton Bengio Li Ng Koller Jordan Smith Wang Zhang
    Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Luo Gao Tanaka Suzuki Sato
    Kumar Singh Sharma Patel Ivanov Petrov Rossi Russo Müller Schmidt Schneider Fischer Weber
    Garcia Martinez Lopez Gonzalez Rodriguez Hernandez Silva Santos Kim Lee Park Choi Nguyen
    Tran Okafor Mensah Haddad Nakamura Kowalski Nowak Jensen Hansen Johansson Virtanen""".split()  # noqa: SIM905


@dataclass(frozen=True, slots=True)
class Profile:
    """Statistics of the real sample the generators draw from."""

    sentences: tuple[str, ...]
    titles: tuple[str, ...]
    abstract_words: tuple[int, ...]  # real abstract lengths, in words
    title_words: tuple[str, ...]  # words seen in real titles, with repetition
    doc_freq: dict[str, float]  # matching term -> share of papers holding it
    word_freq: dict[str, float]  # lowercased word as written -> share of papers holding it
    phrases: tuple[str, ...]  # frequent two-word phrases, most frequent first
    phrase_freq: dict[str, float]  # those phrases -> share of papers holding them
    rare_tokens: tuple[str, ...]  # stand-ins for names and acronyms (the long tail)


@lru_cache(maxsize=1)
def profile() -> Profile:
    papers = sample_papers()
    sentences: list[str] = []
    lengths: list[int] = []
    title_words: list[str] = []
    df: Counter[str] = Counter()
    wf: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    for paper in papers:
        sentences.extend(s for s in _SENTENCE.split(paper.abstract) if len(s.split()) >= 4)
        lengths.append(len(paper.abstract.split()))
        title_words.extend(w for w in paper.title.split() if w.lower() not in STOPWORDS)
        df.update(set(terms(paper.title + " " + paper.abstract)))
        words = [w.lower() for w in _RAW_WORD.findall(paper.abstract)]
        wf.update(set(words))
        bigrams.update(
            f"{a} {b}"
            for a, b in pairwise(words)
            if len(a) > 2 and len(b) > 2 and not {a, b} & _NOT_TOPICAL
        )
    phrases = tuple(p for p, c in bigrams.most_common() if c >= 3)
    lowered = [paper.abstract.lower() for paper in papers]
    phrase_freq = {p: sum(p in a for a in lowered) / len(papers) for p in phrases}
    rng = random.Random(7)
    syllables = ["ka", "zo", "ri", "qua", "vex", "lor", "mi", "dyn", "tro", "sen", "pix", "nu"]
    rare = {
        "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).capitalize()
        + rng.choice(["", "", "Net", "-2", "Former", "GPT", "3D"])
        for _ in range(60_000)
    }
    return Profile(
        sentences=tuple(sentences),
        titles=tuple(p.title for p in papers),
        abstract_words=tuple(lengths),
        title_words=tuple(title_words),
        doc_freq={t: c / len(papers) for t, c in df.items()},
        word_freq={w: c / len(papers) for w, c in wf.items()},
        phrases=phrases,
        phrase_freq=phrase_freq,
        rare_tokens=tuple(sorted(rare)),
    )


class _Zipf:
    """Draws items with weight 1/rank^s: a few very popular, a long tail."""

    def __init__(self, items: list[str] | tuple[str, ...], s: float = 1.0) -> None:
        self.items = list(items)
        self.cumulative = list(accumulate(1.0 / (rank**s) for rank in range(1, len(items) + 1)))

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.items, cum_weights=self.cumulative)[0]


# Authors: a pool of about 87,000 people (real first names, real and made-up surnames), mildly
# skewed towards prolific ones, so that following one person yields a paper every few days or
# weeks, as on arXiv, not several a day.
_SURNAME_SYLLABLES = ["ka", "zo", "ri", "mal", "ven", "dor", "li", "sa", "ne", "tu", "ber", "go"]
_POOL_SKEW = 1.2


@lru_cache(maxsize=1)
def _surnames() -> tuple[str, ...]:
    rng = random.Random(11)
    made_up = {
        "".join(rng.choice(_SURNAME_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        for _ in range(12_000)
    }
    return tuple(LAST_NAMES) + tuple(sorted(made_up - set(LAST_NAMES)))


def author_name(rng: random.Random) -> str:
    surnames = _surnames()
    size = len(FIRST_NAMES) * len(surnames)
    index = int(size * rng.random() ** _POOL_SKEW)
    first, last = divmod(index, len(surnames))
    return f"{FIRST_NAMES[first]} {surnames[last]}"


def _authors(rng: random.Random) -> tuple[str, ...]:
    count = min(1 + int(rng.expovariate(0.25)), 30)
    return tuple(author_name(rng) for _ in range(count))


@dataclass(frozen=True, slots=True)
class _Field:
    prefix: str
    sentences: tuple[str, ...]
    titles: tuple[str, ...]
    title_words: tuple[str, ...]
    categories: tuple[str, ...]
    category_weights: tuple[int, ...]

    def topical(self, text: str) -> str:
        """`text` as this field writes it: its topical words carry the field's prefix."""
        return _swap(text, self.prefix)


def _swap(text: str, prefix: str) -> str:
    if not prefix:
        return text
    shared = _shared_words()
    return _WORD4.sub(
        lambda m: m.group() if m.group().lower() in shared else prefix + m.group(), text
    )


@lru_cache(maxsize=1)
def _shared_words() -> frozenset[str]:
    prof = profile()
    common = {w for w, share in prof.word_freq.items() if share > _COMMON_SHARE}
    return frozenset(common | STOPWORDS)


@cache
def field(name: str) -> _Field:
    prof = profile()
    prefix, _, categories = FIELDS[name]
    return _Field(
        prefix=prefix,
        sentences=tuple(_swap(x, prefix) for x in prof.sentences),
        titles=tuple(_swap(x, prefix) for x in prof.titles),
        title_words=tuple(_swap(x, prefix) for x in prof.title_words),
        categories=tuple(categories),
        category_weights=tuple(accumulate(categories.values())),
    )


_FIELD_NAMES = list(FIELDS)
_FIELD_WEIGHTS = list(accumulate(share for _, share, _ in FIELDS.values()))


def synthetic_papers(count: int, seed: int = 1, start: datetime | None = None) -> Iterator[Paper]:
    """`count` papers shaped like a real arXiv day; ids are new-style, unique within the seed."""
    prof = profile()
    rng = random.Random(seed)
    rare = _Zipf(prof.rare_tokens, s=0.8)
    when = start or datetime(2024, 1, 1, tzinfo=UTC)
    for n in range(count):
        home = field(rng.choices(_FIELD_NAMES, cum_weights=_FIELD_WEIGHTS)[0])
        target = rng.choice(prof.abstract_words)
        parts: list[str] = []
        size = 0
        while size < target:
            sentence = rng.choice(home.sentences)
            if rng.random() < 0.35:
                words = sentence.split()
                words[rng.randrange(len(words))] = rare.draw(rng)
                sentence = " ".join(words)
            parts.append(sentence)
            size += sentence.count(" ") + 1
        title = rng.choice(home.titles).split()
        for i in range(len(title)):
            if title[i].lower() not in STOPWORDS and rng.random() < 0.4:
                title[i] = rng.choice(home.title_words)
        if rng.random() < 0.3:
            title.insert(0, rare.draw(rng) + ":")
        cats = home.categories
        primary = rng.choices(cats, cum_weights=home.category_weights)[0]
        cross = rng.choices(cats, cum_weights=home.category_weights, k=rng.choice((0, 0, 1, 2)))
        if rng.random() < 0.1:
            cross.append(rng.choice(("cs.LG", "stat.ML", "cs.AI")))  # cross-listed to ML
        yield Paper(
            arxiv_id=f"{24 + seed % 70:02d}{1 + n // 99_999 % 12:02d}.{n % 99_999 + 1:05d}",
            title=" ".join(title),
            abstract=" ".join(parts),
            authors=_authors(rng),
            categories=tuple(dict.fromkeys([primary, *cross])),
            published_at=when + timedelta(seconds=n * 17),
            upvotes=int(rng.expovariate(0.1)) if rng.random() < 0.1 else 0,
            sources=("arxiv",),
        )


def arxiv_dump_line(paper: Paper) -> str:
    """`paper` as one line of the public arXiv metadata dump (see DESIGN §4)."""
    created = paper.published_at or datetime(2024, 1, 1, tzinfo=UTC)
    parsed = []
    for name in paper.authors:
        first, _, last = name.rpartition(" ")
        parsed.append([last, first, ""])
    record = {
        "id": paper.arxiv_id,
        "submitter": paper.authors[0] if paper.authors else "Anonymous",
        "authors": ", ".join(paper.authors),
        "title": paper.title,
        "comments": "12 pages, 4 figures",
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": " ".join(paper.categories),
        "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
        "abstract": "  " + paper.abstract + "\n",
        "versions": [{"version": "v1", "created": created.strftime("%a, %d %b %Y %H:%M:%S GMT")}],
        "update_date": created.strftime("%Y-%m-%d"),
        "authors_parsed": parsed,
    }
    return json.dumps(record)


# --- subscriptions -------------------------------------------------------------------------


def topics(low: float = 0.002, high: float = 0.03) -> list[str]:
    """What a channel follows: words used in real titles and frequent phrases of real abstracts,
    specific enough that a real arXiv day has a handful of papers on each (document frequency
    in the sample between `low` and `high`; the sample is all ML, a real day is not)."""
    prof = profile()
    in_titles = {w.lower() for w in prof.title_words} - STOPWORDS

    def share(text: str) -> float:
        # As matched: "modeling" is folded onto "model", so it is as common as "model".
        return max(prof.doc_freq.get(term, 0.0) for term in terms(text))

    words = [
        w
        for w, raw_share in prof.word_freq.items()
        if low <= raw_share and share(w) <= high and len(w) >= 4 and w.isalpha() and w in in_titles
    ]
    phrases = [f'"{p}"' for p, raw_share in prof.phrase_freq.items() if low <= raw_share <= high]
    return sorted(words) + sorted(phrases)


def synthetic_subscriptions(count: int, seed: int = 1, per_channel: int = 20) -> list[Subscription]:
    """`count` subscriptions over count/per_channel channels, as channels write them: each
    channel follows topics of its own field; popular topics are shared by many channels."""
    prof = profile()
    rng = random.Random(seed)
    specific = topics()
    rng.shuffle(specific)  # popularity is not tied to frequency
    popular = _Zipf(specific, s=0.9)
    broad = _Zipf(topics(0.03, 0.3), s=1.0)  # "diffusion", "reinforcement learning"
    rare = _Zipf(prof.rare_tokens, s=0.8)
    common = ["model", "learning", '"language model"', "neural", "data", "transformer"]
    exclusions = ["survey", "benchmark", "review", "dataset", "position"]
    home = field("ml")

    def topic() -> str:
        return home.topical(popular.draw(rng))

    def word() -> str:
        while True:
            found = popular.draw(rng)
            if not found.startswith('"'):
                return home.topical(found)

    def category() -> str:
        return rng.choices(home.categories, cum_weights=home.category_weights)[0]

    def author() -> str:
        return f'author:"{author_name(rng)}"'

    templates = [
        (42, topic),
        (10, lambda: f"{topic()} {topic()}"),
        (8, lambda: f"{topic()} OR {topic()} OR {topic()}"),
        (7, lambda: f"{topic()} -{rng.choice(exclusions)}"),
        (6, author),
        (5, lambda: f"cat:{category()} {topic()}"),
        (4, lambda: f"title:{word()}"),
        (4, lambda: f"title:({topic()} OR {topic()})"),
        (3, lambda: f"{topic()} upvotes:{rng.choice((5, 10, 20, 50))}"),
        (6, lambda: rare.draw(rng)),
        (2, lambda: f"({topic()} OR {topic()}) -({topic()} OR cat:{category()})"),
        (2.95, lambda: home.topical(broad.draw(rng))),
        (2, lambda: f"{home.topical(broad.draw(rng))} {topic()}"),
        (0.05, lambda: rng.choice(common)),
    ]  # fmt: skip
    kinds = [make for _, make in templates]
    cumulative = list(accumulate(weight for weight, _ in templates))
    channels = [
        (
            ChannelKey("slack" if i % 3 else "discord", f"W{i // 40}", f"C{i:06d}"),
            rng.choices(_FIELD_NAMES, cum_weights=_FIELD_WEIGHTS)[0],
        )
        for i in range(max(1, count // per_channel))
    ]
    out: list[Subscription] = []
    for n in range(1, count + 1):
        channel, name = rng.choice(channels)
        home = field(name)
        make = rng.choices(kinds, cum_weights=cumulative)[0]
        out.append(Subscription(n, channel, make()))
    return out
