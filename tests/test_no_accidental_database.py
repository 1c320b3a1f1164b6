"""Only ``db upgrade`` creates a SQLite database; the README's write example works when seeded."""

import json
import os
import re
import subprocess
from pathlib import Path

from tests.support import console_script

ROOT = Path(__file__).resolve().parent.parent


def friendsgroup(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return subprocess.run(
        [console_script("friendsgroup"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_command_in_an_empty_folder_names_the_missing_database(tmp_path):
    for args in (
        ("report", "members", "haip-friends-group"),
        ("seed", "--path", str(ROOT / "seeds")),
        ("token", "list"),
    ):
        result = friendsgroup(tmp_path, *args)
        assert result.returncode == 1, (args, result.stderr)
        expected = tmp_path.resolve() / "friendsgroup.sqlite3"
        assert f"error: no database at {expected} (DATABASE_URL)" in result.stderr
        assert "Traceback" not in result.stderr
        assert list(tmp_path.iterdir()) == []


def test_db_upgrade_is_the_one_that_creates_it(tmp_path):
    result = friendsgroup(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "friendsgroup.sqlite3").exists()
    assert friendsgroup(tmp_path, "token", "list").returncode == 0


def readme_write_example() -> tuple[str, dict]:
    """The path and body of the README's first write example."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Writing: tokens", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    path = re.search(r"http://127\.0\.0\.1:8000(\S+)", block).group(1)
    body = re.search(r"-d '(.*?)'", block, re.S).group(1)
    return path, json.loads(body)


def test_the_readme_write_example_works_on_the_seeded_registry(runner, client, auth):
    assert runner.invoke(args=["seed", "--path", str(ROOT / "seeds")]).exit_code == 0
    path, body = readme_write_example()
    response = client.post(path, json=body, headers=auth)
    assert response.status_code == 201, response.json


def test_an_accession_inside_a_seeded_window_names_the_event_to_correct(runner, client, auth):
    assert runner.invoke(args=["seed", "--path", str(ROOT / "seeds")]).exit_code == 0
    events = client.get(
        "/api/v1/groups/haip-friends-group/events", query_string={"participant": "KEN"}
    ).json["items"]
    kenya = events[0]["id"]
    body = {
        "participant": "KE",
        "effective_on": "2025-06-01",
        "sources": [{"url": "https://example.org/press/123", "reliability": "official"}],
    }
    response = client.post("/api/v1/groups/haip-friends-group/accessions", json=body, headers=auth)
    assert response.status_code == 409
    assert response.json["type"].endswith("history-conflict")
    detail = response.json["detail"]
    assert f"event {kenya} has an uncertain date (between 2024-05-02 and 2026-05-14)" in detail
    assert f"correct event {kenya} instead (POST /api/v1/events/{kenya}/correction" in detail
    corrected = client.post(
        f"/api/v1/events/{kenya}/correction",
        json={
            "reason": "press release dates it",
            "effective_on": "2025-06-01",
            "earliest_on": None,
        },
        headers=auth,
    )
    assert corrected.status_code == 201, corrected.json
