"""What the start dialog asks for, and how an episode is launched from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AGENTS_DIR = Path(__file__).resolve().parents[2] / "agents"
MODES = ("auto", "confirm", "human")
ENGINES = ("auto", "docker", "podman", "local")


@dataclass
class EpisodeRequest:
    task_id: str
    agent: str = "default"  # agent config stem in agents/ or a path
    model: str = ""  # empty: the agent config's model
    engine: str = "auto"
    mode: str = "auto"
    max_steps: int | None = None
    cost_limit: float | None = None

    @classmethod
    def human(cls, task_id: str, engine: str = "auto") -> "EpisodeRequest":
        return cls(task_id=task_id, agent="human", mode="human", engine=engine)

    def agent_path(self) -> Path:
        path = Path(self.agent)
        if path.suffix in (".yaml", ".yml") and path.exists():
            return path
        return AGENTS_DIR / f"{self.agent}.yaml"


def agent_choices() -> list[str]:
    return sorted(p.stem for p in AGENTS_DIR.glob("*.yaml"))


def make_starter(request: EpisodeRequest):
    """An async callable that builds the Controller (imported only now: litellm and engines stay out of start-up)."""

    async def start():
        from mlgym_tui.episode import controller as controller_module

        return await _call_start(controller_module.start_episode, request)

    return start


async def _call_start(start_episode, request: EpisodeRequest):
    import inspect

    kwargs = {
        "task": request.task_id, "agent": request.agent_path(), "model": request.model or None,
        "engine": request.engine, "mode": request.mode, "max_steps": request.max_steps,
        "cost_limit": request.cost_limit,
    }
    params = inspect.signature(start_episode).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    result = start_episode(**kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result
