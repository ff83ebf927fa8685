"""Runtime settings: which engine, which image, and the limits every container gets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlgym_tui.stream.types import EngineChoice

EngineName = EngineChoice

DEFAULT_IMAGE = "mlgym-tui-task:latest"


class ShellLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    command_timeout: float = Field(1800.0, gt=0)
    """Seconds a command may run in total before it is interrupted."""
    no_output_timeout: float = Field(600.0, gt=0)
    """Seconds a command may stay silent before it is interrupted (wedges are caught sooner by stuck_check_after)."""
    stuck_check_after: float = Field(2.0, gt=0)
    """Seconds of silence before checking, out of band, whether the command waits for terminal input."""
    interrupt_grace: float = Field(3.0, gt=0)
    """Seconds between SIGINT and SIGKILL when a command is interrupted."""
    output_head_bytes: int = Field(50_000, ge=1_000)
    """Bytes kept from the start of a long output (the agent sees head and tail)."""
    output_tail_bytes: int = Field(50_000, ge=1_000)
    """Bytes kept from the end of a long output."""
    max_output_bytes: int = Field(200_000_000, ge=10_000)
    """Output after which the command is stopped."""


class WorkspaceSnapshots(BaseModel):
    """What each step's workspace snapshot keeps (environment/workspace_snapshot.py)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    snapshots: bool = True
    """Record the workspace's changed files after every step (events plus blobs under runs/<run>/workspace/)."""
    max_file_bytes: int = Field(1024 * 1024, ge=0)
    """A file up to this size is stored; a larger one is recorded by size and hash only."""
    max_binary_bytes: int = Field(64 * 1024, ge=0)
    """A binary file (a NUL in its first 8 KiB) is stored only up to this size (weights and arrays: hash only)."""
    max_hash_bytes: int = Field(64 * 1024 * 1024, ge=0)
    """A file larger than this is not even hashed: recorded by size and mtime only."""
    max_run_bytes: int = Field(200 * 1024 * 1024, ge=0)
    """Blobs one run may store; past it, changed files are recorded by hash only."""
    max_step_bytes: int = Field(64 * 1024 * 1024, ge=0)
    """File bytes one snapshot may carry out of the container; past it, hash only."""
    max_entries: int = Field(20_000, ge=1)
    """Entries one snapshot lists; past it the snapshot says it is incomplete."""
    max_seconds: float = Field(5.0, gt=0)
    """Seconds one snapshot may spend listing and hashing; past it the snapshot says it is incomplete."""


class RuntimeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    engine: EngineName = "auto"
    """Container engine: auto (Docker, then Podman), docker, podman or local (no container; scores unisolated)."""
    image: str = DEFAULT_IMAGE
    """Task image for tasks that name none (build it with `mlgym-tui image build`)."""
    docker_host: str | None = None
    """Docker's API address, tried first (e.g. tcp://host:2375); then $MLGYM_DOCKER_HOST, $DOCKER_HOST, /var/run/docker.sock."""
    podman_host: str | None = None
    """Podman's API address, tried first; then $MLGYM_PODMAN_HOST, $CONTAINER_HOST, the user's (or root's) socket."""
    memory: str = "4g"
    """Memory limit of each container (Docker's forms: 512m, 4g)."""
    cpus: float = Field(1.0, gt=0)
    """CPUs each container may use."""
    pids: int = Field(512, ge=16)
    """Processes each container may run at once."""
    network: bool = False
    """Whether the agent's container has a network (tasks may ask for one)."""
    gpus: str | None = None
    """GPUs for task and evaluation containers: "all", a count ("2") or device ids ("0,1"); none by default
    (also --gpus on run)."""
    wheels_dir: str | None = None
    """A folder of wheels (mlgym-tui image wheels) that tasks' packages are installed from, with no package index."""
    shell: ShellLimits = Field(default_factory=ShellLimits)
    """Limits of the agent's shell commands (the `runtime.shell.*` rows)."""
    workspace: WorkspaceSnapshots = Field(default_factory=WorkspaceSnapshots)
    """Per-step workspace snapshots and their caps (the `runtime.workspace.*` rows)."""

    @field_validator("gpus")
    @classmethod
    def _gpus_parse(cls, value: str | None) -> str | None:
        if value is not None:
            parse_gpus(value)
        return value


class GpuRequest(BaseModel):
    """Which GPUs a container gets: all of them (count -1), a number of them, or the listed device ids."""

    count: int = 0
    ids: list[str] = Field(default_factory=list)

    @property
    def processes(self) -> int | None:
        """How many processes torchrun starts (one per GPU); None for "all", counted in the container."""
        return len(self.ids) if self.ids else (self.count if self.count > 0 else None)


def parse_gpus(text: str | int | None) -> GpuRequest | None:
    """`all`, `N` or `0,1` (Docker's --gpus forms); None or "0" means no GPU. ValueError names the forms."""
    if text is None:
        return None
    text = str(text).strip().lower()
    if text in ("", "0", "none"):
        return None
    if text == "all":
        return GpuRequest(count=-1)
    if text.isdigit():
        return GpuRequest(count=int(text))
    ids = [part.strip() for part in text.split(",")]
    if ids and all(ids):
        return GpuRequest(ids=ids)
    raise ValueError(f"gpus {text!r} is not 'all', a count like 2, or device ids like 0,1")
