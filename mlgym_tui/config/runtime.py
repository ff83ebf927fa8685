"""Runtime settings: which engine, which image, and the limits every container gets."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EngineName = Literal["auto", "docker", "podman", "local"]

DEFAULT_IMAGE = "mlgym-tui-task:latest"


class ShellLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command_timeout: float = Field(1800.0, gt=0, description="seconds a command may run in total")
    no_output_timeout: float = Field(600.0, gt=0, description="seconds a command may stay silent")
    interrupt_grace: float = Field(3.0, gt=0, description="seconds between SIGINT and SIGKILL")
    output_head_bytes: int = Field(50_000, ge=1_000)
    output_tail_bytes: int = Field(50_000, ge=1_000)
    max_output_bytes: int = Field(200_000_000, ge=10_000, description="output after which the command is stopped")


class RuntimeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: EngineName = "auto"
    image: str = DEFAULT_IMAGE
    docker_host: str | None = None
    podman_host: str | None = None
    memory: str = "4g"
    cpus: float = Field(1.0, gt=0)
    pids: int = Field(512, ge=16)
    network: bool = False
    shell: ShellLimits = Field(default_factory=ShellLimits)
