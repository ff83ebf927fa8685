"""Agent settings: prompt templates, output parser, history, model and limits (YAML under agents/).

A config never holds an API key, only the NAME of the environment variable that holds it, so a resolved
config can be written next to a run (see `AgentConfig.redacted`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PolicyKind = Literal["llm", "human", "baseline", "replay"]

AGENTS_DIR = Path(__file__).resolve().parents[2] / "agents"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AgentConfigError(ValueError):
    """A config problem, as one line naming the file, the field and what was expected."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Templates(_Strict):
    """Prompt templates. Only the placeholders listed in `agents.templates.PLACEHOLDERS` are substituted;
    any other brace (JSON in an observation, an f-string in the prompt) is left as written."""

    system: str = "You are an autonomous machine learning researcher.\n\nCOMMANDS:\n{command_docs}"
    task: str = "We're currently solving the following task:\n{task_description}\n\n(Current directory: {working_dir})\nbash-$"
    next_step: str = (
        "{observation}\n(Current Step: {current_step}, Remaining Steps: {remaining_steps})\n"
        "(Open file: {open_file})\n(Current directory: {working_dir})\nbash-$"
    )
    next_step_no_output: str = (
        "Your command ran successfully and did not produce any output.\n"
        "(Current Step: {current_step}, Remaining Steps: {remaining_steps})\n"
        "(Open file: {open_file})\n(Current directory: {working_dir})\nbash-$"
    )
    format_error: str = (
        "Your output was not formatted correctly: {reason}\n"
        "Answer with a short discussion followed by exactly one command in a fenced code block."
    )
    # Steps a person took part in. They are part of what the agent is told, so they are templates too.
    human_step: str = "A human operator ran:\n```\n{action}\n```\nOutput:\n{observation}"
    edited_step: str = "A human operator changed your command before it ran. What actually ran:\n```\n{action}\n```"
    not_run: str = "Your previous command was not run:\n```\n{action}\n```"
    user_message: str = "Message from the human operator: {message}"

    @field_validator("task")
    @classmethod
    def _task_has_description(cls, v: str) -> str:
        if "{task_description}" not in v:
            raise ValueError("expected the task template to contain {task_description}")
        return v

    @field_validator("next_step")
    @classmethod
    def _next_step_has_observation(cls, v: str) -> str:
        if "{observation}" not in v:
            raise ValueError("expected the next_step template to contain {observation}")
        return v


class ParserSettings(_Strict):
    kind: Literal["thought_action"] = "thought_action"
    max_format_retries: int = Field(3, ge=0, description="re-prompts after a malformed answer before giving up")


class HistorySettings(_Strict):
    keep_last_observations: int | None = Field(5, ge=1, description="None keeps every observation in full")
    omitted_note: str = "Old output omitted ({lines} lines)"


class CostOverride(_Strict):
    """Prices for models litellm does not know (local servers, new releases), per 1k or per 1M tokens."""

    input_per_1m: float | None = Field(None, ge=0)
    output_per_1m: float | None = Field(None, ge=0)
    input_per_1k: float | None = Field(None, ge=0)
    output_per_1k: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_unit(self) -> "CostOverride":
        per_1m = self.input_per_1m is not None or self.output_per_1m is not None
        per_1k = self.input_per_1k is not None or self.output_per_1k is not None
        if per_1m and per_1k:
            raise ValueError("expected prices per 1k tokens or per 1M tokens, not both")
        if not (per_1m or per_1k):
            raise ValueError("expected input_per_1m/output_per_1m or input_per_1k/output_per_1k")
        return self

    @property
    def input_per_token(self) -> float:
        if self.input_per_1k is not None:
            return self.input_per_1k / 1_000
        return (self.input_per_1m or 0.0) / 1_000_000

    @property
    def output_per_token(self) -> float:
        if self.output_per_1k is not None:
            return self.output_per_1k / 1_000
        return (self.output_per_1m or 0.0) / 1_000_000


