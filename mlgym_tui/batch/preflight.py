"""Problems found before any container starts: a model litellm cannot route or whose key is missing, an engine
that does not answer, a task image that is not there. Each is one line (the problem, then the fix) and all of them
are reported together, so a batch (or one `run`) fails at once instead of starting containers that can only end
unscored.

Everything here blocks (litellm's import takes seconds, engine calls go over a socket): async callers use
`check_before_start`, or run `check_batch` through asyncio.to_thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlgym_tui.runtime.errors import RuntimeProblem


class PreflightError(ValueError):
    """Every problem found, one line each; str() is the lines joined."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def check_batch(tasks: Iterable[Any], agent: Any, engine_name: str, runtime: Any, engine: Any = None) -> None:
    """Raise PreflightError listing every problem of running `tasks` with `agent` on the engine. `engine` is an
    already connected Engine, else `engine_name` (auto, docker, podman, local) is connected to for the check."""
    tasks = list(tasks)
    problems = model_problems(agent)
    problems += check_engine_and_images(engine if engine is not None else engine_name, tasks, runtime)
    if problems:
        raise PreflightError(problems)


async def check_before_start(tasks: Iterable[Any], agent: Any, engine_name: str, runtime: Any) -> Any:
    """`check_batch` off the event loop, the model and the engine checked side by side (litellm's import takes
    as long as a container start); returns the engine it connected to, for the episodes to use."""
    from mlgym_tui.runtime.detect import connect

    tasks = list(tasks)

    async def engine_side() -> tuple[Any, list[str]]:
        try:
            engine = await asyncio.to_thread(connect, engine_name, runtime)
        except RuntimeProblem:  # said again, beside the tasks' own problems, by checking with the name
            return None, await asyncio.to_thread(check_engine_and_images, engine_name, tasks, runtime)
        return engine, await asyncio.to_thread(check_engine_and_images, engine, tasks, runtime)

    model, (engine, engine_problems) = await asyncio.gather(asyncio.to_thread(model_problems, agent), engine_side())
    if model or engine_problems:
        raise PreflightError(model + engine_problems)
    return engine


# -- the model ---------------------------------------------------------------------------------------------------

def model_problems(agent: Any) -> list[str]:
    """An llm agent's model: can litellm route it, is its key there. Other policies have no model to check."""
    settings = getattr(agent, "model", None)
    if getattr(agent, "policy", None) != "llm" or settings is None:
        return []
    from mlgym_tui.agents.model import preload_litellm

    name = settings.name
    try:
        litellm = preload_litellm().result()
    except Exception as exc:  # noqa: BLE001 - an install problem, reported like the others
        return [f"model {name!r}: the model library (litellm) cannot be imported ({exc}); run `uv sync`"]
    problems = []
    routable = True
    try:
        litellm.get_llm_provider(name, custom_llm_provider=settings.extra_params.get("custom_llm_provider"),
                                 api_base=settings.api_base)
    except Exception:  # noqa: BLE001 - litellm says so with a BadRequestError; any failure means the same here
        routable = False
        problems.append(f"model {name!r}: litellm does not know its provider; write it as provider/model "
                        "(e.g. openai/gpt-4o, or openai/<served name> with model.api_base for a local server)")
    env = settings.api_key_env
    if env:
        if not os.environ.get(env):
            problems.append(f"model {name!r}: its API key is missing: model.api_key_env names {env}, which is not "
                            f"set; export {env}=<your key>")
    elif settings.api_base is None and routable:
        # With no api_key_env litellm reads the provider's own variable. Only *_API_KEY names count as missing:
        # the others it lists (AWS credentials, Vertex projects, API bases) have other sources or defaults.
        missing = [key for key in litellm.validate_environment(name).get("missing_keys", []) if "API_KEY" in key]
        if missing:
            problems.append(f"model {name!r}: its API key is missing: litellm reads {' or '.join(missing)}, which "
                            f"is not set; export {missing[0]}=<your key> (or name the variable in model.api_key_env)")
    # With an api_base and no api_key_env the call sends a placeholder key (agents/model.py): a local server.
    return problems


# -- the engine and the images -----------------------------------------------------------------------------------

def check_engine_and_images(engine: Any, tasks: Iterable[Any], runtime: Any) -> list[str]:
    """Problems of running `tasks` on `engine` (an Engine, or a name to connect to): the engine does not answer,
    a task needs GPUs none are configured for, a task image is missing, a task's packages cannot be installed.
    A task's packages image is not required: it is built from the task image when first needed."""
    from mlgym_tui.environment.environment import require_gpus
    from mlgym_tui.environment.task_image import task_requirements

    tasks = list(tasks)
    problems: list[str] = []
    for task in tasks:
        try:
            require_gpus(task, runtime)
        except RuntimeProblem as exc:
            problems.append(str(exc))
    connected_here = isinstance(engine, str)
    if connected_here:
        from mlgym_tui.runtime.detect import connect

        try:
            engine = connect(engine, runtime)
        except RuntimeProblem as exc:
            return problems + [str(exc)]
    try:
        if not getattr(engine, "isolated", True):
            return problems  # the local runtime runs on this machine, with no image
        needed: dict[str, list[str]] = {}
        for task in tasks:
            needed.setdefault(task.image or runtime.image, []).append(task.id)
            try:
                if task_requirements(task) and runtime.wheels_dir and not Path(runtime.wheels_dir).expanduser().is_dir():
                    problems.append(f"runtime.wheels_dir {runtime.wheels_dir} is not a folder (task {task.id} has "
                                    "packages to install); fill it with: mlgym-tui image wheels REQUIREMENTS --dest FOLDER")
            except RuntimeProblem as exc:
                problems.append(str(exc))
        problems += _missing_images(engine, needed, runtime)
    finally:
        if connected_here:
            engine.close()
    return problems


def _missing_images(engine: Any, needed: dict[str, list[str]], runtime: Any) -> list[str]:
    name = getattr(engine, "name", "the engine")
    problems = []
    for image, task_ids in needed.items():
        try:
            present = engine.image_exists(image)
        except Exception as exc:  # noqa: BLE001 - the engine went away or refused: that is the one problem left
            return problems + [f"{name} did not answer when asked for image {image} ({_short(exc)}); "
                               "check it with `mlgym-tui doctor`"]
        if present:
            continue
        tasks = ", ".join(sorted(set(task_ids)))
        if image == runtime.image:
            fix = f"build it: mlgym-tui image build --engine {name}"
        else:
            fix = f"build or load it on {name} (the task YAML names it), or remove `image:` to use {runtime.image}"
        problems.append(f"image {image} is missing on {name} (needed by {tasks}); {fix}")
    return problems


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
