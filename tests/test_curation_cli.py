"""The curator's verbs at the command line: show, retract, correct, a participant's history."""

import json

from tests.support import SOURCE, accede, create_group


def test_show_correct_retract_and_history(client, auth, runner):
    create_group(client, auth)
    kenya = accede(
        client,
        auth,
        "KEN",
        "2025-06-01",
        earliest_on="2024-05-02",
        note="Join date unknown",
        sources=[SOURCE],
    ).json
    shown = runner.invoke(args=["event", "show", str(kenya["id"])])
    assert shown.exit_code == 0, shown.output
    assert "KEN (Kenya)" in shown.output and SOURCE["url"] in shown.output
    as_json = json.loads(
        runner.invoke(args=["event", "show", str(kenya["id"]), "--format", "json"]).output
    )
    assert as_json["earliest_on"] == "2024-05-02"

    corrected = runner.invoke(
        args=["event", "correct", str(kenya["id"]), "--effective-on", "2024-09-10"]
        + ["--earliest-on", "none", "--note", "", "--reason", "dated by MOFA", "--by", "ana"]
    )
    assert corrected.exit_code == 0, corrected.output
    replacement = client.get(f"/api/v1/events/{kenya['id'] + 1}").json
    assert replacement["supersedes"] == kenya["id"] and replacement["recorded_by"] == "ana"
    assert replacement["earliest_on"] is None and replacement["note"] is None
    assert client.get(f"/api/v1/events/{kenya['id']}").json["retracted_by"] == "ana"

    # Refusals of the rules: one line, exit 1, nothing written.
    again = runner.invoke(args=["event", "retract", str(kenya["id"]), "--reason", "x"])
    assert again.exit_code == 1 and "Already retracted" in again.output
    same = runner.invoke(args=["event", "correct", str(replacement["id"]), "--reason", "x"])
    assert same.exit_code == 1 and "changes nothing" in same.output
    assert runner.invoke(args=["event", "show", "999"]).exit_code == 1

    retracted = runner.invoke(
        args=["event", "retract", str(replacement["id"]), "--reason", "not attested", "--by", "bo"]
    )
    assert retracted.exit_code == 0, retracted.output
    assert client.get(f"/api/v1/events/{replacement['id']}").json["retracted_by"] == "bo"

    history = runner.invoke(args=["participant", "history", "ke"])
    assert history.exit_code == 0, history.output
    assert f"corrected by {replacement['id']} (dated by MOFA) by ana" in history.output
    assert f"retracted (not attested) by bo; corrects {kenya['id']}" in history.output
    assert SOURCE["url"] in history.output
    data = json.loads(
        runner.invoke(args=["participant", "history", "KEN", "--format", "json"]).output
    )
    assert [e["id"] for e in data["events"]] == [replacement["id"], kenya["id"]]
    assert data["memberships"] == []
    assert runner.invoke(args=["participant", "history", "XXXX"]).exit_code == 1
