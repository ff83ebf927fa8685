"""Two recorded runs side by side: their steps aligned (by step number, or by matching actions), the primary score
over steps of both, and the difference between their workspaces at chosen steps (final by default). Read by
`mlgym-tui compare` and the Compare screen; no textual here."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Literal

from mlgym_tui.stream.clock import EpisodeClock
from mlgym_tui.stream.events import EpisodeEnded, EpisodeStarted
from mlgym_tui.stream.model import EpisodeModel, StepView
from mlgym_tui.trajectory.human_note import read_human_note
from mlgym_tui.trajectory.load import load_run
from mlgym_tui.trajectory.loaded_run import LoadedRun
from mlgym_tui.trajectory.workspace_store import Entry, WorkspaceHistory, diff_entries

Align = Literal["index", "actions"]
ALIGNS: tuple[str, ...] = ("index", "actions")
RowKind = Literal["same", "changed", "only-a", "only-b"]
FileKind = Literal["only-a", "only-b", "differ", "same"]


@dataclass
class RunSide:
    """One run as compare reads it: the loaded events, their folded view and the workspace history."""

    path: Path
    run: LoadedRun
    model: EpisodeModel
    workspace: WorkspaceHistory
    who: str = ""
    wall_s: float | None = None
    active_s: float | None = None

    @property
    def steps(self) -> list[StepView]:
        """The steps that ran (a rejected or discarded proposal changed nothing, so it is not aligned)."""
        return [s for s in self.model.steps if s.rejected is None]

    @property
    def label(self) -> str:
        agent = f"{self.model.agent}" + (f" ({self.who})" if self.who else "")
        return f"{agent} / {self.model.model}"

    @property
    def cost(self) -> float:
        return max(self.model.cost, sum(s.cost for s in self.model.steps))

    def scores(self) -> list[tuple[int, float]]:
        """(step, primary metric) of every validation that has one, in order."""
        name = self.model.primary_metric
        return [(step, float(m[name])) for step, m in self.model.validations
                if name in m and isinstance(m[name], (int, float)) and not isinstance(m[name], bool)]

    def best(self) -> float | None:
        values = [v for _, v in self.scores()]
        if not values:
            return None
        return max(values) if self.model.direction == "maximize" else min(values)

    def baseline(self) -> float | None:
        value = self.model.baseline.get(self.model.primary_metric or "")
        return float(value) if isinstance(value, (int, float)) else None

    def final_step(self) -> int:
        """The step whose workspace is the run's final state: its last snapshot's (else its last step)."""
        steps = self.workspace.steps()
        if steps:
            return max(steps)
        return max((s.step for s in self.model.steps), default=0)


def read_side(path: Path | str) -> RunSide:
    """Load a run for comparing; raises TrajectoryError (one line) when the path holds no run."""
    path = Path(path)
    run = load_run(path)
    model = EpisodeModel()
    model.apply_all(run.events)
    folder = path if path.is_dir() else path.parent
    started = next((e for e in run.events if isinstance(e, EpisodeStarted)), None)
    note = read_human_note(folder)
    who = (note.who if note else "") or (getattr(started, "who", "") or "")
    wall, active = _clocks(run)
    return RunSide(path=path, run=run, model=model, workspace=WorkspaceHistory(run.events, folder), who=who,
                   wall_s=wall, active_s=active)


def _clocks(run: LoadedRun) -> tuple[float | None, float | None]:
    """Wall and active seconds as the end recorded them, else from the one clock over the events."""
    ended = run.ended
    if isinstance(ended, EpisodeEnded) and ended.wall_s is not None and ended.active_s is not None:
        return ended.wall_s, ended.active_s
    clock = EpisodeClock()
    for event in run.events:
        clock.observe(event)
    if clock.started_at is None:
        return None, None
    at = clock.ended_at if clock.ended_at is not None else clock.last_at
    return clock.wall_s(at), clock.active_s(at)


# ------------------------------------------------------------------------------------------------ steps


@dataclass(frozen=True)
class AlignedRow:
    a: StepView | None
    b: StepView | None
    kind: RowKind


_SPACE = re.compile(r"\s+")


def normalize_action(action: str) -> str:
    """The action as matching sees it: outer space trimmed, inner runs of space made one."""
    return _SPACE.sub(" ", action.strip())


def _row(a: StepView | None, b: StepView | None) -> AlignedRow:
    if a is None:
        return AlignedRow(None, b, "only-b")
    if b is None:
        return AlignedRow(a, None, "only-a")
    same = normalize_action(a.action) == normalize_action(b.action)
    return AlignedRow(a, b, "same" if same else "changed")


def align_by_index(a: list[StepView], b: list[StepView]) -> list[AlignedRow]:
    """Steps of the same number side by side (a number a run recorded twice pairs in order)."""
    by_a: dict[int, list[StepView]] = {}
    by_b: dict[int, list[StepView]] = {}
    for step in a:
        by_a.setdefault(step.step, []).append(step)
    for step in b:
        by_b.setdefault(step.step, []).append(step)
    rows: list[AlignedRow] = []
    for number in sorted(set(by_a) | set(by_b)):
        rows += [_row(x, y) for x, y in zip_longest(by_a.get(number, []), by_b.get(number, []))]
    return rows


def align_by_actions(a: list[StepView], b: list[StepView]) -> list[AlignedRow]:
    """The longest matching runs of actions side by side; between them, steps paired in order where both runs
    did something else (changed), and the rest as steps only one run took."""
    keys_a = [normalize_action(s.action) for s in a]
    keys_b = [normalize_action(s.action) for s in b]
    rows: list[AlignedRow] = []
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [AlignedRow(x, y, "same") for x, y in zip(a[i1:i2], b[j1:j2])]
        else:  # replace, delete, insert: pair what both sides did, then what only one did
            rows += [_row(x, y) for x, y in zip_longest(a[i1:i2], b[j1:j2])]
    return rows


def align(a: list[StepView], b: list[StepView], how: Align = "index") -> list[AlignedRow]:
    if how == "actions":
        return align_by_actions(a, b)
    if how == "index":
        return align_by_index(a, b)
    raise ValueError(f"unknown alignment {how!r}; use one of: {', '.join(ALIGNS)}")


# ------------------------------------------------------------------------------------------------ scores


@dataclass(frozen=True)
class ScoreSeries:
    metric: str | None
    direction: str
    points: list[tuple[int, float]]  # (step, primary metric) per validation
    baseline: float | None

    def best_so_far(self) -> list[tuple[int, float]]:
        out: list[tuple[int, float]] = []
        for step, value in self.points:
            if out:
                prior = out[-1][1]
                value = max(value, prior) if self.direction == "maximize" else min(value, prior)
            out.append((step, value))
        return out


def step_line(points: list[tuple[int, float]]) -> tuple[list[float], list[float]]:
    """Best-so-far points as a step line: each level holds until the next validation."""
    xs: list[float] = []
    ys: list[float] = []
    for step, value in points:
        if ys:
            xs.append(step)
            ys.append(ys[-1])
        xs.append(step)
        ys.append(value)
    return xs, ys


def score_series(side: RunSide) -> ScoreSeries:
    return ScoreSeries(side.model.primary_metric, side.model.direction, side.scores(), side.baseline())


def score_rows(a: ScoreSeries, b: ScoreSeries) -> list[tuple[int, float | None, float | None]]:
    """(step, A's score, B's score) at every step either run validated."""
    at_a: dict[int, float] = dict(a.points)
    at_b: dict[int, float] = dict(b.points)
    return [(step, at_a.get(step), at_b.get(step)) for step in sorted(set(at_a) | set(at_b))]


# ------------------------------------------------------------------------------------------------ workspace


@dataclass(frozen=True)
class FileDiff:
    path: str
    kind: FileKind
    a: Entry | None
    b: Entry | None


@dataclass
class WorkspaceDiff:
    step_a: int | None
    step_b: int | None
    files: list[FileDiff] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # a run without snapshots, incomplete listings, skipped files

    def of_kind(self, kind: FileKind) -> list[FileDiff]:
        return [f for f in self.files if f.kind == kind]

    def find(self, path: str) -> FileDiff | None:
        return next((f for f in self.files if f.path == path), None)

    def summary(self) -> str:
        counts = {kind: len(self.of_kind(kind)) for kind in ("only-a", "only-b", "differ", "same")}
        return (f"{counts['differ']} differ, {counts['only-a']} only in A, {counts['only-b']} only in B, "
                f"{counts['same']} same")


def _history_notes(name: str, side: RunSide, step: int) -> list[str]:
    notes = []
    upto = [s for s in side.workspace.snapshots if s.step <= step]
    if any(not s.complete for s in upto):
        notes.append(f"{name}: a workspace listing stopped at its cap; files past it are unknown")
    skipped = sum(len(s.skipped) for s in upto)
    if skipped:
        notes.append(f"{name}: {skipped} paths were not recorded (ignored by the task, unreadable names or caps)")
    return notes


def workspace_diff(a: RunSide, b: RunSide, step_a: int | None = None, step_b: int | None = None) -> WorkspaceDiff:
    """The files of A's workspace after step_a against B's after step_b (each run's final state by default)."""
    missing = [name for name, side in (("A", a), ("B", b)) if not side.workspace.recorded]
    if missing:
        which = " and ".join(f"{n} ({(a if n == 'A' else b).path})" for n in missing)
        return WorkspaceDiff(None, None, notes=[
            f"no workspace snapshots in {which}: recorded before workspace history, or by MLGym; steps and "
            "scores are still compared"])
    step_a = a.final_step() if step_a is None else step_a
    step_b = b.final_step() if step_b is None else step_b
    tree_a, tree_b = a.workspace.tree_at(step_a), b.workspace.tree_at(step_b)
    result = WorkspaceDiff(step_a, step_b, notes=_history_notes("A", a, step_a) + _history_notes("B", b, step_b))
    for path in sorted(set(tree_a) | set(tree_b)):
        x, y = tree_a.get(path), tree_b.get(path)
        if y is None:
            kind: FileKind = "only-a"
        elif x is None:
            kind = "only-b"
        elif x.same_content(y) and (x.sha256 is not None or x.kind != "file" or x.size == 0):
            kind = "same"
        else:  # different, or two unhashed files (too large) whose equality is unknown
            kind = "differ"
        result.files.append(FileDiff(path, kind, x, y))
    return result


def file_diff_text(a: RunSide, b: RunSide, diff: WorkspaceDiff, path: str) -> str:
    """The unified diff of one path from A's version to B's, or one line saying why there is none."""
    item = diff.find(path)
    if item is None:
        return f"{path}: in neither workspace"
    return diff_entries(path, item.a, item.b, a.workspace.bytes_of(item.a), b.workspace.bytes_of(item.b),
                        f"A step {diff.step_a}", f"B step {diff.step_b}")


# ------------------------------------------------------------------------------------------------ the whole


@dataclass
class Comparison:
    a: RunSide
    b: RunSide
    align: Align
    rows: list[AlignedRow]
    scores_a: ScoreSeries
    scores_b: ScoreSeries
    workspace: WorkspaceDiff
    notes: list[str] = field(default_factory=list)  # different tasks, a run without steps, files' warnings

    def file_diff(self, path: str) -> str:
        return file_diff_text(self.a, self.b, self.workspace, path)

    def with_workspace_at(self, step_a: int | None, step_b: int | None) -> "Comparison":
        self.workspace = workspace_diff(self.a, self.b, step_a, step_b)
        return self

    def realigned(self, how: Align) -> "Comparison":
        self.align = how
        self.rows = align(self.a.steps, self.b.steps, how)
        return self


def compare_sides(a: RunSide, b: RunSide, how: Align = "index", step_a: int | None = None,
                  step_b: int | None = None) -> Comparison:
    notes: list[str] = []
    if a.model.task_id != b.model.task_id:
        notes.append(f"the runs are of different tasks ({a.model.task_id} and {b.model.task_id}); "
                     "their scores are not on one scale")
    for name, side in (("A", a), ("B", b)):
        if not side.steps:
            notes.append(f"{name} ({side.path}) has no steps")
        notes += [f"{name}: {w}" for w in side.run.warnings]
    return Comparison(a, b, how, align(a.steps, b.steps, how), score_series(a), score_series(b),
                      workspace_diff(a, b, step_a, step_b), notes)


def compare_runs(path_a: Path | str, path_b: Path | str, how: Align = "index", step_a: int | None = None,
                 step_b: int | None = None) -> Comparison:
    """Blocking (reads both runs): call it on a worker thread from the TUI."""
    return compare_sides(read_side(path_a), read_side(path_b), how, step_a, step_b)


# ------------------------------------------------------------------------------------------------ as text


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def best_against_baseline(side: RunSide) -> str:
    best, base = side.best(), side.baseline()
    if best is None:
        return "no score" + (f" (baseline {number(base)})" if base is not None else "")
    if base is None:
        return number(best)
    against = side.model.against_baseline(best)
    sign = {1: "beats", 0: "matches", -1: "below"}.get(against, "vs")
    return f"{number(best)} ({sign} baseline {number(base)})"


def header_rows(comparison: Comparison) -> list[tuple[str, str, str]]:
    """(what, A, B) lines of the header both front ends show."""
    a, b = comparison.a, comparison.b

    def both(read) -> tuple[str, str]:
        return read(a), read(b)

    metric = lambda s: f"{s.model.primary_metric or '-'} ({'max' if s.model.direction == 'maximize' else 'min'})"  # noqa: E731
    rows = [
        ("run", *both(lambda s: s.path.name)),
        ("task", *both(lambda s: s.model.task_id or "-")),
        ("agent / model", *both(lambda s: s.label)),
        ("exit status", *both(lambda s: s.model.exit_status or "not ended")),
        ("metric", *both(metric)),
        ("best score", *both(best_against_baseline)),
        ("steps", *both(lambda s: str(len(s.steps)))),
        ("cost", *both(lambda s: f"${s.cost:.2f}")),
        ("wall / active", *both(lambda s: f"{duration(s.wall_s)} / {duration(s.active_s)}")),
    ]
    if a.model.mode != "auto" or b.model.mode != "auto":
        rows.insert(3, ("mode", a.model.mode, b.model.mode))
    if a.run.meta.parent or b.run.meta.parent:
        rows.append(("forked from", *both(lambda s: f"{s.run.meta.parent} at step {s.run.meta.fork_step}"
                                          if s.run.meta.parent else "-")))
    return rows


def step_cells(step: StepView | None, width: int = 40) -> tuple[str, str, str, str, str]:
    """(step, author, action, exit code, validation) of one side of an aligned row; blanks for a gap."""
    if step is None:
        return "", "", "", "", ""
    action = normalize_action(step.action)
    if len(action) > width:
        action = action[: width - 1] + "…"
    code = "" if step.exit_code is None else str(step.exit_code)
    if step.timed_out:
        code = "timeout"
    score = ""
    if step.validation:
        score = ("submit " if step.final else "") + ", ".join(
            f"{k} {number(v) if isinstance(v, (int, float)) else v}" for k, v in list(step.validation.items())[:2])
    return str(step.step), step.author, action, code, score
