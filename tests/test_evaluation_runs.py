"""Discovery and reading of run directories (MLGym's published layout and ours), per-run problems, and the
`mlgym-tui results` command run as a real process."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlgym_tui.evaluation import BASELINE, aggregate, collect_runs
from mlgym_tui.evaluation.discovery import find_runs, parse_mlgym_name

AGENT_CFG = "better_thought_action_parser_with_insert"


def mlgym_dir_name(model: str, task: str, run: int, suffix: str | None = "parallel_agents") -> str:
    tail = f"__{suffix}" if suffix else ""
    return f"{model}__{task}__{AGENT_CFG}__t-0.00__p-0.95__c-4.00__install-0{tail}_run_{run}"


def write_traj(path: Path, task: str, steps: int, exit_status: str | None, cost: float, scores: list) -> None:
    step = {"action": "validate", "observation": 'the "execution_time": 99 text is not a key',
            "response": "", "thought": "", "execution_time": 2.5,
            "state": json.dumps({"open_file": "n/a", "working_dir": "/home/agent/workspace"})}
    info = {"model_stats": {"total_cost": cost, "task_cost": cost, "tokens_sent": 10, "tokens_received": 5,
                            "api_calls": steps},
            "submission": "/home/agent/workspace/submission.csv", "score": scores, "summarizer": {}}
    if exit_status is not None:
        info["exit_status"] = exit_status
    traj = {"environment": "mlgym_main", "trajectory": [step] * steps,
            "history": [{"role": "system", "content": "x", "agent": "primary"}], "info": info}
    (path / f"{task}.traj").write_text(json.dumps(traj, indent=2))


def mlgym_run(root: Path, model: str, task: str, scores: list[dict], baseline: dict, run: int = 0,
              exit_status: str | None = "submitted", steps: int = 4, cost: float = 1.25) -> Path:
    d = root / mlgym_dir_name(model, task, run)
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps({"agent": scores, "baseline": baseline}))
    write_traj(d, task, steps, exit_status, cost, scores)
    return d


def our_run(root: Path, model: str, task: str, scores: list[dict], baseline: dict, agent: str = "default",
            metrics: list[dict] | None = None, ended: bool = True, stamp: str = "20250101-120000",
            trust: str = "", trust_reason: str = "") -> Path:
    d = root / "runs" / f"{stamp}__{model.replace('/', '-')}__{task}__{agent}"
    d.mkdir(parents=True)
    started = {"type": "episode_started", "t": 1000.0, "run_id": d.name, "task_id": task, "agent": agent,
               "model": model, "mode": "auto", "engine": "local", "max_steps": 50, "cost_limit": 4.0,
               "parent": None, "fork_step": None, "baseline": baseline, "metrics": metrics or []}
    if trust:
        started.update(trust=trust, trust_reason=trust_reason)
    lines = [started, {"type": "step", "t": 1010.0, "step": 1, "author": agent, "action": "ls", "observation": ""}]
    if ended:
        lines.append({"type": "episode_ended", "t": 1100.0, "exit_status": "submitted", "submission": None,
                      "score": scores, "model_stats": {"total_cost": 0.5}})
    (d / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    results = {"agent": scores, "baseline": baseline}
    if trust:  # as the recorder writes it; runs recorded before trust labels have no such keys
        results.update(trust=trust, trust_reason=trust_reason)
    (d / "results.json").write_text(json.dumps(results))
    write_traj(d, task, 2, "submitted" if ended else None, 0.5, scores)
    return d


def test_mlgym_directory_names_are_parsed():
    fields = parse_mlgym_name(mlgym_dir_name("metagen-gpt4o", "imageClassificationCifar10", 3))
    assert fields["model"] == "metagen-gpt4o" and fields["task"] == "imageClassificationCifar10"
    assert fields["agent"] == AGENT_CFG and fields["run"] == "3" and fields["suffix"] == "parallel_agents"
    assert parse_mlgym_name(mlgym_dir_name("llama3-405b", "3SATTime", 0, suffix=None))["task"] == "3SATTime"
    assert parse_mlgym_name("some_other_folder") is None


def test_discovery_finds_both_layouts_recursively_and_reads_them(tmp_path):
    pub = mlgym_run(tmp_path / "published" / "deep", "metagen-gpt4o", "3SATTime",
                    [{"Time": 9.0}, {"Time": 7.0}], {"Time": 16.0}, steps=6, cost=2.5)
    (pub / "workspace").mkdir()  # a run's own folders are not searched for further runs
    ours = our_run(tmp_path, "openai/gpt-4o", "3SATTime", [{"Time": 8.0}], {"Time": 16.0})
    human = our_run(tmp_path, "none", "3SATTime", [{"Time": 12.0}], {"Time": 16.0}, agent="human",
                    stamp="20250102-120000")
    (tmp_path / "notes").mkdir()
    runs = {r.path: r for r in collect_runs([tmp_path])}
    assert set(runs) == {pub.resolve(), ours.resolve(), human.resolve()} or set(runs) == {pub, ours, human}
    published = next(r for r in runs.values() if r.layout == "mlgym")
    assert (published.model, published.task_id, published.run_index) == ("gpt4o", "3SATTime", 0)
    assert (published.exit_status, published.cost, published.steps, published.wall_time) == ("submitted", 2.5, 6, 15.0)
    mine = next(r for r in runs.values() if r.layout == "ours" and r.agent != "human")
    assert (mine.model, mine.exit_status, mine.cost, mine.wall_time, mine.steps) == ("openai/gpt-4o", "submitted", 0.5, 100.0, 2)
    assert next(r for r in runs.values() if r.agent == "human").model == "human"
    table = aggregate(list(runs.values()))
    assert table.models == ["gpt4o", "human", "openai/gpt-4o", BASELINE]
    assert table.cell("3SATTime", "gpt4o").best.value == 7.0
    assert table.cell("3SATTime", "human").best.run_path == human


def test_declared_primary_metric_ranks_a_task_outside_mlgym(tmp_path):
    declared = [{"name": "loss", "direction": "minimize", "primary": False},
                {"name": "f1", "direction": "maximize", "primary": True}]
    our_run(tmp_path, "m1", "myTask", [{"f1": 0.5, "loss": 3}, {"f1": 0.7, "loss": 4}], {"f1": 0.4}, metrics=declared)
    table = aggregate(collect_runs([tmp_path]))
    assert table.directions == {"myTask": ("f1", "maximize")}
    assert table.cell("myTask", "m1").best.value == 0.7 and not table.problems


def test_problems_are_reported_per_run_while_the_rest_aggregates(tmp_path):
    good = mlgym_run(tmp_path, "m1", "blotto", [{"Score": 0.3}], {"Score": -0.25})
    no_results = mlgym_run(tmp_path, "m2", "blotto", [{"Score": 0.2}], {"Score": -0.25})
    (no_results / "results.json").unlink()
    bad_traj = mlgym_run(tmp_path, "m3", "blotto", [{"Score": 0.2}], {"Score": -0.25})
    (bad_traj / "blotto.traj").write_text('{"environment": "mlgym_main", "trajectory": [')
    bad_results = mlgym_run(tmp_path, "m4", "blotto", [{"Score": 0.2}], {"Score": -0.25})
    (bad_results / "results.json").write_text("{not json")
    unknown = mlgym_run(tmp_path, "m5", "mysteryTask", [{"acc": 0.2}], {"acc": 0.1})
    mixed = mlgym_run(tmp_path, "m6", "blotto", [{"score": 0.9}], {"Score": -0.25})
    running = our_run(tmp_path, "m7", "blotto", [{"Score": 0.5}], {"Score": -0.25}, ended=False)
    table = aggregate(collect_runs([tmp_path]))
    messages = {p.path.name: p.message for p in table.problems}
    assert set(messages) == {d.name for d in (no_results, bad_traj, bad_results, unknown, mixed, running)}
    assert all("\n" not in m for m in messages.values())
    assert "results.json is missing" in messages[no_results.name]
    assert "blotto.traj is not valid JSON" in messages[bad_traj.name]
    assert "results.json is not valid JSON" in messages[bad_results.name]
    assert "--direction mysteryTask=METRIC:max" in messages[unknown.name]
    assert "['score']" in messages[mixed.name] and "'Score'" in messages[mixed.name]
    assert "still running" in messages[running.name]
    assert table.tasks == ["blotto"] and table.cell("blotto", "m1").best.run_path == good
    assert table.cell("blotto", "m1").best.feasible
    # As in MLGym, a run counts whenever its results.json holds scores: a broken or unfinished trajectory is a
    # warning, not a reason to drop it.
    counted = {p.path.name for p in table.problems if p.counted}
    assert counted == {bad_traj.name, running.name}
    assert table.cell("blotto", "m3").best.run_path == bad_traj and table.cell("blotto", "m7").best.value == 0.5
    assert table.model_stats["m7"].exit_statuses == {"unknown (no exit_status)": 1}


def test_directions_passed_later_rescue_a_run_of_an_unknown_task(tmp_path):
    mlgym_run(tmp_path, "m1", "mysteryTask", [{"acc": 0.2}, {"acc": 0.3}], {"acc": 0.1})
    runs = collect_runs([tmp_path])
    assert aggregate(runs).problems and aggregate(runs).tasks == []
    table = aggregate(runs, directions={"mysteryTask": ("acc", "max")})
    assert not table.problems and table.cell("mysteryTask", "m1").best.value == 0.3


def test_runs_mlgym_counts_are_counted_whatever_their_trajectory_says(tmp_path):
    crashed = mlgym_run(tmp_path, "m1", "blotto", [{"Score": 0.3}], {"Score": -0.25}, exit_status=None)
    missing = mlgym_run(tmp_path, "m1", "blotto", [{"Score": 0.6}], {"Score": -0.25}, run=1)
    (missing / "blotto.traj").unlink()
    mlgym_run(tmp_path, "m2", "blotto", [], {"Score": -0.25}, exit_status=None)  # crashed before any score
    runs = {r.path: r for r in collect_runs([tmp_path])}
    assert (runs[crashed].exit_status, runs[crashed].problem) == ("unknown (no exit_status)", None)
    assert "no exit_status" in runs[crashed].warning and not runs[crashed].finished
    assert (runs[missing].exit_status, runs[missing].problem) == ("missing trajectory", None)
    assert "blotto.traj is missing" in runs[missing].warning
    table = aggregate(list(runs.values()))
    assert table.cell("blotto", "m1").best.value == 0.6 and table.cell("blotto", "m1").best.run_path == missing
    assert table.cell("blotto", "m2").best.value is None  # an empty results.json counts, with no valid score
    assert table.problem_of(crashed) is None and table.model_stats["m1"].exit_statuses == {
        "unknown (no exit_status)": 1, "missing trajectory": 1}


def test_the_baseline_is_compared_unless_left_out(tmp_path):
    mlgym_run(tmp_path, "m1", "blotto", [{"Score": 0.3}], {"Score": -0.25})
    mlgym_run(tmp_path, "m2", "blotto", [{"Score": 0.1}], {"Score": -0.25})
    runs = collect_runs([tmp_path])
    assert aggregate(runs, models=["m1"]).models == ["m1", BASELINE]
    assert aggregate(runs, models=["m1", BASELINE, "m2"]).models == ["m1", "m2", BASELINE]
    assert aggregate(runs, include_baseline=False).models == ["m1", "m2"]
    out = subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "results", str(tmp_path), "--models", "m1",
                          "--no-baseline", "--json", str(tmp_path / "r.json")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "r.json").read_text())["models"] == ["m1"]


def test_info_not_at_the_end_of_the_traj_is_still_read(tmp_path):
    d = mlgym_run(tmp_path, "m1", "blotto", [{"Score": 0.3}], {"Score": -0.25}, steps=3)
    traj = json.loads((d / "blotto.traj").read_text())
    reordered = {"info": traj["info"], "environment": traj["environment"], "trajectory": traj["trajectory"]}
    (d / "blotto.traj").write_text(json.dumps(reordered))
    (run,) = collect_runs([tmp_path])
    assert (run.exit_status, run.steps, run.problem) == ("submitted", 3, None)


def test_collect_runs_names_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        collect_runs([tmp_path / "nope"])
    assert find_runs([tmp_path]) == ([], [])


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "results", *args],
                          capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_cli_prints_table_and_writes_csv_and_json(tmp_path):
    runs = tmp_path / "runs"
    mlgym_run(runs, "metagen-a", "3SATTime", [{"Time": 9.0}, {"Time": 7.0}], {"Time": 16.0})
    mlgym_run(runs, "metagen-b", "3SATTime", [{"Time": 20.0}], {"Time": 16.0}, exit_status="autosubmission (max_steps)")
    broken = mlgym_run(runs, "metagen-b", "3SATTime", [{"Time": 5.0}], {"Time": 16.0}, run=1)
    (broken / "results.json").write_text("[")
    out_csv, out_json = tmp_path / "r.csv", tmp_path / "r.json"
    proc = cli(str(runs), "--csv", str(out_csv), "--json", str(out_json))
    assert proc.returncode == 0, proc.stderr
    assert "3SATTime" in proc.stdout and "AUP" in proc.stdout and "autosubmission (max_steps) 1" in proc.stdout
    assert "1 run(s) left out" in proc.stdout and broken.name in proc.stdout
    rows = list(csv.DictReader(out_csv.open()))
    score = {(r["task_id"], r["model"]): r for r in rows if r["kind"] == "score"}
    assert float(score[("3SATTime", "a")]["best"]) == 7.0 and score[("3SATTime", "b")]["best_feasible"] == "False"
    aup_rows = {r["model"]: r for r in rows if r["kind"] == "aup"}
    assert set(aup_rows) == {"a", "b", BASELINE}
    data = json.loads(out_json.read_text())
    assert data["aup"]["a"]["best"] == float(aup_rows["a"]["best"])
    assert len(data["profiles"]["best"]["tau"]) == 500 and data["problems"][0]["path"].endswith(broken.name)
    only = cli(str(runs), "--models", "a,b", "--json", str(out_json))
    assert only.returncode == 0 and json.loads(out_json.read_text())["models"] == ["a", "b", BASELINE]


def test_cli_exit_codes_for_nothing_found_and_bad_options(tmp_path):
    empty = cli(str(tmp_path))
    assert empty.returncode == 2 and "no run directories" in empty.stderr
    mlgym_run(tmp_path, "a", "3SATTime", [{"Time": 9.0}], {"Time": 16.0})
    assert cli(str(tmp_path), "--models", "zzz").returncode == 2
    bad = cli(str(tmp_path), "--direction", "oops")
    assert bad.returncode == 2 and "TASK=METRIC:max" in bad.stderr


IN_PROCESS_REASON = "evaluate.py loads the agent's model files and code in its own process"


def trust_runs(root: Path) -> dict[str, Path]:
    """One task, four models: scored isolated, in-process, unisolated (local runtime), and before trust labels."""
    return {
        "isolated": our_run(root, "m-iso", "3SATTime", [{"Time": 7.0}], {"Time": 16.0}, stamp="20250101-100000",
                            trust="isolated", trust_reason="the submission is data, scored in a fresh container"),
        "in-process": our_run(root, "m-inproc", "3SATTime", [{"Time": 9.0}, {"Time": 8.0}], {"Time": 16.0},
                              stamp="20250101-100100", trust="in-process", trust_reason=IN_PROCESS_REASON),
        "unisolated": our_run(root, "m-local", "3SATTime", [{"Time": 10.0}], {"Time": 16.0}, stamp="20250101-100200",
                              trust="unisolated", trust_reason="the local runtime scores on this machine as you"),
        "old": our_run(root, "m-old", "3SATTime", [{"Time": 11.0}], {"Time": 16.0}, stamp="20250101-100300"),
    }


def printed(table) -> str:
    from rich.console import Console

    from mlgym_tui.evaluation.report_table import print_report

    console = Console(width=200, record=True, color_system=None, file=open("/dev/null", "w"))
    print_report(table, console)
    return console.export_text()


def test_trust_labels_are_read_marked_in_the_table_and_noted(tmp_path):
    paths = trust_runs(tmp_path)
    mlgym_run(tmp_path / "published", "metagen-pub", "3SATTime", [{"Time": 12.0}], {"Time": 16.0})
    runs = {r.model: r for r in collect_runs([tmp_path])}
    assert (runs["m-inproc"].trust, runs["m-inproc"].trust_reason) == ("in-process", IN_PROCESS_REASON)
    assert runs["m-iso"].trust == "isolated" and runs["m-local"].trust == "unisolated"
    assert runs["m-old"].trust == "" and runs["pub"].trust == ""  # not recorded: unknown, not guessed
    table = aggregate(list(runs.values()))
    assert table.cell("3SATTime", "m-inproc").best.trust == "in-process"
    assert table.cell("3SATTime", "m-old").best.trust == "" and table.cell("3SATTime", BASELINE).best.trust == ""
    # only the scores the agent's code could have influenced are noted, with the reason
    notes = {n.path.name: n.message for n in table.notes}
    assert set(notes) == {paths["in-process"].name, paths["unisolated"].name}
    assert notes[paths["in-process"].name] == f"in-process scores: {IN_PROCESS_REASON}"
    assert not table.problems
    stats = table.model_stats
    assert stats["m-iso"].trust_counts() == "isolated 1" and stats["m-old"].trust_counts() == "-"

    text = printed(table)
    assert "8† / 8†" in text and "10‡ / 10‡" in text
    assert "7 / 7" in text and "11 / 11" in text and "12 / 12" in text  # isolated and unknown: no mark
    assert "† in-process: evaluate.py ran the agent's code in its own process" in text
    assert "‡ unisolated: scored by the local runtime" in text
    assert "2 scored run(s) not isolated from the agent's code:" in text
    assert f"{paths['in-process']}: in-process scores: {IN_PROCESS_REASON}" in text
    assert "isolated 1" in text and "in-process 1" in text  # the trust column of the run statistics

    data = table.to_dict()
    by_name = {Path(r["path"]).name: r for r in data["runs"]}
    assert by_name[paths["in-process"].name]["trust"] == "in-process"
    assert by_name[paths["in-process"].name]["trust_reason"] == IN_PROCESS_REASON
    assert by_name[paths["old"].name]["trust"] is None
    score = next(c for c in data["scores"] if c["model"] == "m-inproc")
    assert score["best"]["trust"] == "in-process" and len(data["notes"]) == 2


def test_runs_without_trust_labels_print_as_before(tmp_path):
    our_run(tmp_path, "m1", "3SATTime", [{"Time": 7.0}], {"Time": 16.0})
    our_run(tmp_path, "m2", "3SATTime", [{"Time": 8.0}], {"Time": 16.0}, stamp="20250101-130000",
            trust="isolated", trust_reason="the submission is data, scored in a fresh container")
    text = printed(aggregate(collect_runs([tmp_path])))
    assert "7 / 7" in text and "8 / 8" in text
    assert "†" not in text and "not isolated" not in text  # isolated scores: a column, no marks or notes
    only_old = tmp_path / "old"
    our_run(only_old, "m1", "3SATTime", [{"Time": 7.0}], {"Time": 16.0})
    assert "trust" not in printed(aggregate(collect_runs([only_old])))


def test_a_trust_key_that_is_not_a_string_counts_as_not_recorded(tmp_path):
    d = our_run(tmp_path, "m1", "3SATTime", [{"Time": 7.0}], {"Time": 16.0})
    data = json.loads((d / "results.json").read_text())
    (d / "results.json").write_text(json.dumps({**data, "trust": ["in-process"], "trust_reason": 3}))
    (run,) = collect_runs([tmp_path])
    assert (run.trust, run.trust_reason, run.problem) == ("", "", None)


def test_cli_json_and_csv_carry_the_trust_label(tmp_path):
    paths = trust_runs(tmp_path / "runs")
    out_csv, out_json = tmp_path / "r.csv", tmp_path / "r.json"
    proc = cli(str(tmp_path / "runs"), "--csv", str(out_csv), "--json", str(out_json))
    assert proc.returncode == 0, proc.stderr
    assert "8† / 8†" in proc.stdout and "† in-process: evaluate.py ran the agent's code" in proc.stdout
    assert f"{paths['in-process']}: in-process scores: {IN_PROCESS_REASON}" in proc.stdout
    data = json.loads(out_json.read_text())
    assert {Path(r["path"]).name: r["trust"] for r in data["runs"]}[paths["unisolated"].name] == "unisolated"
    rows = {r["model"]: r for r in csv.DictReader(out_csv.open()) if r["kind"] == "score"}
    assert (rows["m-inproc"]["best_trust"], rows["m-iso"]["last_trust"], rows["m-old"]["best_trust"]) == (
        "in-process", "isolated", "")
