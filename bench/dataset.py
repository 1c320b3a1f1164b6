"""The synthetic registry: groups, instruments and a treaty-collection-scale event history."""

import json
import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import pycountry

# Fixed dates, so that two runs on different days build the same registry.
END = date(2025, 12, 31)  # the P1 date and the end of the P2 series
HOT_FROM = END - timedelta(days=3649)  # 3,650 daily points up to END
HOT_SLUG = "bench-hot"
PROVISIONS = 11
RELIABILITIES = ("official", "reported", "unverified")


@dataclass(frozen=True)
class Scale:
    """How big the registry is and how many requests measure each figure."""

    groups: int  # including the hot group
    instruments: int
    participants: int
    events: int
    hot_members: int
    retractions: int
    requests: int  # measured requests per latency figure, over all rounds
    warmup: int  # unmeasured requests before each round
    accessions: int  # P3, over all clients and rounds
    clients: int = 8
    small_events: int = 25_000  # the scale rows' smaller registry: same hot group, less else
    small_groups: int = 40
    small_instruments: int = 10

    def small(self) -> "Scale":
        """The smaller registry of the scale rows: the same hot group, a tenth of the rest."""
        return replace(
            self,
            events=self.small_events,
            groups=self.small_groups,
            instruments=self.small_instruments,
        )


FULL = Scale(
    groups=400,
    instruments=100,
    participants=240,
    events=250_000,
    hot_members=150,
    retractions=300,
    requests=300,
    warmup=5,
    accessions=3_000,
)
QUICK = Scale(
    groups=20,
    instruments=5,
    participants=40,
    events=2_000,
    hot_members=25,
    retractions=20,
    requests=12,
    warmup=2,
    accessions=150,
    small_events=700,
    small_groups=6,
    small_instruments=2,
)


@dataclass
class Dataset:
    """What the bench creates: API bodies for the setup, and the events of the import file."""

    groups: list[dict]
    instruments: list[dict]
    p3_groups: list[dict]  # fresh groups that P3's and P3q's accessions go to
    participants: list[str]
    events: list[dict] = field(repr=False)

    def write_jsonl(self, path: Path) -> None:
        """The events as an import file: JSON lines, one event a line, oldest first."""
        with path.open("w", encoding="utf-8") as handle:
            for event in self.events:
                handle.write(json.dumps(event, separators=(",", ":")) + "\n")

    def sizes(self) -> dict:
        """Counts for the report's environment section."""
        return {
            "groups": len(self.groups),
            "instruments": len(self.instruments),
            "p3_groups": len(self.p3_groups),
            "participants": len(self.participants),
            "events": len(self.events),
            "hot_group_events": sum(1 for e in self.events if e.get("group") == HOT_SLUG),
            "uncertain_dates": sum(1 for e in self.events if "earliest_on" in e),
            "withdrawals": sum(1 for e in self.events if e["type"] == "withdrawal"),
        }


