"""Scoring a submission in a container of its own.

Every scoring (validate, submit, auto-submission, baseline check, rescore) starts a fresh evaluation container
from the task image: no network, its own limits, removed afterwards. The submission arrives by value (see
`submission.py`); the task's evaluation and secret files come fresh from the task folder. Nothing of the agent's
container is shared with it, so answers never exist where the agent can reach them.

Inside, `harness/mlgym_eval_launcher.py` runs as root and starts:
- the scorer: `python3 -E -s -B evaluate.py [--submission_file F | --config_fname C]` as uid 1001 with a fixed
  environment; its stdout is the score channel. It works in the container's workspace, laid out as MLGym's
  scripts expect (the submission, the task's data/, fresh evaluation and secret files), or, when there is a
  submission process, in the private /opt/mlgym/eval;
- for Python submissions whose modules the task names, the submission process: the agent's modules imported as
  uid 1000 in a copy of the submission, reached from the scorer through stand-in modules of the same names
  (`harness/mlgym_submission_proxy.py`). Its output is captured apart and shown, never parsed.

Tasks whose evaluate.py must have the agent's code in its own process (MLGym's model tasks, Python tasks that
name no modules) still run in the evaluation container, but their scores say `trust: in-process`.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlgym_tui.config.runtime import GpuRequest, RuntimeConfig, parse_gpus
from mlgym_tui.config.task import TaskConfig
from mlgym_tui.environment.submission import Artefacts, SubmissionRefused, spec_for
from mlgym_tui.environment.task_image import task_image
from mlgym_tui.runtime.base import AGENT_UID, Container, ContainerSpec, Engine
from mlgym_tui.runtime.errors import RuntimeProblem

EVALUATOR_UID = 1001
HARNESS = Path(__file__).parent / "harness"
LAUNCHER = "mlgym_eval_launcher.py"
PROXY = "mlgym_submission_proxy.py"
OUTPUT_SHOWN = 2000  # characters of the submission's own output put in the observation

ISOLATED, IN_PROCESS, UNISOLATED = "isolated", "in-process", "unisolated"


class EvaluationFailed(SubmissionRefused):
    """The submission was read but scoring it gave no valid metrics."""

    def __init__(self, status: str, reason: str, output: str = "") -> None:
        super().__init__(status, reason)
        self.output = output


class EvaluationInterrupted(EvaluationFailed):
    """A person stopped the scoring (interrupt): its container was removed; there is no score."""

    def __init__(self) -> None:
        super().__init__("interrupted", "the evaluation was interrupted by request and its container removed")


class EvaluationStop:
    """Lets another thread stop a running evaluation: its container is removed, which ends whatever runs there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._box: Container | None = None
        self.requested = False

    def attach(self, box: Container) -> None:
        with self._lock:
            self._box = box
            requested = self.requested
        if requested:
            box.remove()

    def request(self) -> None:
        with self._lock:
            self.requested, box = True, self._box
        if box is not None:
            box.remove()


@dataclass
class Score:
    metrics: dict[str, float]
    submission: str
    trust: str
    trust_reason: str
    output: str = ""  # what the submission's own code printed while it was scored
    seconds: float = 0.0


def trust_of(task: TaskConfig, engine: Engine) -> tuple[str, str]:
    """How far the scorer is separated from the agent's code, and why not further."""
    if not engine.isolated:
        return UNISOLATED, "the local runtime scores on this machine as you: no container, no separate users"
    if task.task_entrypoint == "CSVSubmissionTasks":
        return ISOLATED, "the submission is data, scored in a fresh evaluation container"
    if spec_for(task).modules:
        return ISOLATED, "the agent's modules run in a process of their own under the agent's uid"
    if task.task_entrypoint == "PythonSubmissionTasks":
        return IN_PROCESS, ("the task names no submission modules (submission.modules), so evaluate.py imports the "
                            "agent's code into the scorer's process")
    return IN_PROCESS, "evaluate.py loads the agent's model files and code in its own process"


