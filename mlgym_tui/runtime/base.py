"""The runtime interface: an engine starts containers; a container runs commands and moves files."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path

from mlgym_tui.config.runtime import GpuRequest, ShellLimits
from mlgym_tui.runtime.shell import ShellSession

LABEL = "mlgym-tui"  # every container we start carries this label, so leftovers can be found
AGENT_USER = "agent"
AGENT_UID = 1000
HOME = "/home/agent"
WORKSPACE = "/home/agent/workspace"
EVAL_DIR = "/opt/mlgym/eval"
TOOLS_DIR = "/opt/mlgym/tools"


@dataclass
class ContainerSpec:
    image: str
    name: str | None = None
    network: bool = False
    memory: str = "4g"
    cpus: float = 1.0
    pids: int = 512
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    user: str = AGENT_USER  # who runs the container's keep-alive process
    gpus: GpuRequest | None = None


@dataclass
class ExecResult:
    exit_code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class PathStat:
    """What a path in a container is, without following it."""

    kind: str  # "file" | "dir" | "symlink" | "fifo" | "device" | "socket" | "other"
    size: int
    link_target: str = ""


@dataclass
class EngineInfo:
    name: str
    version: str
    host: str
    isolated: bool


class InteractiveTerminal(abc.ABC):
    """A login shell on a pseudo-terminal for a person at the keyboard (not the agent's shell).

    Bytes go both ways untouched: what the shell prints may hold any escape sequence, so a reader must render
    it through a virtual terminal, never write it to a real one.
    """

    @abc.abstractmethod
    async def read(self) -> bytes:
        """Next bytes from the terminal; b"" once the shell has exited or the terminal was closed."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    async def resize(self, columns: int, lines: int) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None:
        """End the shell (and what it started) and release the terminal; safe to call twice."""


class ByteStream(abc.ABC):
    """A process's standard input and output as plain bytes, no terminal between (what a helper process speaks
    through, e.g. the root workspace lister of environment/workspace_snapshot.py). Its standard error is dropped."""

    @abc.abstractmethod
    async def read(self) -> bytes:
        """Next bytes of its standard output; b"" once it has ended."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None:
        """Close its standard input (a helper reading requests then ends) and the connection; safe to call twice."""


class Container(abc.ABC):
    id: str
    name: str
    engine_name: str
    home: str = HOME
    workspace: str = WORKSPACE
    eval_dir: str = EVAL_DIR
    tools_dir: str = TOOLS_DIR
    fs_root: str = "/"  # what "/" is for the paths above (a folder on the host for the local runtime)

    @abc.abstractmethod
    async def open_shell(self, limits: ShellLimits | None = None, env: dict[str, str] | None = None) -> ShellSession:
        """A started persistent shell as the agent user in the workspace."""

    async def open_terminal(self, columns: int = 80, lines: int = 24) -> InteractiveTerminal:
        """An interactive login shell (`bash -l`) as the agent user in the workspace, on a terminal of this size."""
        raise NotImplementedError(f"{self.engine_name} has no interactive terminal")

    async def open_stream(self, cmd: list[str], user: str = "root", env: dict[str, str] | None = None) -> ByteStream:
        """Start cmd out of band (not through the agent's shell) with its standard input and output attached as a
        byte stream, for a helper that lives as long as the episode; `env` is added to the container's own."""
        raise NotImplementedError(f"{self.engine_name} has no attached streams")

    @abc.abstractmethod
    def exec(self, cmd: list[str], user: str = "root", workdir: str | None = None,
             env: dict[str, str] | None = None, timeout: float | None = None) -> ExecResult:
        """Run one command out of band (not through the agent's shell)."""

    @abc.abstractmethod
    def copy_in(self, src: Path | dict[str, bytes], dest_dir: str, owner: str = AGENT_USER, mode: int | None = None) -> None:
        """Copy a host file or directory (or {relative name: bytes}) into dest_dir, owned by owner."""

    @abc.abstractmethod
    def copy_out(self, src: str, dest_dir: Path) -> Path:
        """Copy a file or directory out of the container into dest_dir; returns the local path."""

    @abc.abstractmethod
    def stat_path(self, path: str) -> PathStat | None:
        """What path is (a link is reported as a link), through the engine's archive API; None if nothing is there."""

    @abc.abstractmethod
    def read_archive(self, path: str, max_bytes: int) -> bytes | None:
        """A tar of path as it is (links stay links, nothing followed), through the engine's archive API, never an
        exec: it works in a container that is out of processes, memory or disk. None if path does not exist;
        raises TooLarge past max_bytes of content."""

    @abc.abstractmethod
    def put_archive(self, dest_dir: str, data: bytes) -> None:
        """Unpack a tar into dest_dir, keeping the owners and modes of its entries where the engine does."""

    def make_read_only(self, paths: list[str]) -> None:
        """Give paths to root and take write permission away, so the agent user cannot change them."""
        if paths:
            self.check(["sh", "-c", 'chown -R 0:0 "$@" && chmod -R a-w,a+rX "$@"', "sh", *paths])

    def check(self, cmd: list[str], **kwargs) -> ExecResult:
        from mlgym_tui.runtime.errors import RuntimeProblem

        result = self.exec(cmd, **kwargs)
        if not result.ok:
            raise RuntimeProblem(f"{' '.join(cmd)[:120]} failed with exit code {result.exit_code}: {result.output.strip()[-300:]}")
        return result

    @abc.abstractmethod
    def is_running(self) -> bool: ...

    @abc.abstractmethod
    def remove(self) -> None: ...


class Engine(abc.ABC):
    name: str
    isolated: bool = True

    @abc.abstractmethod
    def info(self) -> EngineInfo: ...

    @abc.abstractmethod
    def image_exists(self, image: str) -> bool: ...

    @abc.abstractmethod
    def start(self, spec: ContainerSpec) -> Container: ...

    @abc.abstractmethod
    def leftovers(self) -> list[str]:
        """Names of labelled containers that no live run owns."""

    @abc.abstractmethod
    def cleanup(self) -> list[str]:
        """Remove labelled leftovers; returns their names."""

    def remove_orphans(self) -> list[str]:
        """Remove only the containers a process of this host started and that process is gone (what start-up
        does); returns their names. An engine without containers has none."""
        return []

    def close(self) -> None:
        pass
