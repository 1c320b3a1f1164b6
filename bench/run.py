"""``python -m bench.run [--quick]``: measure the performance figures and print one table."""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlencode

from friendsgroup import server

from . import client, database, floorapp, floors, ownsql, stackfloor, webhooks
from .commands import friendsgroup, friendsgroup_bin, measured
from .dataset import (
    END,
    FULL,
    HOT_FROM,
    HOT_SLUG,
    QUICK,
    Dataset,
    Scale,
    distinct_dates,
    generate,
)
from .report import Row, table, write_json
from .service import Service

RESULTS = Path(__file__).parent / "results" / "latest.json"
MB = 1024 * 1024
# Each figure and its floor are taken in alternating rounds (the latencies of P1 and P2 even
# in blocks of BLOCK requests, in turn), so that a burst of other load on the machine falls
# on both rather than on one of them.
ROUNDS = 3
# Long enough that a series runs warm, as it would alone: taken one request each in turn,
# every request met caches the other series had just cooled, which added about a
# millisecond to each figure and floor alike and so moved every ratio towards 1.
BLOCK = 10
STARTED = time.monotonic()
MEMBERS_PATH = f"/api/v1/groups/{HOT_SLUG}/members?as_of={END.isoformat()}"
GROUP_PAGE_PATH = f"/groups/{HOT_SLUG}?as_of={END.isoformat()}"
# P0: the floor's app answering a constant, the least any answer over HTTP costs here.
CONSTANT_PATH = "/readyz"
COUNTS_PATH = f"/api/v1/groups/{HOT_SLUG}/counts?" + urlencode(
    {"interval": "day", "from": HOT_FROM.isoformat(), "to": END.isoformat()}
)


def accessions(prefix: str, pairs: list[tuple[str, str]]) -> list[tuple[str, dict]]:
    """P3's POSTs: each (group, participant) pair's accession on the last day."""
    return [
        (
            f"{prefix}/groups/{slug}/accessions",
            {"participant": code, "effective_on": END.isoformat()},
        )
        for slug, code in pairs
    ]


def members_path(as_of) -> str:
    """The hot group's members on a date."""
    return f"/api/v1/groups/{HOT_SLUG}/members?as_of={as_of.isoformat()}"


def sqlite_members_path(as_of) -> str:
    """The hot group's members on a date from the floor app's SQLite view (P1sf)."""
    return f"/sqlite/groups/{HOT_SLUG}/members?as_of={as_of.isoformat()}"


@dataclass
class Served:
    """One registry: its database, the environment that names it, its token and its server."""

    name: str
    url: str
    env: dict
    token: str
    service: Service

    @property
    def port(self) -> int:
        return self.service.port


