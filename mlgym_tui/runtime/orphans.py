"""Start-up clean-up: containers whose owning mlgym-tui process is gone (killed with SIGKILL, crashed) are removed.

Every container carries the labels `mlgym-tui.host` and `mlgym-tui.pid` (engine_api.create_options); one of this
host whose pid no longer exists has no owner. Blocking engine calls: run it on a worker thread.
"""

from __future__ import annotations

from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.runtime.errors import RuntimeProblem


def remove_orphans(config: RuntimeConfig | None = None) -> dict[str, list[str]]:
    """Engine name -> names of the orphaned containers removed, for Docker and Podman where they answer. An
    engine that is not running is skipped (no Podman service is started for this)."""
    from mlgym_tui.runtime.detect import connect_docker, connect_podman

    removed: dict[str, list[str]] = {}
    for name, connector in (("docker", connect_docker), ("podman", lambda c: connect_podman(c, start_service=False))):
        try:
            engine = connector(config)
        except RuntimeProblem:
            continue
        try:
            removed[name] = engine.remove_orphans()
        except Exception:  # noqa: BLE001 - an engine that fails mid-listing must not stop the app or the run
            removed[name] = []
        finally:
            engine.close()
    return removed


def describe(removed: dict[str, list[str]]) -> str:
    """One line for a notice, or "" when nothing was removed."""
    parts = [f"{name}: {', '.join(names)}" for name, names in removed.items() if names]
    count = sum(len(names) for names in removed.values())
    return f"removed {count} container(s) of runs whose process is gone ({'; '.join(parts)})" if count else ""