class ModelSettings(_Strict):
    name: str = Field(min_length=1, description="litellm model name, e.g. gpt-4o or openai/<name> with api_base")
    api_base: str | None = None
    api_key_env: str | None = Field(None, description="NAME of the environment variable holding the key")
    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int | None = Field(4096, ge=1)
    cost: CostOverride | None = None
    timeout_s: float = Field(300.0, gt=0)
    max_retries: int = Field(5, ge=0)
    backoff_base_s: float = Field(2.0, ge=0, description="first retry waits this long, doubling each time")
    backoff_max_s: float = Field(60.0, ge=0)
    extra_params: dict[str, Any] = Field(default_factory=dict, description="passed to litellm.acompletion as is")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("api_key", "key", "token"):
                if key in data:
                    raise ValueError(
                        f"'{key}' is not allowed: keys never go in a config; export the key and put the "
                        "variable's NAME in model.api_key_env"
                    )
            if isinstance(data.get("extra_params"), dict) and "api_key" in data["extra_params"]:
                raise ValueError("extra_params.api_key is not allowed: use model.api_key_env")
        return data

    @field_validator("api_key_env")
    @classmethod
    def _looks_like_a_name(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.match(v):
            raise ValueError("expected the NAME of an environment variable (like OPENAI_API_KEY), not a key")
        return v

    def api_key(self) -> str | None:
        """The key, read now (not at load time) so a rotated or late-exported key is picked up."""
        if self.api_key_env is None:
            return None
        return os.environ.get(self.api_key_env)


class Limits(_Strict):
    max_steps: int = Field(50, ge=1)
    cost_limit: float = Field(4.0, ge=0, description="USD; 0 means no limit")
    wall_time_s: float | None = Field(None, gt=0, description="seconds for the whole episode; None means no limit")


class BaselineSettings(_Strict):
    commands: list[str] = Field(default_factory=lambda: ["validate", "submit"])


class ReplaySettings(_Strict):
    trajectory: str | None = Field(None, description="a .traj or events.jsonl; usually given on the command line")
    step_delay_s: float = Field(0.5, ge=0)


class AgentConfig(_Strict):
    name: str = ""
    description: str = ""
    policy: PolicyKind = "llm"
    templates: Templates = Field(default_factory=Templates)
    parser: ParserSettings = Field(default_factory=ParserSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    model: ModelSettings | None = None
    limits: Limits = Field(default_factory=Limits)
    baseline: BaselineSettings = Field(default_factory=BaselineSettings)
    replay: ReplaySettings = Field(default_factory=ReplaySettings)
    memory: bool = False
    """MLGym's memory module: the memory_write / memory_read commands, a memory file that starts from the task's
    memory_path when it exists, and its records and key words after each step (as MLGym's default_memory)."""

    @model_validator(mode="after")
    def _llm_needs_model(self) -> "AgentConfig":
        if self.policy == "llm" and self.model is None:
            raise ValueError("policy 'llm' expects a 'model' section with at least 'name'")
        return self

    @property
    def model_name(self) -> str:
        return self.model.name if self.model else self.policy

    def redacted(self) -> dict[str, Any]:
        """The config as plain data, safe to save: credentials in api_base are masked, and any value equal to
        the key currently in the environment (pasted by mistake, say in extra_params) is replaced."""
        data = self.model_dump(mode="json")
        model = data.get("model")
        if model and model.get("api_base"):
            model["api_base"] = _mask_url(model["api_base"])
        key = self.model.api_key() if self.model else None
        return _replace_secret(data, key) if key else data


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _replace_secret(value: Any, secret: str) -> Any:
    if isinstance(value, dict):
        return {k: _replace_secret(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secret(v, secret) for v in value]
    if isinstance(value, str) and secret in value:
        return value.replace(secret, "***")
    return value


def _describe(err: dict[str, Any]) -> str:
    field = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    msg = msg.replace("Input should be", "expected").replace("Extra inputs are not permitted", "unknown field")
    if err["type"] == "missing":
        msg = "required field is missing"
    shown = err.get("input")
    if err["type"] in ("missing",) or isinstance(shown, dict):
        return f"{field}: {msg}"
    return f"{field}: {msg} (got {shown!r})"


def resolve_agent_config_path(name_or_path: str | Path) -> Path:
    """A path as given, or a bare name like 'default' looked up in the agents/ folder."""
    path = Path(name_or_path)
    if path.exists():
        return path
    if path.suffix == "" and path.parent == Path("."):
        candidate = AGENTS_DIR / f"{path.name}.yaml"
        if candidate.exists():
            return candidate
    available = ", ".join(sorted(p.stem for p in AGENTS_DIR.glob("*.yaml"))) or "none"
    raise AgentConfigError(f"{name_or_path}: agent config not found; give a YAML path or one of: {available}")


def _merged(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def load_agent_config(path: str | Path) -> AgentConfig:
    path = resolve_agent_config_path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise AgentConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except OSError as exc:
        raise AgentConfigError(f"{path}: cannot read agent config ({exc.strerror})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AgentConfigError(f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}")
    base = data.pop("extends", None)
    if base is not None:
        # A config that changes a few settings of another: its mappings are merged into the base's, key by key.
        if not isinstance(base, str) or Path(base).stem == path.stem:
            raise AgentConfigError(f"{path}: extends must name another agent config (e.g. extends: default)")
        data = _merged(load_agent_config(base).model_dump(mode="json", exclude={"name"}), data)
    data.setdefault("name", path.stem)
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as exc:
        errors = [_describe(e) for e in exc.errors()]
        raise AgentConfigError(f"{path}: " + "; ".join(errors)) from None
