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
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlencode

from . import client, database, floors
from .commands import friendsgroup, friendsgroup_bin, measured
from .dataset import END, FULL, HOT_FROM, HOT_SLUG, QUICK, Dataset, Scale, generate
from .report import Row, table, write_json
from .service import Service

RESULTS = Path(__file__).parent / "results" / "latest.json"
MB = 1024 * 1024
STARTED = time.monotonic()


def progress(message: str) -> None:
    """One line on stderr, stamped with the seconds since the start."""
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def median_ms(timings: list[float]) -> float:
    return statistics.median(timings) * 1000


class Bench:
    """One run: build the registry, serve it, measure each figure and its floor."""

    def __init__(self, scale: Scale, url: str, quick: bool, workdir: Path) -> None:
        self.scale, self.url, self.quick, self.workdir = scale, url, quick, workdir
        self.env = {**os.environ, "DATABASE_URL": url}
        self.facts: dict = {"phases_s": {}}

    def phase(self, name: str, began: float) -> None:
        self.facts["phases_s"][name] = round(time.monotonic() - began, 2)

    def run(self) -> tuple[list[Row], list[dict]]:
        began = time.monotonic()
        progress(f"generating {self.scale.events:,} events")
        data = generate(self.scale)
        self.facts["dataset"] = data.sizes()
        events_file = self.workdir / "events.jsonl"
        data.write_jsonl(events_file)
        progress(f"re-creating {database.database_name(self.url)} and migrating it")
        database.recreate(self.url)
        friendsgroup(self.env, "db", "upgrade")
        token = friendsgroup(self.env, "token", "create", "bench").strip()
        self.phase("prepare", began)
        progress("starting the server")
        # The client is a process of its own, so that it shares no interpreter with the bench.
        with (
            Service(self.env, self.workdir / "server.log") as service,
            ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool,
        ):
            self.service, self.pool, self.token = service, pool, token
            rows, checks = self.measure(data, events_file)
        rows.append(
            Row(
                "P5a",
                "peak RSS of a server worker",
                max(service.peaks.values(), default=0) / MB,
                "MB",
                target=150,
                judged=not self.quick,
            )
        )
        rows.append(self.import_memory)
        return sorted(rows, key=lambda r: r.id), checks

    def call(self, function, *args):
        """Run a function in the client process and wait for it."""
        return self.pool.submit(function, *args).result()

    def post(self, requests: list[tuple[str, dict]], clients: int, what: str) -> list[dict]:
        """POST from the client process; every answer must be a 2xx."""
        results, _ = self.call(client.post_all, self.service.port, self.token, requests, clients)
        failed = [(status, answer) for status, answer in results if not 200 <= status < 300]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(requests)} {what} failed: {failed[0]}")
        return [answer for _, answer in results]

    def measure(self, data: Dataset, events_file: Path) -> tuple[list[Row], list[dict]]:
        began = time.monotonic()
        progress(
            f"creating {len(data.groups) + len(data.p3_groups)} groups and "
            f"{len(data.instruments)} instruments over HTTP"
        )
        self.post([("/api/v1/groups", g) for g in data.groups + data.p3_groups], 4, "groups")
        self.post([("/api/v1/instruments", i) for i in data.instruments], 4, "instruments")
        self.phase("setup", began)

        rows = [self.p4(data, events_file)]

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

        p1 = self.p1()
        rows += [p1, self.p2(p1)]
        p3, p3_ids = self.p3(data)
        rows.append(p3)

        progress("checking that every 2xx write is in the database, and nothing else")
        checks = database.verify_writes(
            self.url,
            {
                "groups": len(data.groups) + len(data.p3_groups),
                "instruments": len(data.instruments),
                "participants": len({e["participant"] for e in data.events} | self.p3_codes),
                "sources": sum(len(event.get("sources", ())) for event in data.events),
                "events": len(data.events) + len(p3_ids),
                "retracted_ids": [event["id"] for event in retracted],
                "p3_ids": p3_ids,
            },
        )
        self.service.sample()
        return rows, checks

    def p4(self, data: Dataset, events_file: Path) -> Row:
        """P4: ``friendsgroup import`` of the events file against COPY of the same rows."""
        began = time.monotonic()
        progress(f"P4: friendsgroup import of {len(data.events):,} events")
        command = [friendsgroup_bin(), "import", str(events_file)]
        done = measured(command, self.env, self.workdir / "import.log", timeout=540)
        if done.returncode != 0:
            raise RuntimeError(f"the import failed ({done.returncode}):\n{done.output[-3000:]}")
        self.facts["import_output"] = done.output.strip().splitlines()[-3:]
        rate = len(data.events) / done.seconds
        progress(f"P4: {done.seconds:.1f} s, {rate:,.0f} events/s; COPY floor")
        ids = [
            database.ids(self.url, table, key)
            for table, key in (
                ("groups", "slug"),
                ("instruments", "slug"),
                ("participants", "code"),
            )
        ]
        floor = floors.copy_rate(self.url, floors.event_rows(data.events, *ids))
        self.import_memory = Row(
            "P5b",
            "peak RSS of the import",
            done.max_rss / MB,
            "MB",
            target=400,
            judged=not self.quick,
        )
        self.phase("P4", began)
        return Row("P4", "friendsgroup import", rate, "events/s", floor, 0.1, True, not self.quick)

    def p1(self) -> Row:
        """P1: members on END over HTTP against one SQL query through psycopg."""
        began = time.monotonic()
        n, warmup = self.scale.requests, self.scale.warmup
        path = f"/api/v1/groups/{HOT_SLUG}/members?as_of={END.isoformat()}"
        progress(f"P1: {n} x GET {path}")
        timings, answer = self.call(client.latency, self.service.port, path, n, warmup)
        progress("P1: floor, the same answer from one SQL query")
        floor_timings, floor_rows = self.call(
            floors.members_latency, self.url, HOT_SLUG, END, n, warmup
        )
        api = [(m["code"], m["member_since"]) for m in answer["members"]]
        sql = [(row[0], row[4].isoformat()) for row in floor_rows]
        self.facts["hot_members"] = answer["count"]
        self.facts["hot_possibly_members"] = answer["possibly_members"]
        self.facts["p1_answers_agree"] = api == sql
        if api != sql:
            progress(f"P1: WARNING the API ({len(api)}) and SQL ({len(sql)}) members differ")
        self.phase("P1", began)
        return Row(
            "P1",
            f"members, {answer['count']} on {END}",
            median_ms(timings),
            "ms",
            median_ms(floor_timings),
            3,
            judged=not self.quick,
            note="" if api == sql else "answers differ",
        )

    def p2(self, p1: Row) -> Row:
        """P2: a 10-year daily counts series against P1."""
        began = time.monotonic()
        query = urlencode({"interval": "day", "from": HOT_FROM.isoformat(), "to": END.isoformat()})
        path = f"/api/v1/groups/{HOT_SLUG}/counts?{query}"
        n, warmup = self.scale.requests, self.scale.warmup
        progress(f"P2: {n} x GET {path}")
        timings, answer = self.call(client.latency, self.service.port, path, n, warmup)
        points = answer["points"]
        self.facts["p2_points"] = len(points)
        self.facts["p2_last_count_matches_p1"] = points[-1]["count"] == self.facts["hot_members"]
        self.phase("P2", began)
        return Row(
            "P2",
            f"counts, {len(points):,} daily points",
            median_ms(timings),
            "ms",
            p1.value,
            5,
            judged=not self.quick,
        )

    def p3(self, data: Dataset) -> tuple[Row, list[int]]:
        """P3: concurrent accessions over HTTP against single-row INSERT + COMMIT."""
        began = time.monotonic()
        total, clients = self.scale.accessions, self.scale.clients
        pairs = [(g["slug"], code) for g in data.p3_groups for code in data.participants]
        requests = [
            (
                f"/api/v1/groups/{slug}/accessions",
                {"participant": code, "effective_on": END.isoformat()},
            )
            for slug, code in pairs[:total]
        ]
        self.p3_codes = {code for _, code in pairs[:total]}
        progress(f"P3: {total:,} accessions from {clients} concurrent clients")
        results, seconds = self.call(
            client.post_all, self.service.port, self.token, requests, clients
        )
        ids = [answer["id"] for status, answer in results if 200 <= status < 300]
        statuses: dict[str, int] = {}
        for status, _ in results:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        self.facts["p3_statuses"] = statuses
        progress(f"P3: {len(ids) / seconds:,.0f} accessions/s; floor, INSERT + COMMIT")
        floor = self.call(floors.insert_rate, self.url, total, clients)
        self.phase("P3", began)
        return Row(
            "P3",
            f"accessions, {clients} clients",
            len(ids) / seconds,
            "writes/s",
            floor,
            0.4,
            True,
            not self.quick,
        ), ids

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
            "platform": platform.platform(),
            "python": platform.python_version(),
            "postgresql": database.server_facts(self.url),
            "database": database.database_name(self.url),
            "server_workers": 2,
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
