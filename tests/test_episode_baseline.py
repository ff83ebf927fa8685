"""The baseline policy runs the task's baseline scripts, then scores: its runs reproduce baseline_scores."""

from __future__ import annotations

import pytest

from mlgym_tui.config.agent import load_agent_config
from mlgym_tui.episode.session import start_episode
from mlgym_tui.evaluation import aggregate, collect_runs


async def test_baseline_agent_submits_the_csv_baseline(engine, tmp_path):
    controller = await start_episode("regressionDiabetes", load_agent_config("baseline"), engine=engine,
                                     runs_dir=tmp_path)
    status = await controller.run()
    assert status == "submitted"
    assert controller.scores[-1]["r2"] == pytest.approx(0.510177, rel=1e-3)
    runs = collect_runs([tmp_path])
    assert [run.model for run in runs] == ["baseline-agent"]  # never merged with the task-baseline column
    table = aggregate(runs)
    assert table.cell("regressionDiabetes", "baseline-agent").best.value == pytest.approx(0.510177, rel=1e-3)