def generate(scale: Scale, seed: int = 7) -> Dataset:
    """A deterministic registry of the given scale."""
    rng = random.Random(seed)
    codes = sorted(c.alpha_3 for c in pycountry.countries)[: scale.participants]
    groups = [_group(HOT_SLUG, "Bench hot group", HOT_FROM)] + [
        _group(f"bench-g{i:03d}", f"Bench group {i}", _start(rng)) for i in range(1, scale.groups)
    ]
    instruments = [
        _instrument(f"bench-i{i:03d}", f"Bench instrument {i}", _start(rng))
        for i in range(scale.instruments)
    ]
    per_group = len(codes)
    # As many again for P3q's accessions by the service's statements alone.
    p3_groups = [
        _group(f"bench-p3-{i:02d}", f"Bench P3 group {i}", date(2000, 1, 1))
        for i in range(-(-2 * scale.accessions // per_group))
    ]
    # The hot group has a generator of its own, so that every scale builds the same one.
    events = _hot_history(random.Random(seed + 1), codes, scale.hot_members)
    targets = [("group", g["slug"], g["established_on"]) for g in groups[1:]] + [
        ("instrument", i["slug"], i["adopted_on"]) for i in instruments
    ]
    pairs = [(target, code) for target in targets for code in codes]
    rng.shuffle(pairs)
    for (key, slug, start), code in pairs:
        if len(events) >= scale.events:
            break
        n = rng.randint(1, 5)
        timeline = _group_timeline if key == "group" else _instrument_timeline
        events.extend(timeline(rng, slug, code, date.fromisoformat(start), n))
    if len(events) < scale.events:
        raise ValueError(f"scale too small for {scale.events} events")
    # Cutting the last timeline short keeps it valid: every prefix of a valid history is valid.
    del events[scale.events :]
    # A log in date order; each pair's dates are distinct, so its own order is kept.
    events.sort(key=lambda e: e["effective_on"])
    return Dataset(groups, instruments, p3_groups, codes, events)


def distinct_dates(count: int, seed: int = 7) -> list[date]:
    """``count`` different dates spread over the hot group's ten years, in a shuffled order."""
    span = (END - HOT_FROM).days
    days = [HOT_FROM + timedelta(days=span * i // max(1, count - 1)) for i in range(count)]
    random.Random(seed).shuffle(days)
    return days


def _start(rng: random.Random) -> str:
    return date(1950 + rng.randrange(65), 1 + rng.randrange(12), 1 + rng.randrange(28)).isoformat()


def _group(slug: str, name: str, established_on: date | str) -> dict:
    return {
        "slug": slug,
        "name": name,
        "established_on": str(established_on),
        "member_kinds": ["country"],
    }


def _instrument(slug: str, name: str, adopted_on: str) -> dict:
    provisions = [{"number": n, "title": f"Provision {n}"} for n in range(1, PROVISIONS + 1)]
    return {"slug": slug, "name": name, "adopted_on": adopted_on, "provisions": provisions}


def _hot_history(rng: random.Random, codes: list[str], members: int) -> list[dict]:
    """The hot group: ``members`` members on END after 10 years of joining and leaving."""
    order = codes[:]
    rng.shuffle(order)
    events = []
    for index, code in enumerate(order):
        # An odd number of alternating events ends in an accession: a member on END.
        n = rng.choice((1, 3, 5, 7)) if index < members else rng.choice((0, 2, 4, 6))
        timeline = _group_timeline(rng, HOT_SLUG, code, HOT_FROM, n)
        if index >= members and index < members + 5:
            timeline.append(_pending_accession(rng, code, timeline))
        events.extend(timeline)
    return events


def _pending_accession(rng: random.Random, code: str, timeline: list[dict]) -> dict:
    """An accession dated after END whose uncertain window covers END (a possible member)."""
    last = date.fromisoformat(timeline[-1]["effective_on"]) if timeline else HOT_FROM
    earliest = max(last + timedelta(days=1), END - timedelta(days=rng.randint(0, 300)))
    effective = END + timedelta(days=rng.randint(10, 200))
    return _event(rng, "group", HOT_SLUG, "accession", code, effective, earliest)


def _dates(rng: random.Random, start: date, n: int) -> list[date]:
    """``n`` distinct sorted days from ``start`` to END."""
    span = (END - start).days + 1
    return sorted(start + timedelta(days=d) for d in rng.sample(range(span), min(n, span)))


def _window(rng: random.Random, previous: date, effective: date) -> date | None:
    """Sometimes the exact date is unknown: an earliest date after the previous event."""
    if rng.random() >= 0.1:
        return None
    earliest = max(previous + timedelta(days=1), effective - timedelta(days=rng.randint(30, 730)))
    return earliest if earliest < effective else None


def _group_timeline(rng: random.Random, slug: str, code: str, start: date, n: int) -> list[dict]:
    """Accession, withdrawal, accession … on distinct days."""
    events, previous = [], start - timedelta(days=1)
    for i, day in enumerate(_dates(rng, start, n)):
        kind = "accession" if i % 2 == 0 else "withdrawal"
        earliest = _window(rng, previous, day) if kind == "accession" else None
        events.append(_event(rng, "group", slug, kind, code, day, earliest))
        previous = day
    return events


def _instrument_timeline(
    rng: random.Random, slug: str, code: str, start: date, n: int
) -> list[dict]:
    """A commitment, then reports, changes of scope and withdrawals, on distinct days."""
    events, previous, committed = [], start - timedelta(days=1), False
    for day in _dates(rng, start, n):
        roll = rng.random()
        if not committed or roll < 0.15:
            kind, committed = "commitment", True
        elif roll < 0.55:
            kind = "report"
        else:
            kind, committed = "withdrawal", False
        earliest = _window(rng, previous, day) if kind == "commitment" else None
        events.append(_event(rng, "instrument", slug, kind, code, day, earliest))
        previous = day
    return events


def _event(rng, key, slug, kind, code, effective: date, earliest: date | None) -> dict:
    """One import line: the API's event fields plus ``type`` and ``group``/``instrument``."""
    event = {"type": kind, key: slug, "participant": code, "effective_on": effective.isoformat()}
    if earliest is not None:
        event["earliest_on"] = earliest.isoformat()
    if kind == "commitment" and rng.random() < 0.3:
        event["provisions"] = sorted(rng.sample(range(1, PROVISIONS + 1), rng.randint(1, 10)))
    # A report needs a source; about a third of the other events cite one too.
    if kind == "report" or rng.random() < 0.3:
        event["sources"] = [
            {
                "url": f"https://treaties.example.org/{slug}/{code}/{effective.isoformat()}",
                "title": f"Depositary notification: {code} {kind}",
                "published_on": effective.isoformat(),
                "reliability": rng.choice(RELIABILITIES),
            }
        ]
    if rng.random() < 0.2:
        event["note"] = f"{code}: {kind} recorded from the depositary's status table."
    return event