@dataclass
class _Layout:
    """Where things go in the evaluation container (absolute paths).

    With a submission process, the scorer works in the private eval_dir (evaluation files, secrets, stand-ins) and
    the agent's modules in workspace, owned by the agent's uid. Without one (CSV and in-process tasks), the scorer
    works in workspace itself, as MLGym's scripts expect (`python evaluate.py` from the workspace, the agent's
    files and data/ beside it), owned by the evaluator."""

    eval_dir: str
    workspace: str
    use_worker: bool

    @property
    def base(self) -> str:
        return str(PurePosixPath(self.eval_dir).parent)

    @property
    def scorer_dir(self) -> str:
        return self.eval_dir if self.use_worker else self.workspace

    @property
    def harness(self) -> str:
        return f"{self.base}/harness"

    @property
    def job_dir(self) -> str:
        return f"{self.base}/job"

    @property
    def scorer_home(self) -> str:
        return f"{self.base}/eval-home"


def evaluate(task: TaskConfig, engine: Engine, artefacts: Artefacts, runtime: RuntimeConfig | None = None,
             image: str | None = None, stop: EvaluationStop | None = None) -> Score:
    """Score `artefacts` for `task` in a fresh evaluation container (of `image`, default the task's image with its
    packages); raises EvaluationFailed (EvaluationInterrupted once `stop` is requested)."""
    runtime = runtime or RuntimeConfig()
    started = time.monotonic()
    trust, reason = trust_of(task, engine)
    try:
        image = image or task_image(task, runtime, engine)
    except RuntimeProblem as exc:
        raise EvaluationFailed("evaluation_format_error", f"the evaluation image is not available: {exc}") from None
    spec = ContainerSpec(
        image=image,
        network=False,
        memory=task.limits.memory or runtime.memory,
        cpus=task.limits.cpus or runtime.cpus,
        pids=task.limits.pids or runtime.pids,
        labels={"mlgym-tui.task": task.id, "mlgym-tui.role": "evaluation"},
        name=f"mlgym-eval-{uuid.uuid4().hex[:10]}",
        user="root",  # the keep-alive must not be a process of the uids the harness sweeps
        gpus=parse_gpus(runtime.gpus),
    )
    if stop is not None and stop.requested:
        raise EvaluationInterrupted()
    try:
        box = engine.start(spec)
    except RuntimeProblem as exc:
        raise EvaluationFailed("evaluation_format_error", f"the evaluation container did not start: {exc}") from None
    try:
        if stop is not None:
            stop.attach(box)
        result = _run(task, box, artefacts, sandboxed=engine.isolated, runtime=runtime)
    except Exception as exc:
        if stop is not None and stop.requested:  # whatever the removal broke, the cause is the interrupt
            raise EvaluationInterrupted() from None
        if isinstance(exc, RuntimeProblem):
            raise EvaluationFailed("evaluation_format_error", f"the evaluation container failed: {exc}") from None
        raise
    finally:
        threading.Thread(target=box.remove, name=f"remove {box.name}").start()  # not daemon: finishes before exit
    if stop is not None and stop.requested:
        raise EvaluationInterrupted()
    metrics, output = _verdict(task, result)
    return Score(metrics, artefacts.primary, trust, reason, output, time.monotonic() - started)


def _run(task: TaskConfig, box: Container, artefacts: Artefacts, sandboxed: bool, runtime: RuntimeConfig) -> dict:
    # A submission process whenever the task names modules, the local runtime too: the score channel stays the
    # scorer's own.
    layout = _Layout(box.eval_dir, box.workspace, use_worker=bool(spec_for(task).modules))
    job = _job(task, layout, artefacts, sandboxed, parse_gpus(runtime.gpus))
    box.put_archive(box.fs_root, _layout_tar(task, layout, artefacts, job, box.fs_root))
    launched = box.exec(["python3", "-I", f"{layout.harness}/{LAUNCHER}", f"{layout.job_dir}/job.json"],
                        user="root", timeout=task.evaluation_timeout + 60)
    data = box.read_archive(f"{layout.job_dir}/result.json", 16 * 1024 * 1024)
    if data is None:
        tail = launched.output.strip().splitlines()[-3:]
        raise EvaluationFailed("evaluation_format_error", f"the evaluation harness failed: {' | '.join(tail)[:300]}")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.getmembers()[0]
        return json.loads(tar.extractfile(member).read())


