"""Choosing and connecting to an engine: --engine auto|docker|podman|local."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.runtime.base import Engine
from mlgym_tui.runtime.errors import EngineUnavailable


def docker_hosts(config: RuntimeConfig | None = None) -> list[str]:
    hosts = [config.docker_host] if config and config.docker_host else []
    hosts += [os.environ[v] for v in ("MLGYM_DOCKER_HOST", "DOCKER_HOST") if os.environ.get(v)]
    hosts.append("unix:///var/run/docker.sock")
    return list(dict.fromkeys(hosts))


def podman_hosts(config: RuntimeConfig | None = None) -> list[str]:
    from mlgym_tui.runtime.podman_service import known_sockets

    hosts = [config.podman_host] if config and config.podman_host else []
    return list(dict.fromkeys(hosts + known_sockets()))


def _socket_present(host: str) -> bool:
    return not host.startswith("unix://") or os.path.exists(host[len("unix://"):])


def connect_docker(config: RuntimeConfig | None = None) -> Engine:
    from mlgym_tui.runtime.engine_api import ApiEngine

    problems = []
    for host in docker_hosts(config):
        if not _socket_present(host):
            problems.append(f"no socket at {host}")
            continue
        try:
            return ApiEngine("docker", host)
        except EngineUnavailable as exc:
            problems.append(exc.problem)
    fix = "start dockerd (see README: Engine set-up)" if shutil.which("dockerd") else "install Docker (apt-get install docker.io)"
    raise EngineUnavailable(f"docker is not reachable ({'; '.join(problems)})", fix)


def connect_podman(config: RuntimeConfig | None = None, start_service: bool = True) -> Engine:
    from mlgym_tui.runtime.engine_api import ApiEngine
    from mlgym_tui.runtime.podman_service import start_service as start

    problems = []
    for host in podman_hosts(config):
        if not _socket_present(host):
            continue
        try:
            return ApiEngine("podman", host)
        except EngineUnavailable as exc:
            problems.append(exc.problem)
    if start_service and shutil.which("podman"):
        return ApiEngine("podman", start())
    if not shutil.which("podman"):
        raise EngineUnavailable("podman is not installed", "install it (apt-get install podman runc) or use --engine docker")
    raise EngineUnavailable(f"podman is not reachable ({'; '.join(problems) or 'no socket'})", "run: podman system service --time=0 &")


def connect(engine: str = "auto", config: RuntimeConfig | None = None) -> Engine:
    """The engine asked for; with auto, the first reachable of docker then podman (never local)."""
    if engine == "local":
        from mlgym_tui.runtime.local import LocalEngine

        return LocalEngine()
    if engine == "docker":
        return connect_docker(config)
    if engine == "podman":
        return connect_podman(config)
    if engine != "auto":
        raise EngineUnavailable(f"unknown engine {engine!r}", "use --engine auto, docker, podman or local")
    problems = []
    for connector in (connect_docker, connect_podman):
        try:
            return connector(config)
        except EngineUnavailable as exc:
            problems.append(str(exc))
    raise EngineUnavailable(
        "no container engine is reachable: " + " | ".join(problems),
        "run `mlgym-tui doctor`, or choose --engine local (no isolation)",
    )


@dataclass
class EngineStatus:
    name: str
    found: bool
    reachable: bool
    version: str = ""
    host: str = ""
    image_present: bool | None = None
    problem: str = ""
    fix: str = ""
