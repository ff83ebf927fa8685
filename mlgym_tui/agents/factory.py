"""One place that turns an agent config into the policy it names."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mlgym_tui.agents.scripted_policy import HumanPolicy, ScriptedPolicy, ScriptedStep
from mlgym_tui.config.agent import AgentConfig
from mlgym_tui.stream.events import Event


class PolicyConfigError(ValueError):
    pass


def create_policy(
    config: AgentConfig,
    *,
    command_docs: str,
    task_description: str,
    emit: Callable[[Event], None],
    replay_steps: Sequence[ScriptedStep | str] | None = None,
    baseline_scripts: Sequence[str] = (),
):
    """The policy for `config.policy`. Replay needs its steps, read from a trajectory by the caller;
    the baseline policy first runs the task's baseline scripts (which write its submission)."""
    if config.policy == "llm":
        from mlgym_tui.agents.llm_policy import LLMPolicy
        from mlgym_tui.agents.model import preload_litellm

        # The import takes seconds: on a worker thread from now on, while the container starts.
        preload_litellm()
        return LLMPolicy(config, command_docs, task_description, emit)
    if config.policy == "baseline":
        commands = [f"python3 {script}" for script in baseline_scripts] + list(config.baseline.commands)
        return ScriptedPolicy(commands, author="baseline")
    if config.policy == "replay":
        if replay_steps is None:
            raise PolicyConfigError(
                f"agent config {config.name!r}: policy 'replay' needs a trajectory; pass one on the command "
                "line or set replay.trajectory"
            )
        return ScriptedPolicy(replay_steps, author="replay", step_delay_s=config.replay.step_delay_s)
    return HumanPolicy()