def progress(message: str) -> None:
    """One line on stderr, stamped with the seconds since the start."""
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def cpu_busy(seconds: float = 1.0) -> float:
    """The share of the machine's CPU time that was not idle over the next ``seconds``."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(values), values[3] + values[4]  # all, idle + iowait

    total, idle = sample()
    time.sleep(seconds)
    total_after, idle_after = sample()
    return 1 - (idle_after - idle) / max(1, total_after - total)


def median_ms(timings: list[float]) -> float:
    return statistics.median(timings) * 1000


def _members(answer: dict) -> list[tuple[str, str]]:
    """(code, member_since) of a members report, as the floors give them."""
    return [(m["code"], m["member_since"]) for m in answer["members"]]


# The latency series P1 and P2 take, each figure beside its floor.
FIGURES = (
    "P1",
    "P1 floor",
    "P1r",
    "P1 floor on one date",
    "P1f",
    "P1f on one date",
    "P2",
    "P1 smaller",
    "P2 smaller",
    "P1s",
    "P1s floor",
    "P1sf",
    "P0",
)


class Bench:
    """One run: build the registry, serve it, measure each figure and its floor."""

    def __init__(self, scale: Scale, url: str, quick: bool, workdir: Path) -> None:
        self.scale, self.url, self.quick, self.workdir = scale, url, quick, workdir
        self.facts: dict = {"phases_s": {}}
        self.rows: list[Row] = []

    def row(self, *args, **kwargs) -> Row:
        """A result row; quick runs do not judge the figures."""
        row = Row(*args, judged=not self.quick, **kwargs)
        self.rows.append(row)
        return row

    def phase(self, name: str, began: float) -> None:
        self.facts["phases_s"][name] = round(time.monotonic() - began, 2)

    def run(self) -> tuple[list[Row], list[dict]]:
        busy = cpu_busy()
        self.facts["cpu_busy_at_start"] = round(busy, 2)
        self.facts["load_average_at_start"] = os.getloadavg()
        if busy > 0.2:
            progress(f"the CPUs are {busy:.0%} busy before the start: the figures will be skewed")
        progress(f"generating {self.scale.events:,} and {self.scale.small_events:,} events")
        data, small = generate(self.scale), generate(self.scale.small())
        self.facts["dataset"] = data.sizes()
        self.facts["small_dataset"] = small.sizes()
        events_file, small_file = self.workdir / "events.jsonl", self.workdir / "small.jsonl"
        data.write_jsonl(events_file)
        small.write_jsonl(small_file)
        hot = max(1, self.scale.retractions // 30)
        # The client is a process of its own, so that it shares no interpreter with the bench.
        with (
            ExitStack() as stack,
            ProcessPoolExecutor(1, mp_context=get_context("spawn")) as self.pool,
        ):
            self.main = self.serve("main", self.url, stack)
            self.service = self.main.service
            checks = self.measure(data, events_file, hot)
            small_url = database.with_database(self.url, database.database_name(self.url) + "_25k")
            self.small = self.serve("smaller", small_url, stack)
            self.load(self.small, small, small_file, hot, self.scale.retractions // 10)
            sqlite_url = database.sqlite_url(self.workdir / "bench.sqlite3")
            self.sqlite = self.serve("sqlite", sqlite_url, stack)
            self.load(self.sqlite, data, events_file, hot, self.scale.retractions - hot)
            self.floor_app = self.serve_floor(stack)
            self.p1_p2(data, small)
            self.w1()
            p3_ids, p3_codes = self.p3(data)
            checks = self.verify(data, p3_ids, p3_codes, checks)
        peak = max(self.main.service.peaks.values(), default=0)
        self.facts["peak_rss_mb"] = {
            served.name: round(max(served.service.peaks.values(), default=0) / MB, 1)
            for served in (self.main, self.small, self.sqlite)
        }
        self.row("P5a", "peak RSS of a server worker", peak / MB, "MB", target=150)
        return sorted(self.rows, key=lambda r: r.id), checks

    def serve_floor(self, stack: ExitStack) -> Service:
        """The floors' Flask app (P1f, P1sf, P3f) on the main database and the SQLite file,
        served as ours is."""
        floorapp.prepare(self.url)
        command = [sys.executable, "-m", "bench.floorapp", "--url", self.url]
        command += ["--sqlite", database.sqlite_path(self.sqlite.url), "--port"]
        log = self.workdir / "server-floor.log"
        service = Service(self.main.env, log, self.main.service.workers, command)
        stack.enter_context(service)
        return service

    def serve(self, name: str, url: str, stack: ExitStack) -> Served:
        """A fresh database at head with a token, and its server (stopped with ``stack``)."""
        began = time.monotonic()
        progress(f"{name}: re-creating {database.database_name(url)} and migrating it")
        database.recreate(url)
        # The server's webhook worker may send to the bench's own receiver on loopback.
        env = {**os.environ, "DATABASE_URL": url, "WEBHOOK_ALLOW_PRIVATE": "1"}
        friendsgroup(env, "db", "upgrade")
        token = friendsgroup(env, "token", "create", "bench").strip()
        progress(f"{name}: starting the server")
        service = stack.enter_context(Service(env, self.workdir / f"server-{name}.log"))
        self.phase(f"prepare {name}", began)
        return Served(name, url, env, token, service)

    def call(self, function, *args):
        """Run a function in the client process and wait for it."""
        return self.pool.submit(function, *args).result()

    def post(
        self, served: Served, requests: list[tuple[str, dict]], clients: int, what: str
    ) -> list[dict]:
        """POST from the client process; every answer must be a 2xx."""
        results, _ = self.call(client.post_all, served.port, served.token, requests, clients)
        failed = [(status, answer) for status, answer in results if not 200 <= status < 300]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(requests)} {what} failed: {failed[0]}")
        return [answer for _, answer in results]

    def setup(self, served: Served, data: Dataset) -> None:
        """The groups and instruments, over HTTP."""
        began = time.monotonic()
        groups = data.groups + data.p3_groups
        progress(
            f"{served.name}: creating {len(groups)} groups, {len(data.instruments)} instruments"
        )
        self.post(served, [("/api/v1/groups", g) for g in groups], 4, "groups")
        self.post(served, [("/api/v1/instruments", i) for i in data.instruments], 4, "instruments")
        self.phase(f"setup {served.name}", began)

    def retract(self, served: Served, hot: int, other: int) -> list[dict]:
        """Retract events over HTTP, then bring the statistics up to date."""
        began = time.monotonic()
        candidates = database.retraction_candidates(served.url, HOT_SLUG, hot, other)
        progress(f"{served.name}: retracting {len(candidates)} events over HTTP")
        retracted = self.post(
            served,
            [(f"/api/v1/events/{i}/retraction", {"reason": "bench"}) for i in candidates],
            2,
            "retractions",
        )
        progress(f"{served.name}: VACUUM ANALYZE")
        database.vacuum_analyze(served.url)
        self.phase(f"retract {served.name}", began)
        return retracted

    def load(self, served: Served, data: Dataset, events_file: Path, hot: int, other: int) -> None:
        """Another registry of the same hot group, for the scale and SQLite rows."""
        self.setup(served, data)
        began = time.monotonic()
        progress(f"{served.name}: friendsgroup import of {len(data.events):,} events")
        command = [friendsgroup_bin(), "import", str(events_file)]
        log = self.workdir / f"import-{served.name}.log"
        done = measured(command, served.env, log, timeout=540)
        if done.returncode != 0:
            raise RuntimeError(f"the import failed ({done.returncode}):\n{done.output[-3000:]}")
        self.facts[f"import_{served.name}_events_per_s"] = round(len(data.events) / done.seconds)
        self.phase(f"import {served.name}", began)
        self.retract(served, hot, other)

    def measure(self, data: Dataset, events_file: Path, hot: int) -> list[dict]:
        """The main registry: set up over HTTP, import (P4), retract."""
        self.setup(self.main, data)
        self.p4(data, events_file)
        self.retracted = self.retract(self.main, hot, self.scale.retractions - hot)
        return []

    def verify(self, data: Dataset, p3_ids: list[int], p3_codes: set[str], _checks) -> list[dict]:
        """Every 2xx write to the main registry is in its database, and nothing else is."""
        progress("checking that every 2xx write is in the database, and nothing else")
        self.main.service.sample()
        checks = database.verify_writes(
            self.url,
            {
                "groups": len(data.groups) + len(data.p3_groups),
                "instruments": len(data.instruments),
                "participants": len({e["participant"] for e in data.events} | p3_codes),
                "sources": sum(len(event.get("sources", ())) for event in data.events),
                "events": len(data.events) + len(p3_ids),
                "retracted_ids": [event["id"] for event in self.retracted],
                "p3_ids": p3_ids,
            },
        )
        self.webhooks(sorted(data.participants))
        self.p6()
        return checks

    def webhooks(self, codes: list[str]) -> None:
        """H1: webhook deliveries to a local receiver, by the worker ``serve`` starts."""
        began = time.monotonic()
        count = 200 if self.quick else 2_000
        progress(f"H1: {count} accessions delivered to a local webhook receiver")
        found = webhooks.measure(self.main.port, self.main.token, count, codes)
        self.facts["webhooks"] = found
        self.row(
            "H1a",
            "webhook deliveries, one local receiver",
            found["per_s"],
            "deliveries/s",
            target=50,
            higher_is_better=True,
        )
        self.row("H1b", "recorded → delivered, median", found["median_ms"], "ms", target=1000)
        self.row("H1c", "recorded → delivered, p95", found["p95_ms"], "ms", target=2000)
        self.phase("H1", began)

    def p6(self) -> None:
        """P6: ``dump`` and ``restore``, against COPY and against ``pg_dump``/``pg_restore``."""
        began = time.monotonic()
        dump_file = self.workdir / "registry.dump"
        events = database.count(self.url, "events")
        dumps, floor_rates = [], []
        for round_ in range(1, ROUNDS + 1):
            progress(f"P6 round {round_}/{ROUNDS}: friendsgroup dump of {events:,} events, COPY TO")
            command = [friendsgroup_bin(), "dump", str(dump_file)]
            done = measured(command, self.main.env, self.workdir / "dump.log", timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"the dump failed ({done.returncode}):\n{done.output[-3000:]}")
            dumps.append(done)
            floor_rates.append(floors.copy_out_rate(self.url))
        rates = [events / d.seconds for d in dumps]
        self.facts.update(
            p6_dump_rates=[round(r) for r in rates],
            p6_copy_out_rates=[round(r) for r in floor_rates],
            dump_bytes=dump_file.stat().st_size,
        )
        self.row(
            "P6a",
            "friendsgroup dump",
            statistics.median(rates),
            "events/s",
            statistics.median(floor_rates),
            0.5,
            higher_is_better=True,
        )
        self.row(
            "P5c", "peak RSS of the dump", max(d.max_rss for d in dumps) / MB, "MB", target=400
        )
        tools = floors.has_postgres_tools()
        if tools:
            pg_dump_file, log = self.workdir / "registry.pgdump", self.workdir / "pg_dump.log"
            progress(f"P6: pg_dump of the same registry x {ROUNDS}")
            tool_rates = [
                events / floors.pg_dump_seconds(self.url, pg_dump_file, log) for _ in range(ROUNDS)
            ]
            self.facts["p6_pg_dump_rates"] = [round(r) for r in tool_rates]
            self.row(
                "P6c",
                "friendsgroup dump against pg_dump",
                statistics.median(rates),
                "events/s",
                statistics.median(tool_rates),
                0.5,
                higher_is_better=True,
            )
            # PostgreSQL's own tool against P6a's floor: where any dump of this schema stands.
            self.row(
                "P6e",
                "pg_dump against COPY TO",
                statistics.median(tool_rates),
                "events/s",
                statistics.median(floor_rates),
                None,
                higher_is_better=True,
            )

        target = database.with_database(self.url, database.database_name(self.url) + "_restore")
        progress(f"P6: friendsgroup restore of {events:,} events into a fresh database")
        database.recreate(target)
        env = {**self.main.env, "DATABASE_URL": target}
        friendsgroup(env, "db", "upgrade")
        command = [friendsgroup_bin(), "restore", str(dump_file)]
        done = measured(command, env, self.workdir / "restore.log", timeout=540)
        if done.returncode != 0:
            raise RuntimeError(f"the restore failed ({done.returncode}):\n{done.output[-3000:]}")
        restored = database.count(target, "events")
        if restored != events:
            raise RuntimeError(f"the restore holds {restored} events, not {events}")
        self.row(
            "P6b",
            "friendsgroup restore",
            events / done.seconds,
            "events/s",
            statistics.median(self.facts["p4_copy_rates"]),
            0.2,
            higher_is_better=True,
        )
        self.row("P5d", "peak RSS of the restore", done.max_rss / MB, "MB", target=400)
        if tools:
            progress("P6: pg_restore of the same registry into a fresh database")
            database.recreate(target)
            log = self.workdir / "pg_restore.log"
            seconds = floors.pg_restore_seconds(target, pg_dump_file, log)
            self.facts["p6_pg_restore_rate"] = round(events / seconds)
            self.row(
                "P6d",
                "friendsgroup restore against pg_restore",
                events / done.seconds,
                "events/s",
                events / seconds,
                0.5,
                higher_is_better=True,
            )
            # And against P6b's floor: the indexes and keys rebuilt, as any restore must.
            self.row(
                "P6f",
                "pg_restore against COPY",
                events / seconds,
                "events/s",
                statistics.median(self.facts["p4_copy_rates"]),
                None,
                higher_is_better=True,
            )
        self.phase("P6", began)

    def p4(self, data: Dataset, events_file: Path) -> None:
        """P4: ``friendsgroup import`` of the events file against COPY of the same rows."""
        began = time.monotonic()
        progress(f"P4: friendsgroup import of {len(data.events):,} events")
        command = [friendsgroup_bin(), "import", str(events_file)]
        done = measured(command, self.main.env, self.workdir / "import.log", timeout=540)
        if done.returncode != 0:
            raise RuntimeError(f"the import failed ({done.returncode}):\n{done.output[-3000:]}")
        self.facts["import_output"] = done.output.strip().splitlines()[-3:]
        rate = len(data.events) / done.seconds
        progress(
            f"P4: {done.seconds:.1f} s, {rate:,.0f} events/s; COPY floor x {ROUNDS}, into the"
            f" events table x {ROUNDS}"
        )
        ids = [
            database.ids(self.url, "groups", "slug"),
            database.ids(self.url, "instruments", "slug"),
            database.ids(self.url, "participants", "code"),
        ]
        rows = floors.event_rows(data.events, *ids)
        copies = [floors.copy_rate(self.url, rows) for _ in range(ROUNDS)]
        keyed = [floors.keyed_copy_rate(self.url, rows) for _ in range(ROUNDS)]
        self.facts["p4_copy_rates"] = [round(r) for r in copies]
        self.facts["p4_keyed_copy_rates"] = [round(r) for r in keyed]
        self.row(
            "P4",
            "friendsgroup import",
            rate,
            "events/s",
            statistics.median(copies),
            0.1,
            higher_is_better=True,
        )
        # The same COPY into the registry's events table: its keys and indexes alone.
        self.row(
            "P4k",
            "COPY into the events table, against P4's",
            statistics.median(keyed),
            "events/s",
            statistics.median(copies),
            None,
            higher_is_better=True,
        )
        self.row("P5b", "peak RSS of the import", done.max_rss / MB, "MB", target=400)
        self.phase("P4", began)

    def p1_p2(self, data: Dataset, small: Dataset) -> None:
        """P1 over distinct dates and repeated, at two scales and on SQLite; P2 at two scales."""
        began = time.monotonic()
        n, warmup = self.scale.requests // ROUNDS, self.scale.warmup
        per_round = n + warmup
        # No two requests alike, warm-up included: the cost of answering, not of a cache.
        dates = distinct_dates(ROUNDS * per_round)
        series = {name: [] for name in FIGURES}
        agree = Counter()
        by_round, answer, points = [], {}, []
        main, small_, lite = self.main.port, self.small.port, self.sqlite.port
        for round_ in range(ROUNDS):
            progress(f"P1, P2 round {round_ + 1}/{ROUNDS}: {n} requests per figure and floor")
            chunk = dates[round_ * per_round : (round_ + 1) * per_round]
            paths = [members_path(day) for day in chunk]
            repeated = [MEMBERS_PATH] * per_round
            counts = [COUNTS_PATH] * per_round
            # In turn, BLOCK requests of each: a figure and its floor meet the same machine.
            get, members = client.get_steps, floors.members_steps
            steps = {
                "P1": (get, (main, paths), True),
                "P1 floor": (members, (self.url, HOT_SLUG, chunk), True),
                "P1r": (get, (main, repeated), False),
                "P1f": (get, (self.floor_app.port, paths), True),
                "P1f on one date": (get, (self.floor_app.port, repeated), False),
                "P1 floor on one date": (members, (self.url, HOT_SLUG, [END] * per_round), False),
                "P2": (get, (main, counts), False),
                "P1 smaller": (get, (small_, paths), True),
                "P2 smaller": (get, (small_, counts), False),
                "P1s": (get, (lite, paths), True),
                "P1s floor": (
                    floors.sqlite_members_steps,
                    (self.sqlite.url, HOT_SLUG, chunk),
                    True,
                ),
                "P1sf": (get, (self.floor_app.port, [sqlite_members_path(d) for d in chunk]), True),
                "P0": (get, (self.floor_app.port, [CONSTANT_PATH] * per_round), False),
            }
            measured_ = self.call(client.interleaved, steps, warmup, BLOCK)
            for name, (timings, _) in measured_.items():
                series[name] += timings
            by_round.append({name: round(median_ms(t), 2) for name, (t, _) in measured_.items()})
            # Each floor must give the same answer, or it is not a floor; the smaller
            # registry's hot group must answer as the larger's does.
            api = [_members(a) for a in measured_["P1"][1]]
            agree["P1"] += api == measured_["P1 floor"][1]
            agree["P1f"] += api == [_members(a) for a in measured_["P1f"][1]]
            agree["P1 smaller"] += api == [_members(a) for a in measured_["P1 smaller"][1]]
            on_sqlite = [_members(a) for a in measured_["P1s"][1]]
            agree["P1s"] += on_sqlite == measured_["P1s floor"][1]
            agree["P1sf"] += on_sqlite == [_members(a) for a in measured_["P1sf"][1]]
            answer = measured_["P1r"][1][0]
            agree["P1r"] += [_members(answer)] == measured_["P1 floor on one date"][1][-1:]
            points = measured_["P2"][1][0]["points"]
        disagree = sorted(name for name, rounds in agree.items() if rounds != ROUNDS)
        for name in disagree:
            progress(f"{name}: WARNING the answers and the floor's differ")
        ms = {name: median_ms(timings) for name, timings in series.items()}
        self.facts.update(
            hot_members=answer["count"],
            hot_possibly_members=answer["possibly_members"],
            p1_answers_agree=not disagree,
            p1_answers_differ=disagree,
            p1_floor_on_one_date_ms=round(ms["P1 floor on one date"], 2),
            p1_dates=len(dates),
            p2_points=len(points),
            p2_last_count_matches_p1=points[-1]["count"] == answer["count"],
            p1_p2_rounds_ms=by_round,
        )

        def note(*names: str) -> str:
            return "answers differ" if set(names) & set(disagree) else ""

        measured_dates = ROUNDS * n
        p1 = self.row(
            "P1",
            f"members, {measured_dates} distinct dates",
            ms["P1"],
            "ms",
            ms["P1 floor"],
            2,
            note=note("P1"),
        )
        self.row(
            "P1r",
            f"members, {answer['count']} on {END}, repeated",
            ms["P1r"],
            "ms",
            ms["P1 floor"],
            1,
            note=note("P1r"),
        )
        self.row(
            "P0",
            "a constant answer from a minimal Flask app",
            ms["P0"],
            "ms",
            ms["P1 floor"],
            None,
        )
        self.row(
            "P1f",
            "P1 against a minimal Flask app",
            ms["P1"],
            "ms",
            ms["P1f"],
            2,
            note=note("P1f"),
        )
        self.row(
            "P1rf",
            "P1r against a minimal Flask app",
            ms["P1r"],
            "ms",
            ms["P1f on one date"],
            1,
        )
        self.row(
            "P1s",
            f"members on SQLite, {measured_dates} dates",
            ms["P1s"],
            "ms",
            ms["P1s floor"],
            2,
            note=note("P1s"),
        )
        self.row(
            "P1sf",
            "P1s against a minimal Flask app",
            ms["P1s"],
            "ms",
            ms["P1sf"],
            2,
            note=note("P1sf"),
        )
        scale = f"{len(data.events):,} vs {len(small.events):,} events"
        self.row(
            "P1x", f"P1 at {scale}", ms["P1"], "ms", ms["P1 smaller"], 1.2, note=note("P1 smaller")
        )
        self.row("P2", f"counts, {len(points):,} daily points", ms["P2"], "ms", p1.value, 5)
        self.row("P2x", f"P2 at {scale}", ms["P2"], "ms", ms["P2 smaller"], 1.2)
        self.phase("P1, P2", began)

    def w1(self) -> None:
        """W1: the group's page (report, chart, tables, HTML) against its members report."""
        began = time.monotonic()
        n, warmup, port = self.scale.requests // ROUNDS, self.scale.warmup, self.main.port
        page, members = [], []
        for round_ in range(1, ROUNDS + 1):
            progress(f"W1 round {round_}/{ROUNDS}: {n} x group page, members report")
            pages = [GROUP_PAGE_PATH] * (n + warmup)
            timings, (html,) = self.call(client.latency, port, pages, warmup, False, False)
            page += timings
            reports = [MEMBERS_PATH] * (n + warmup)
            timings, (answer,) = self.call(client.latency, port, reports, warmup)
            members += timings
        shown = html.count('<tr data-code="')
        self.facts.update(w1_page_bytes=len(html.encode()), w1_rows_shown=shown)
        self.row(
            "W1",
            f"group page, {answer['count']} members",
            median_ms(page),
            "ms",
            median_ms(members),
            1.5,
            note="" if shown >= answer["count"] else "members missing from the page",
        )
        self.phase("W1", began)

    def p3(self, data: Dataset) -> tuple[list[int], set[str]]:
        """P3: concurrent accessions over HTTP against INSERT + COMMIT, bare and over Flask,
        against the service's own statements over Flask (P3q), and Flask's INSERT through the
        stack (P3s)."""
        began = time.monotonic()
        per_round, clients = self.scale.accessions // ROUNDS, self.scale.clients
        total = per_round * ROUNDS
        # Fresh groups: every (group, participant) pair is a valid first accession; P3 takes
        # the first ``total`` pairs and P3q the next.
        pairs = [(g["slug"], code) for g in data.p3_groups for code in data.participants]
        ids, own_ids, statuses, by_round = [], [], Counter(), []
        seconds = Counter()
        for round_ in range(ROUNDS):
            progress(
                f"P3 round {round_ + 1}/{ROUNDS}: {per_round:,} accessions from {clients} "
                f"clients, {per_round:,} INSERT + COMMIT, {per_round:,} to the floor's app, "
                f"{per_round:,} by the service's statements, {per_round:,} through the stack"
            )
            chosen = pairs[round_ * per_round : (round_ + 1) * per_round]
            requests = accessions("/api/v1", chosen)
            results, api = self.call(
                client.post_all, self.main.port, self.main.token, requests, clients
            )
            statuses.update(str(status) for status, _ in results)
            done = [answer["id"] for status, answer in results if 200 <= status < 300]
            ids += done
            floor = self.call(floors.insert_seconds, self.url, per_round, clients)
            flask, _ = self.floor_answers(requests, clients)
            own = pairs[total + round_ * per_round : total + (round_ + 1) * per_round]
            own_sql, answers = self.floor_answers(accessions(ownsql.PREFIX, own), clients)
            own_ids += [answer["id"] for answer in answers]
            stack, _ = self.floor_answers(accessions(stackfloor.PREFIX, chosen), clients)
            seconds.update(
                {"P3": api, "P3 floor": floor, "P3f": flask, "P3q": own_sql, "P3s": stack}
            )
            by_round.append(
                {
                    "P3": round(len(done) / api),
                    "P3 floor": round(per_round / floor),
                    "P3f": round(per_round / flask),
                    "P3q": round(per_round / own_sql),
                    "P3s": round(per_round / stack),
                }
            )
        self.facts.update(p3_statuses=dict(statuses), p3_rounds_per_s=by_round)
        rate = len(ids) / seconds["P3"]
        self.row(
            "P3",
            f"accessions, {clients} clients",
            rate,
            "writes/s",
            total / seconds["P3 floor"],
            0.4,
            higher_is_better=True,
        )
        self.row(
            "P3f",
            "P3 against a minimal Flask app",
            rate,
            "writes/s",
            total / seconds["P3f"],
            0.5,
            higher_is_better=True,
        )
        self.row(
            "P3q",
            "P3 against its own statements over Flask",
            rate,
            "writes/s",
            total / seconds["P3q"],
            None,
            higher_is_better=True,
        )
        self.row(
            "P3qf",
            "its own statements against the minimal app",
            total / seconds["P3q"],
            "writes/s",
            total / seconds["P3f"],
            None,
            higher_is_better=True,
        )
        self.row(
            "P3s",
            "P3f's INSERT through the stack, against P3f",
            total / seconds["P3s"],
            "writes/s",
            total / seconds["P3f"],
            None,
            higher_is_better=True,
        )
        # A write pays both what the stack adds to P3f's view (P3s) and what its statements
        # add to P3f's one INSERT (P3q): P3 cannot beat their sum, whatever else it does.
        at_best = seconds["P3s"] + seconds["P3q"] - seconds["P3f"]
        self.row(
            "P3b",
            "P3 at best: P3s's stack with P3q's statements",
            total / at_best,
            "writes/s",
            total / seconds["P3f"],
            None,
            higher_is_better=True,
        )
        self.phase("P3", began)
        # P3q's accessions are in the registry too: the check counts them with P3's.
        return ids + own_ids, {code for _, code in pairs[: 2 * total]}

    def floor_answers(self, requests: list[tuple[str, dict]], clients: int) -> tuple[float, list]:
        """Seconds for the floor's app to answer ``requests``, each a 201, and the answers."""
        results, seconds = self.call(
            client.post_all, self.floor_app.port, self.main.token, requests, clients
        )
        if any(status != 201 for status, _ in results):
            raise RuntimeError(f"the floor's app failed: {results[0]}")
        return seconds, [answer for _, answer in results]

    def environment(self, started: datetime) -> dict:
        """What the figures depend on, for comparing runs."""
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
        return {
            "quick": self.quick,
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "duration_s": round(time.monotonic() - STARTED, 1),
            "git_commit": commit.stdout.strip() or None,
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "postgresql": database.server_facts(self.url),
            "database": database.database_name(self.url),
            "server_workers": self.main.service.workers,
            "server_settings": server.options("127.0.0.1", 0, self.main.service.workers),
            "rounds": ROUNDS,
            "scale": vars(self.scale),
            "as_of": END.isoformat(),
            "series_from": HOT_FROM.isoformat(),
            **self.facts,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny scale; checks the bench works")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    url = os.environ.get("BENCH_DATABASE_URL", database.DEFAULT_URL)
    if args.quick:
        url = database.with_database(url, database.database_name(url) + "_quick")
    started = datetime.now(UTC)
    try:
        with tempfile.TemporaryDirectory(prefix="friendsgroup-bench-") as workdir:
            bench = Bench(scale, url, args.quick, Path(workdir))
            rows, checks = bench.run()
            environment = bench.environment(started)
    except Exception:
        traceback.print_exc()
        print("bench: the benchmark itself failed (above)", file=sys.stderr)
        return 2
    print(table(rows), flush=True)
    writes_ok = all(check["ok"] for check in checks)
    summary = ", ".join(f"{c['what']} {c['database']}/{c['2xx']}" for c in checks)
    print(f"\nwrites: {'ok' if writes_ok else 'MISMATCH'} (database/2xx: {summary})", flush=True)
    write_json(args.output, rows, environment, checks)
    progress(f"wrote {args.output}")
    if args.quick:
        return 0
    return 0 if writes_ok and all(row.passed for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