def _job(task: TaskConfig, layout: _Layout, artefacts: Artefacts, sandboxed: bool, gpus: GpuRequest | None) -> dict:
    script = Path(task.evaluation_paths[0]).name if task.evaluation_paths else "evaluate.py"
    argv = ["python3", "-E", "-s", "-B", f"{layout.scorer_dir}/{script}"]
    if task.task_entrypoint == "LMSubmissionTasks":
        # As MLGym: one process per GPU. "all" is counted inside the container (MLGYM_GPU_COUNT, see the launcher).
        processes = gpus.processes if gpus else None
        argv = ["torchrun", f"--nproc_per_node={processes or '$MLGYM_GPU_COUNT'}", "--standalone",
                f"{layout.scorer_dir}/{script}"]
    elif task.task_entrypoint == "CSVSubmissionTasks":
        argv += ["--submission_file", f"{layout.workspace}/submission.csv"]
    elif task.task_entrypoint == "ModelSubmissionTasks":
        argv += ["--config_fname", f"{layout.scorer_dir}/{PurePosixPath(artefacts.primary).name}"]
    base_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "MPLBACKEND": "Agg"}
    if not sandboxed:
        import os
        import sys

        base_env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    home = layout.scorer_home
    scorer_env = {**base_env, "HOME": home, "TMPDIR": home, "MPLCONFIGDIR": home}
    uids = (EVALUATOR_UID, AGENT_UID) if sandboxed else (0, 0)
    owners = [
        [layout.job_dir, 0, 0o700, 0o600],
        [layout.harness, 0, 0o755, 0o644],
        [home, EVALUATOR_UID, 0o700, 0o600],
        [layout.scorer_dir, EVALUATOR_UID, 0o700, 0o600],
    ]
    if layout.use_worker:  # the agent's uid owns the submission where its code runs
        owners.append([layout.workspace, AGENT_UID, 0o700, 0o600])
    job = {
        "owners": owners if sandboxed else [],
        "scorer": {"argv": argv, "cwd": layout.scorer_dir, "env": scorer_env, "uid": uids[0]},
        "timeout": task.evaluation_timeout,
        "result": f"{layout.job_dir}/result.json",
        "sweep_uids": [EVALUATOR_UID, AGENT_UID] if sandboxed else [],
    }
    if layout.use_worker:
        job["worker"] = {"program": f"{layout.harness}/{PROXY}", "cwd": layout.workspace, "uid": uids[1],
                         "env": {**base_env, "HOME": f"{layout.workspace}/..", "PYTHONHASHSEED": "0"}}
    return job


def _layout_tar(task: TaskConfig, layout: _Layout, artefacts: Artefacts, job: dict, root: str) -> bytes:
    """One archive unpacked at the container's root: the submission by value, then the task's data and its fresh
    evaluation and secret files (which win over any copy of the same name), stand-ins, harness, job."""
    files: dict[str, bytes] = {}
    folders = [layout.eval_dir, layout.scorer_home, layout.harness, layout.job_dir, layout.workspace]
    for path, (data, _mode) in artefacts.files.items():
        files[f"{layout.workspace}/{path}"] = data
    if evaluation_sees_data(task):
        for dataset in task.datasets:
            source = task.resolve(dataset.data_path)
            if dataset.is_local and source.is_dir():
                _add_host_path(files, source, layout.scorer_dir, name="data")
    for source in evaluation_sources(task):
        _add_host_path(files, source, layout.scorer_dir)
    if layout.use_worker:
        for module in spec_for(task).modules:
            files[f"{layout.eval_dir}/{module}.py"] = _stand_in(module)
        files[f"{layout.eval_dir}/{PROXY}"] = (HARNESS / PROXY).read_bytes()
        files[f"{layout.harness}/{PROXY}"] = (HARNESS / PROXY).read_bytes()
    files[f"{layout.harness}/{LAUNCHER}"] = (HARNESS / LAUNCHER).read_bytes()
    files[f"{layout.job_dir}/job.json"] = json.dumps(job).encode()
    buffer = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in folders:
            info = tarfile.TarInfo(str(PurePosixPath(folder).relative_to(root)))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o700, now
            tar.addfile(info)
        for path, data in files.items():
            info = tarfile.TarInfo(str(PurePosixPath(path).relative_to(root)))
            info.size, info.mode, info.mtime = len(data), 0o600, now
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def evaluation_sees_data(task: TaskConfig) -> bool:
    """MLGym's evaluation scripts read the task's data from the workspace (its answers often live there); tasks
    that declare their submission keep hidden files in secret_files and get only those."""
    return task.evaluation_data if task.evaluation_data is not None else task.submission is None


