"""``python -m bench.run [--quick]``: measure SPEC §7's P1–P5 and print one table."""

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
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlencode

from . import client, database, floors, webhooks
from .commands import friendsgroup, friendsgroup_bin, measured
from .dataset import END, FULL, HOT_FROM, HOT_SLUG, QUICK, Dataset, Scale, generate
from .report import Row, table, write_json
from .service import Service

RESULTS = Path(__file__).parent / "results" / "latest.json"
MB = 1024 * 1024
# Each figure and its floor are taken in alternating rounds, so that a burst of other load
# on the machine falls on both rather than on one of them.
ROUNDS = 3
STARTED = time.monotonic()
MEMBERS_PATH = f"/api/v1/groups/{HOT_SLUG}/members?as_of={END.isoformat()}"
GROUP_PAGE_PATH = f"/groups/{HOT_SLUG}?as_of={END.isoformat()}"
COUNTS_PATH = f"/api/v1/groups/{HOT_SLUG}/counts?" + urlencode(
    {"interval": "day", "from": HOT_FROM.isoformat(), "to": END.isoformat()}
)


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


class Bench:
    """One run: build the registry, serve it, measure each figure and its floor."""

    def __init__(self, scale: Scale, url: str, quick: bool, workdir: Path) -> None:
        self.scale, self.url, self.quick, self.workdir = scale, url, quick, workdir
        # The server's webhook worker may send to the bench's own receiver on loopback.
        self.env = {**os.environ, "DATABASE_URL": url, "WEBHOOK_ALLOW_PRIVATE": "1"}
        self.facts: dict = {"phases_s": {}}
        self.rows: list[Row] = []

    def row(self, *args, **kwargs) -> Row:
        """A result row; quick runs do not judge the figures."""
        row = Row(*args, judged=not self.quick, **kwargs)
        self.rows.append(row)
        return row

    def phase(self, name: str, began: float) -> None:
        self.facts["phases_s"][name] = round(time.monotonic() - began, 2)

    def call(self, function, *args):
        """Run a function in the client process and wait for it."""
        return self.pool.submit(function, *args).result()

    def run(self) -> tuple[list[Row], list[dict]]:
        began = time.monotonic()
        busy = cpu_busy()
        self.facts["cpu_busy_at_start"] = round(busy, 2)
        if busy > 0.2:
            progress(f"the CPUs are {busy:.0%} busy before the start: the figures will be skewed")
        progress(f"generating {self.scale.events:,} events")
        data = generate(self.scale)
        self.facts["dataset"] = data.sizes()
        events_file = self.workdir / "events.jsonl"
        data.write_jsonl(events_file)
        progress(f"re-creating {database.database_name(self.url)} and migrating it")
        database.recreate(self.url)
        friendsgroup(self.env, "db", "upgrade")
        self.token = friendsgroup(self.env, "token", "create", "bench").strip()
        self.phase("prepare", began)
        progress("starting the server")
        # The client is a process of its own, so that it shares no interpreter with the bench.
        with (
            Service(self.env, self.workdir / "server.log") as self.service,
            ProcessPoolExecutor(1, mp_context=get_context("spawn")) as self.pool,
        ):
            checks = self.measure(data, events_file)
        peak = max(self.service.peaks.values(), default=0)
        self.row("P5a", "peak RSS of a server worker", peak / MB, "MB", target=150)
        return sorted(self.rows, key=lambda r: r.id), checks

    def post(self, requests: list[tuple[str, dict]], clients: int, what: str) -> list[dict]:
        """POST from the client process; every answer must be a 2xx."""
        results, _ = self.call(client.post_all, self.service.port, self.token, requests, clients)
        failed = [(status, answer) for status, answer in results if not 200 <= status < 300]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(requests)} {what} failed: {failed[0]}")
        return [answer for _, answer in results]

    def measure(self, data: Dataset, events_file: Path) -> list[dict]:
        """Set up over HTTP, import, retract, measure; then check every write."""
        began = time.monotonic()
        groups = data.groups + data.p3_groups
        progress(f"creating {len(groups)} groups and {len(data.instruments)} instruments")
        self.post([("/api/v1/groups", g) for g in groups], 4, "groups")
        self.post([("/api/v1/instruments", i) for i in data.instruments], 4, "instruments")
        self.phase("setup", began)

        self.p4(data, events_file)

        began = time.monotonic()
        candidates = database.retraction_candidates(self.url, HOT_SLUG, self.scale.retractions)
        progress(f"retracting {len(candidates)} events over HTTP")
        retracted = self.post(
            [(f"/api/v1/events/{i}/retraction", {"reason": "bench"}) for i in candidates],
            2,
            "retractions",
        )
        progress("VACUUM ANALYZE")
        database.vacuum_analyze(self.url)
        self.phase("retract", began)

        self.p1_p2()
        self.w1()
        p3_ids, p3_codes = self.p3(data)

        progress("checking that every 2xx write is in the database, and nothing else")
        self.service.sample()
        checks = database.verify_writes(
            self.url,
            {
                "groups": len(groups),
                "instruments": len(data.instruments),
                "participants": len({e["participant"] for e in data.events} | p3_codes),
                "sources": sum(len(event.get("sources", ())) for event in data.events),
                "events": len(data.events) + len(p3_ids),
                "retracted_ids": [event["id"] for event in retracted],
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
        found = webhooks.measure(self.service.port, self.token, count, codes)
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
        """P6: ``friendsgroup dump`` against ``COPY events TO``; ``restore`` against P4's COPY."""
        began = time.monotonic()
        dump_file = self.workdir / "registry.dump"
        events = database.count(self.url, "events")
        dumps, floor_rates = [], []
        for round_ in range(1, ROUNDS + 1):
            progress(f"P6 round {round_}/{ROUNDS}: friendsgroup dump of {events:,} events, COPY TO")
            command = [friendsgroup_bin(), "dump", str(dump_file)]
            done = measured(command, self.env, self.workdir / "dump.log", timeout=300)
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

        target = database.with_database(self.url, database.database_name(self.url) + "_restore")
        progress(f"P6: friendsgroup restore of {events:,} events into a fresh database")
        database.recreate(target)
        env = {**self.env, "DATABASE_URL": target}
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
        self.phase("P6", began)

    def p4(self, data: Dataset, events_file: Path) -> None:
        """P4: ``friendsgroup import`` of the events file against COPY of the same rows."""
        began = time.monotonic()
        progress(f"P4: friendsgroup import of {len(data.events):,} events")
        command = [friendsgroup_bin(), "import", str(events_file)]
        done = measured(command, self.env, self.workdir / "import.log", timeout=540)
        if done.returncode != 0:
            raise RuntimeError(f"the import failed ({done.returncode}):\n{done.output[-3000:]}")
        self.facts["import_output"] = done.output.strip().splitlines()[-3:]
        rate = len(data.events) / done.seconds
        progress(f"P4: {done.seconds:.1f} s, {rate:,.0f} events/s; COPY floor x {ROUNDS}")
        ids = [
            database.ids(self.url, "groups", "slug"),
            database.ids(self.url, "instruments", "slug"),
            database.ids(self.url, "participants", "code"),
        ]
        rows = floors.event_rows(data.events, *ids)
        copies = [floors.copy_rate(self.url, rows) for _ in range(ROUNDS)]
        self.facts["p4_copy_rates"] = [round(r) for r in copies]
        self.row(
            "P4",
            "friendsgroup import",
            rate,
            "events/s",
            statistics.median(copies),
            0.1,
            higher_is_better=True,
        )
        self.row("P5b", "peak RSS of the import", done.max_rss / MB, "MB", target=400)
        self.phase("P4", began)

    def p1_p2(self) -> None:
        """P1: members over HTTP against one SQL query; P2: a daily series against P1."""
        began = time.monotonic()
        n, warmup, port = self.scale.requests // ROUNDS, self.scale.warmup, self.service.port
        members, sql, counts, by_round = [], [], [], []
        for round_ in range(1, ROUNDS + 1):
            progress(f"P1, P2 round {round_}/{ROUNDS}: {n} x members, SQL floor, counts")
            timings, answer = self.call(client.latency, port, MEMBERS_PATH, n, warmup)
            members += timings
            timings, floor_rows = self.call(
                floors.members_latency, self.url, HOT_SLUG, END, n, warmup
            )
            sql += timings
            timings, series = self.call(client.latency, port, COUNTS_PATH, n, warmup)
            counts += timings
            by_round.append([round(median_ms(t[-n:]), 2) for t in (members, sql, counts)])
        # The floor must give the same answer, or it is not a floor.
        api = [(m["code"], m["member_since"]) for m in answer["members"]]
        agree = api == [(row[0], row[4].isoformat()) for row in floor_rows]
        if not agree:
            progress("P1: WARNING the API's members and the SQL floor's differ")
        points = series["points"]
        self.facts.update(
            hot_members=answer["count"],
            hot_possibly_members=answer["possibly_members"],
            p1_answers_agree=agree,
            p2_points=len(points),
            p2_last_count_matches_p1=points[-1]["count"] == answer["count"],
            p1_p2_rounds_ms=[dict(zip(("P1", "P1 floor", "P2"), r, strict=True)) for r in by_round],
        )
        p1 = self.row(
            "P1",
            f"members, {answer['count']} on {END}",
            median_ms(members),
            "ms",
            median_ms(sql),
            3,
            note="" if agree else "answers differ",
        )
        self.row(
            "P2", f"counts, {len(points):,} daily points", median_ms(counts), "ms", p1.value, 5
        )
        self.phase("P1, P2", began)

    def w1(self) -> None:
        """W1: the group's page (report, chart, tables, HTML) against its members report."""
        began = time.monotonic()
        n, warmup, port = self.scale.requests // ROUNDS, self.scale.warmup, self.service.port
        page, members = [], []
        for round_ in range(1, ROUNDS + 1):
            progress(f"W1 round {round_}/{ROUNDS}: {n} x group page, members report")
            timings, html = self.call(client.latency, port, GROUP_PAGE_PATH, n, warmup, False)
            page += timings
            timings, answer = self.call(client.latency, port, MEMBERS_PATH, n, warmup)
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
        """P3: concurrent accessions over HTTP against single-row INSERT + COMMIT."""
        began = time.monotonic()
        per_round, clients = self.scale.accessions // ROUNDS, self.scale.clients
        # Fresh groups: every (group, participant) pair is a valid first accession.
        pairs = [(g["slug"], code) for g in data.p3_groups for code in data.participants]
        pairs = pairs[: per_round * ROUNDS]
        ids, statuses, api_seconds, floor_seconds, by_round = [], Counter(), 0.0, 0.0, []
        for round_ in range(ROUNDS):
            progress(
                f"P3 round {round_ + 1}/{ROUNDS}: {per_round:,} accessions from "
                f"{clients} clients, then {per_round:,} INSERT + COMMIT"
            )
            requests = [
                (
                    f"/api/v1/groups/{slug}/accessions",
                    {"participant": code, "effective_on": END.isoformat()},
                )
                for slug, code in pairs[round_ * per_round : (round_ + 1) * per_round]
            ]
            results, seconds = self.call(
                client.post_all, self.service.port, self.token, requests, clients
            )
            statuses.update(str(status) for status, _ in results)
            done = [answer["id"] for status, answer in results if 200 <= status < 300]
            floor = self.call(floors.insert_seconds, self.url, per_round, clients)
            ids, api_seconds, floor_seconds = (
                ids + done,
                api_seconds + seconds,
                floor_seconds + floor,
            )
            by_round.append(
                {"P3": round(len(done) / seconds), "P3 floor": round(per_round / floor)}
            )
        self.facts.update(p3_statuses=dict(statuses), p3_rounds_per_s=by_round)
        self.row(
            "P3",
            f"accessions, {clients} clients",
            len(ids) / api_seconds,
            "writes/s",
            per_round * ROUNDS / floor_seconds,
            0.4,
            higher_is_better=True,
        )
        self.phase("P3", began)
        return ids, {code for _, code in pairs}

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
            "server_workers": self.service.workers,
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
