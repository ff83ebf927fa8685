"""What the start dialog asks for, and how an episode is launched from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

AGENTS_DIR = Path(__file__).resolve().parents[2] / "agents"
from mlgym_tui.stream.types import ENGINE_CHOICES as ENGINES, MODES  # noqa: F401 (the dialogs' choices)


@dataclass
class EpisodeRequest:
    task_id: str
    agent: str = "default"  # agent config stem in agents/ or a path
    model: str = ""  # empty: the agent config's model
    engine: str = "auto"
    mode: str = "auto"
    max_steps: int | None = None
    cost_limit: float | None = None
    wall_time_s: float | None = None  # a time limit: at it the last valid submission is scored
    who: str = ""  # the person playing a human baseline
    baseline_session: bool = False  # a human-baseline session: ask for a note at its end

    @classmethod
    def human(cls, task_id: str, engine: str = "auto", wall_time_s: float | None = None,
              who: str = "") -> "EpisodeRequest":
        return cls(task_id=task_id, agent="human", mode="human", engine=engine, wall_time_s=wall_time_s,
                   who=who or login_name(), baseline_session=True)

    def agent_path(self) -> Path:
        path = Path(self.agent)
        if path.suffix in (".yaml", ".yml") and path.exists():
            return path
        return AGENTS_DIR / f"{self.agent}.yaml"


def login_name() -> str:
    """Who plays, unless --who says: the login name ("" if the system cannot tell)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry (some containers)
        return ""


def agent_choices() -> list[str]:
    return sorted(p.stem for p in AGENTS_DIR.glob("*.yaml"))


def make_starter(request: EpisodeRequest, runs_dir: Path | str = "runs", **options: Any):
    """An async callable that builds the Controller (imported only now: litellm and engines stay out of start-up).

    `options` go to `start_episode` as they are (tests pass an agent config object, an engine or a runtime).
    """

    async def start():
        from mlgym_tui.episode.session import start_episode

        agent = options.pop("agent_config", None) or request.agent_path()
        return await start_episode(
            request.task_id, agent, engine_name=request.engine, mode=request.mode, runs_dir=runs_dir,
            model_override=request.model or None, max_steps=request.max_steps, cost_limit=request.cost_limit,
            wall_time_s=request.wall_time_s, who=request.who, **options,
        )

    return start
