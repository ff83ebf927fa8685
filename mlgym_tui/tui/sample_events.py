"""A synthetic, deterministic episode as events: for snapshots, the benchmark and a demo of the episode screen."""

from __future__ import annotations

from mlgym_tui.stream import events as ev

T0 = 1_700_000_000.0


def sample_episode(steps: int = 6, with_end: bool = True, hostile: bool = False) -> list[ev.Event]:
    """`steps` steps with output, a validation every 3 steps against a baseline, fixed timestamps."""
    t = T0
    out: list[ev.Event] = [ev.EpisodeStarted(
        t=t, run_id="sample", task_id="battleOfSexes", agent="default", model="gpt-4o", mode="auto",
        engine="docker", max_steps=max(steps + 4, 10), cost_limit=4.0, baseline={"Score": 1.0227},
        metrics=[{"name": "Score", "direction": "maximize", "primary": True}],
    )]
    for n in range(1, steps + 1):
        t += 1
        action = f"python evaluate.py --round {n}" if n % 3 else "validate"
        thought = f"Step {n}: I will **try** a new strategy and `check` the score."
        out.append(ev.ModelQueryStarted(t=t, step=n))
        for word in thought.split(" "):
            out.append(ev.Token(t=t, step=n, text=word + " "))
        response = f"{thought}\n```\n{action}\n```"
        out.append(ev.ModelResponse(t=t, step=n, content=response, tokens_in=900 + n, tokens_out=40, cost=0.0021))
        out.append(ev.ActionProposed(t=t, step=n, action=action, thought=thought))
        out.append(ev.CommandStarted(t=t, step=n, action=action, author="agent"))
        lines = 30 if n == 2 else 3
        observation = "\n".join(f"round {n} line {i}: payoff {i * 0.1:.1f}" for i in range(lines))
        raw = observation.replace("payoff", "\x1b[32mpayoff\x1b[0m")
        if hostile and n == 1:
            raw = "\x1b]0;PWNED\x07\x1b[2J\x1b[H\x1b[999;999Hboom\x1b[6n\x1b[?1049h\x9b31mC1\x1b]52;c;ZXZpbA==\x07\n" + raw
            observation = raw
        out.append(ev.OutputChunk(t=t, step=n, data=raw.replace("\n", "\r\n") + "\r\n"))
        out.append(ev.CommandFinished(t=t + 0.5, step=n, exit_code=0 if n != 4 else 1, duration=0.5 + n / 10))
        out.append(ev.StepRecorded(
            t=t + 0.5, step=n, author="human" if n == 5 else "agent", action=action, observation=observation,
            thought=thought, response=response, exit_code=0 if n != 4 else 1, started_at=t, duration=0.5 + n / 10,
            tokens_in=900 + n, tokens_out=40, cost=0.0021,
        ))
        if n % 3 == 0:
            out.append(ev.ValidationScored(t=t + 0.6, step=n, metrics={"Score": 0.98 + n / 100},
                                           baseline={"Score": 1.0227}))
    if with_end:
        out.append(ev.EpisodeEnded(t=t + 1, exit_status="submitted", score=[{"Score": 1.04}]))
    return out


def many_steps(steps: int = 5000) -> list[ev.Event]:
    """A long episode: just the recorded steps (what a replay feeds), for responsiveness tests and the bench."""
    out: list[ev.Event] = [ev.EpisodeStarted(
        t=T0, run_id="long", task_id="battleOfSexes", agent="default", model="gpt-4o", mode="auto", engine="docker",
        max_steps=steps + 10, cost_limit=0.0, baseline={"Score": 1.0},
        metrics=[{"name": "Score", "direction": "maximize", "primary": True}],
    )]
    for n in range(1, steps + 1):
        t = T0 + n
        out.append(ev.StepRecorded(t=t, step=n, author="agent", action=f"echo {n}",
                                   observation="\n".join(f"output {n}.{i}" for i in range(20)),
                                   thought=f"thinking about step {n}", exit_code=0, started_at=t, duration=0.2))
        if n % 50 == 0:
            out.append(ev.ValidationScored(t=t, step=n, metrics={"Score": 1.0 + (n % 300) / 1000}))
    return out
