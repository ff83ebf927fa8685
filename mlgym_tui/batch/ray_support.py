"""Importing Ray, the optional extra behind `--executor ray` and `doctor --cluster`, with a clear error when absent.

Ray is imported only here: a machine that never uses a cluster never pays for it (or needs it installed).
"""

from __future__ import annotations

import os
from typing import Any

CONTAINER_RESOURCE = "mlgym_containers"
"""The custom resource each node declares (`ray start --resources '{"mlgym_containers": 4}'`): how many episode
containers it runs at once. An episode asks for one."""


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached; the message names the fix."""


def import_ray() -> Any:
    # Under `uv run`, Ray would otherwise start every worker with `uv run` in a fresh environment built from the
    # project without its extras, where Ray itself is missing: workers use this interpreter as it is.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import ray
    except ImportError:
        raise RayUnavailable("Ray is not installed; install the extra: uv sync --extra ray "
                             "(or pip install 'mlgym-tui[ray]')") from None
    return ray


def connect(address: str | None = "auto") -> Any:
    """Connect this process to a running cluster (idempotent); `address` "auto" finds the local head."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    try:
        ray.init(address=address or "auto", log_to_driver=False, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"cannot reach the Ray cluster at {address!r}: {exc}; start one with "
                             "`ray start --head --resources '{\"mlgym_containers\": 4}'` or pass --ray-address "
                             "HOST:PORT") from None
    return ray