def _stand_in(module: str) -> bytes:
    return (f'"""Stand-in for the submission\'s module {module}: calls go to the submission process."""\n'
            f"import mlgym_submission_proxy\n\nmlgym_submission_proxy.stand_in(__name__, globals())\n").encode()


def _add_host_path(files: dict[str, bytes], source: Path, dest_dir: str, name: str | None = None) -> None:
    name = name or source.name
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file():
                files[f"{dest_dir}/{name}/{path.relative_to(source).as_posix()}"] = path.read_bytes()
    else:
        files[f"{dest_dir}/{name}"] = source.read_bytes()


def evaluation_sources(task: TaskConfig) -> list[Path]:
    """Host copies of the evaluation files (found among starter_code by name) and the secret files."""
    sources = []
    for name in task.evaluation_paths:
        found = None
        for relative in task.starter_code:
            path = task.resolve(relative)
            if path.is_file() and path.name == Path(name).name:
                found = path
            elif path.is_dir() and (path / name).exists():
                found = path / name
        if found is None:
            raise EvaluationFailed("evaluation_format_error", f"evaluation file {name} is not among the task's starter_code")
        sources.append(found)
    sources += [task.resolve(relative) for relative in task.secret_files]
    return sources


def evaluation_digest(task: TaskConfig) -> str:
    """sha256 over the task's evaluation and secret files, so a rescore can tell whether the scorer changed."""
    h = hashlib.sha256()
    for source in evaluation_sources(task):
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for path in files:
            h.update(f"{path.relative_to(source.parent).as_posix()}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _verdict(task: TaskConfig, result: dict) -> tuple[dict[str, float], str]:
    scorer = result["scorer"]
    submission = result.get("submission") or {}
    output = _submission_output(submission)
    if scorer.get("timed_out"):
        raise EvaluationFailed("evaluation_format_error", f"evaluation did not finish within {task.evaluation_timeout:g} s",
                               output)
    if scorer["exit_code"] != 0:
        raise EvaluationFailed("evaluation_format_error", _failure_reason(scorer, submission), output)
    metrics = parse_metrics(task.task_entrypoint, scorer["stdout"])
    if metrics is None:
        shown = scorer["stdout"].strip()[:200] or "nothing"
        raise EvaluationFailed("evaluation_format_error",
                               f"evaluate.py printed {shown!r}, not one JSON object of metrics", output)
    return metrics, output


def _failure_reason(scorer: dict, submission: dict) -> str:
    lines = [line for line in (scorer["stderr"] or scorer["stdout"]).strip().splitlines() if line.strip()]
    if any("SubmissionProcessDied" in line for line in lines):
        code = submission.get("exit_code")
        tail = [line for line in (submission.get("stderr") or "").strip().splitlines() if line.strip()][-1:]
        ended = f"exited with code {code}" if code is not None and code >= 0 else (
            f"was killed by signal {-code}" if code is not None else "broke the protocol")
        return f"the submission's process {ended} during the evaluation" + (f": {tail[0][:200]}" if tail else "")
    if lines:
        return lines[-1][:300]
    return f"evaluation exited with code {scorer['exit_code']} and printed nothing"


def _submission_output(submission: dict) -> str:
    text = "".join(part for part in (submission.get("stdout"), submission.get("stderr")) if part)
    if len(text) > OUTPUT_SHOWN:
        text = f"[... {len(text) - OUTPUT_SHOWN} characters not shown ...]\n" + text[-OUTPUT_SHOWN:]
    return text


def parse_metrics(entrypoint: str, stdout: str) -> dict[str, float] | None:
    """MLGym's rules: CSV and Python tasks print exactly one JSON object; model and LM tasks' first line that
    starts with `{` is it."""
    if entrypoint in ("CSVSubmissionTasks", "PythonSubmissionTasks"):
        candidates = [stdout.strip()]
    else:
        candidates = [line.strip() for line in stdout.splitlines() if line.strip().startswith("{")][:1]
    for text in candidates:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, ValueError):
            return None
        if isinstance(data, dict) and data and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                    for v in data.values()):
            return {str(k): float(v) for k, v in data.items()}
    return None
