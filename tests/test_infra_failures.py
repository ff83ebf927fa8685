"""No run that ended for a configuration or infrastructure reason is scored as the agent's: a model refusing the
key ends the episode exit_config with no autosubmission (real container, scripted model server over HTTP), and
the results table counts such runs apart, never giving them a score (run directories written as runs write them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agents_helpers import scripted_config
from episode_helpers import Collector, agent, answer, runtime
from model_server import bad_request, scripted_server  # noqa: F401

from mlgym_tui.agents.errors import ModelAPIError, ModelConfigError
from mlgym_tui.agents.model import LiteLLMModel

from mlgym_tui.cli import main as cli_main
from mlgym_tui.episode.session import start_episode
from mlgym_tui.evaluation import aggregate, collect_runs
from mlgym_tui.evaluation.failure_kinds import CONFIGURATION, INFRASTRUCTURE, INTERRUPTED, failure_kind
from mlgym_tui.stream import events as ev

UNAUTHORIZED = {"status": 401, "body": {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}}


async def test_a_refused_key_ends_exit_config_unscored_without_autosubmission(scripted_server, engine, tmp_path):
    # The agent validates once, then the key is refused: nothing is auto-submitted, the run is not the agent's.
    scripted_server.set_script([answer("validate"), UNAUTHORIZED])
    c = await start_episode("battleOfSexes", agent(scripted_server), engine=engine, runtime=runtime(),
                            runs_dir=tmp_path)
    seen = Collector()
    c.subscribe(seen)
    status = await c.run()

    assert status == "exit_config"
    assert len(scripted_server.requests) == 2  # a refused key is not retried
    fatal = [e.message for e in seen.of(ev.ErrorEvent) if e.fatal]
    assert len(fatal) == 1 and fatal[0].startswith("exit_config: openai/scripted: ") and "(401)" in fatal[0]
    assert [v.final for v in seen.of(ev.ValidationScored)] == [False]  # the agent's validate; no autosubmission
    assert seen.of(ev.EpisodeEnded)[-1].exit_status == "exit_config"  # not "autosubmission (...)"
    assert not c.succeeded

    [run] = collect_runs([tmp_path])
    assert run.exit_status == "exit_config" and run.failure == CONFIGURATION and "(401)" in run.failure_reason
    table = aggregate([run])
    assert table.tasks == [] and table.cells == {}
    assert table.model_stats["openai/scripted"].runs == 0
    assert table.model_stats["openai/scripted"].apart == {CONFIGURATION: 1}


async def test_model_errors_about_configuration_are_told_apart(scripted_server, monkeypatch):
    model = LiteLLMModel(scripted_config(scripted_server.api_base).model)
    messages = [{"role": "user", "content": "hi"}]
    not_found = {"status": 404, "body": {"error": {"message": "The model `scripted` does not exist"}}}
    unknown = bad_request("model 'scripted' not found, try pulling it first")
    forbidden = {"status": 403, "body": {"error": {"message": "forbidden"}}}
    for item in (UNAUTHORIZED, forbidden, not_found, unknown):
        scripted_server.set_script([item])
        with pytest.raises(ModelConfigError):
            await model.query(messages)
    for item in (bad_request("Invalid value for 'temperature'"), bad_request("model does not exist")):
        scripted_server.set_script([item])
        with pytest.raises(ModelAPIError) as caught:
            await model.query(messages)
        assert not isinstance(caught.value, ModelConfigError)  # the request's own fault: exit_api, as in MLGym
    monkeypatch.delenv("MLGYM_INFRA_UNSET", raising=False)
    with pytest.raises(ModelConfigError, match="MLGYM_INFRA_UNSET"):
        await LiteLLMModel(scripted_config(scripted_server.api_base, api_key_env="MLGYM_INFRA_UNSET").model).query(messages)


# -- results over run directories ---------------------------------------------------------------------------------

BASELINE = {"Score": 1.0227}


def write_run(root: Path, name: str, task: str, exit_status: str | None, scores: list[dict] | None,
              errors: tuple[str, ...] = (), marker: tuple[str, str] | None = None) -> Path:
    """A run directory as the recorder leaves it: events.jsonl (started, fatal errors, ended), results.json."""
    run_dir = root / f"20261203-0700{len(list(root.glob('*'))):02d}__openai-m__{task}__{name}"
    run_dir.mkdir(parents=True)
    events = [ev.EpisodeStarted(run_id=name, task_id=task, agent="default", model="openai/m", mode="auto",
                                engine="docker", max_steps=50, cost_limit=0, baseline=BASELINE,
                                metrics=[{"name": "Score", "direction": "maximize"}], t=1000.0)]
    events += [ev.ErrorEvent(message=m, fatal=True, t=1001.0) for m in errors]
    if exit_status is not None:
        events.append(ev.EpisodeEnded(exit_status=exit_status, score=scores or [], t=1010.0))
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in events))
    if scores is not None:
        (run_dir / "results.json").write_text(json.dumps({"agent": scores, "baseline": BASELINE}))
    if marker is not None:
        (run_dir / marker[0]).write_text(marker[1] + "\n")
    return run_dir


def test_results_count_configuration_and_infrastructure_runs_apart_and_never_score_them(tmp_path, capsys,
                                                                                      monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the report's width: no header cut short
    runs = tmp_path / "runs"
    good = write_run(runs, "good", "battleOfSexes", "submitted", [{"Score": 1.3}])
    # A refused key with a score above the agent's own: it must not become the best attempt.
    write_run(runs, "refused", "battleOfSexes", "exit_config", [{"Score": 1.5}],
              errors=("exit_config: openai/m: AuthenticationError (401): bad key (the API key was refused)",))
    # Recorded before exit_config existed: the missing key auto-submitted the starter code (the baseline's score).
    write_run(runs, "old-missing-key", "blotto", "autosubmission (exit_api)", [BASELINE],
              errors=("exit_api: model.api_key_env names OPENAI_API_KEY, but that environment variable is not set; "
                      "export OPENAI_API_KEY=<your key>",))
    write_run(runs, "no-env", "blotto", "exit_error", [],
              errors=("the environment did not start: image mlgym-tui-task:latest is missing; build it",))
    write_run(runs, "node-lost", "blotto", None, None, marker=("infra-interrupted", "node lost: node 3f2a died"))
    write_run(runs, "stopped", "battleOfSexes", "early_exit", [{"Score": 2.0}],
              marker=("batch-interrupted", "SIGINT received"))
    # The agent's own failures stay the agent's.
    formatless = write_run(runs, "format", "battleOfSexes", "autosubmission (exit_format)", [{"Score": 0.9}],
                           errors=("exit_format: four malformed answers in a row",))

    table = aggregate(collect_runs([runs]))

    assert table.tasks == ["battleOfSexes"]  # blotto's runs were none of them the agent's
    cell = table.cell("battleOfSexes", "openai/m")
    assert (cell.best.value, cell.best.run_path, cell.last.value) == (1.3, good, 1.3)
    assert sorted(cell.runs) == sorted([good, formatless])
    stats = table.model_stats["openai/m"]
    assert stats.runs == 2 and stats.exit_statuses == {"submitted": 1, "autosubmission (exit_format)": 1}
    assert stats.apart == {CONFIGURATION: 2, INFRASTRUCTURE: 2, INTERRUPTED: 1}
    assert table.left_out == []  # the node-lost run has no results.json, but it is counted apart, not a problem
    kinds = {Path(r["path"]).name.rsplit("__", 1)[1]: r["failure"] for r in table.to_dict()["runs"]}
    assert kinds == {"good": None, "refused": CONFIGURATION, "old-missing-key": CONFIGURATION,
                     "no-env": INFRASTRUCTURE, "node-lost": INFRASTRUCTURE, "stopped": INTERRUPTED, "format": None}

    capsys.readouterr()
    assert cli_main(["results", str(runs), "--json", str(tmp_path / "table.json")]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "steps/run" in line)
    assert header.split("┃")[-4:-1] == [" config ", " infra ", " stopped "]
    row = next(line for line in out.splitlines() if line.startswith("│ openai/m") and "submitted" in line)
    assert [cell.strip() for cell in row.split("│")[-4:-1]] == ["2", "2", "1"]
    assert "5 run(s) not the agent's (configuration 2, infrastructure 2, interrupted 1)" in out
    assert "node-lost: infrastructure: node lost: node 3f2a died" in out.replace("\n", "")
    saved = json.loads((tmp_path / "table.json").read_text())
    assert saved["model_stats"]["openai/m"]["apart"] == {CONFIGURATION: 2, INFRASTRUCTURE: 2, INTERRUPTED: 1}


def test_failure_kind_rules():
    assert failure_kind("submitted", []) is None
    assert failure_kind("autosubmission (exit_api)", ["exit_api: m: gave up after 5 retries; last error: timeout"]) is None
    assert failure_kind("exit_error", ["episode failed: ValueError: bad"]) is None
    assert failure_kind("exit_error", ["episode failed: ContainerGone: the container is gone"]).kind == INFRASTRUCTURE
    assert failure_kind("exit_config", []).kind == CONFIGURATION
    assert failure_kind("autosubmission (exit_api)", ["exit_api: m: NotFoundError (404): no model"]).kind == CONFIGURATION
    assert failure_kind("early_exit", [], interrupted="node lost").kind == INFRASTRUCTURE
    assert failure_kind("submitted", [], infra="worker lost: x").reason == "worker lost: x"
