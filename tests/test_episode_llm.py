"""Full episodes with a real container and a real (scripted) model server."""

import json

from episode_helpers import Collector, agent, answer, runtime
from model_server import scripted_server  # noqa: F401

from mlgym_tui.stream import events as ev
from mlgym_tui.episode.session import start_episode
from mlgym_tui.trajectory import load_run


async def test_llm_episode_to_submission_streams_and_records(scripted_server, engine, tmp_path):
    scripted_server.set_script([
        answer("cat strategy.py", "Read the strategy first."),
        answer("validate", "Score the starter strategy."),
        answer("submit", "Good enough."),
    ])
    c = await start_episode("battleOfSexes", agent(scripted_server), engine=engine, runtime=runtime(),
                            runs_dir=tmp_path)
    seen = Collector()
    c.subscribe(seen)
    status = await c.run()

    assert status == "submitted" and c.succeeded and c.done
    steps = seen.of(ev.StepRecorded)
    assert [s.action for s in steps] == ["cat strategy.py", "validate", "submit"]
    assert "def row_strategy" in steps[0].observation
    assert all(s.author == "agent" and s.started_at > 0 and s.duration >= 0 for s in steps)
    assert steps[0].exit_code == 0 and steps[0].tokens_in > 0 and steps[0].tokens_out > 0
    assert steps[0].thought == "Read the strategy first."
    # tokens streamed as events and add up to the answer
    tokens = [t.text for t in seen.of(ev.Token) if t.step == 1]
    assert len(tokens) > 3 and "".join(tokens) == answer("cat strategy.py", "Read the strategy first.")
    assert any("row_strategy" in o.data for o in seen.of(ev.OutputChunk) if o.step == 1)
    scores = seen.of(ev.ValidationScored)
    assert [s.final for s in scores] == [False, True] and "Score" in scores[0].metrics
    # the observation of step 1 reached the model's second request
    assert "def row_strategy" in scripted_server.requests[1].prompt_text
    order = seen.types()
    assert order[0] == "episode_started" and order[-1] == "episode_ended"
    assert order.index("command_started") < order.index("command_finished") < order.index("step")

    run = load_run(c.run_dir)
    assert [s.action for s in run.steps] == ["cat strategy.py", "validate", "submit"]
    assert run.ended.exit_status == "submitted"
    traj = json.loads((c.run_dir / "battleOfSexes.traj").read_text())
    assert traj["info"]["exit_status"] == "submitted" and len(traj["trajectory"]) == 3
    assert traj["info"]["model_stats"]["api_calls"] == 3
    assert any(h["role"] == "system" for h in traj["history"])
    results = json.loads((c.run_dir / "results.json").read_text())
    assert len(results["agent"]) == 2 and "Score" in results["baseline"]
