"""`mlgym-tui compare RUN_A RUN_B`: two recorded runs side by side (who ran them and how they ended, their steps
aligned, their scores over steps, the difference between their workspaces); `--tui` opens the Compare screen."""

from __future__ import annotations

import re

from mlgym_tui.commands.common import fail

WIDE = 160  # columns of piped output
STEPS_SHOWN = 200  # rows of the aligned table printed without --all-steps
ACTION_WIDTH = 40


def register(subparsers) -> None:
    parser = subparsers.add_parser("compare", help="compare two recorded runs: steps, scores, workspaces")
    parser.add_argument("run_a", metavar="RUN_A", help="a run directory, an events.jsonl or a .traj")
    parser.add_argument("run_b", metavar="RUN_B", help="the run to compare it with")
    parser.add_argument("--align", choices=("index", "actions"), default="index",
                        help="pair steps by step number (default) or by matching actions")
    parser.add_argument("--step-a", type=int, default=None, metavar="N",
                        help="compare A's workspace as it was after step N (default: its final state)")
    parser.add_argument("--step-b", type=int, default=None, metavar="M",
                        help="compare B's workspace as it was after step M (default: its final state)")
    parser.add_argument("--diff", action="append", default=[], metavar="PATH",
                        help="print the unified diff of this workspace file (repeatable)")
    parser.add_argument("--full", action="store_true", help="print the diff of every file that differs")
    parser.add_argument("--all-steps", action="store_true", help=f"print every aligned step (default: the first "
                                                                  f"{STEPS_SHOWN})")
    parser.add_argument("--tui", action="store_true", help="open the Compare screen instead of printing")
    parser.set_defaults(func=run)


def run(args) -> int:
    import sys
    from pathlib import Path

    from mlgym_tui.trajectory import TrajectoryError
    from mlgym_tui.trajectory.compare import compare_runs

    for name, value in (("--step-a", args.step_a), ("--step-b", args.step_b)):
        if value is not None and value < 0:
            return fail(f"{name} {value}: a step is 0 or more", 2)
    try:
        comparison = compare_runs(Path(args.run_a), Path(args.run_b), args.align, args.step_a, args.step_b)
    except TrajectoryError as exc:
        return fail(str(exc), 2)
    if args.tui:
        from mlgym_tui.tui.app import MLGymApp
        from mlgym_tui.tui.screens.compare import CompareScreen

        MLGymApp(start_screen=CompareScreen(comparison=comparison)).run()
        return 0
    from rich.console import Console

    # piped output is read by people too: wide enough for both sides of a step (a terminal keeps its own width)
    console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else WIDE)
    print_comparison(console, comparison, paths=args.diff, full=args.full, all_steps=args.all_steps)
    unknown = [p for p in args.diff if comparison.workspace.find(p) is None]
    return 1 if unknown and comparison.workspace.step_a is not None else 0


def print_comparison(console, comparison, paths: list[str] = (), full: bool = False, all_steps: bool = False) -> None:
    """The whole comparison as rich text: notes, header, aligned steps, scores, workspace diff."""
    from rich.table import Table

    from mlgym_tui.trajectory.compare import header_rows

    for note in comparison.notes:
        console.print(f"note: {note}", style="yellow")
    header = Table(show_edge=False)
    header.add_column("")
    header.add_column("A", overflow="fold")
    header.add_column("B", overflow="fold")
    for what, a, b in header_rows(comparison):
        header.add_row(what, a, b, style="bold" if what == "best score" else None)
    console.print(header)
    console.print()
    print_steps(console, comparison, None if all_steps else STEPS_SHOWN)
    console.print()
    print_scores(console, comparison)
    console.print()
    print_workspace(console, comparison, list(paths), full)


KIND_MARK = {"same": "=", "changed": "~", "only-a": "<", "only-b": ">"}


def print_steps(console, comparison, limit: int | None) -> None:
    from rich.table import Table

    from mlgym_tui.trajectory.compare import step_cells

    rows = comparison.rows
    counts = {kind: sum(1 for r in rows if r.kind == kind) for kind in KIND_MARK}
    title = (f"steps aligned by {'step number' if comparison.align == 'index' else 'matching actions'}: "
             f"{counts['same']} same (=), {counts['changed']} different (~), {counts['only-a']} only in A (<), "
             f"{counts['only-b']} only in B (>)")
    console.print(title, style="bold")
    shown = rows[:limit] if limit is not None else rows
    plain = [(step_cells(row.a, 10_000), step_cells(row.b, 10_000)) for row in shown]
    headers = ("step", "by", "action", "exit", "validation")
    # every column but the actions keeps its widest value; the two actions share what is left of the width
    widths = [[max([len(c[side][i]) for c in plain] + [len(headers[i]) + (2 if i == 0 else 0)]) for i in range(5)]
              for side in (0, 1)]
    for side in (0, 1):
        widths[side][4] = min(widths[side][4], 24)

    def room() -> int:  # what the two actions get: rich adds 2 of padding and 1 of rule to all but the edges
        return (console.width - sum(w for side in widths for i, w in enumerate(side) if i != 2) - 1 - 30) // 2

    while room() < 16 and max(widths[0][4], widths[1][4]) > 10:  # narrow: validations give way first
        for side in (0, 1):
            widths[side][4] = max(10, widths[side][4] - 1)
    action = max(10, min(ACTION_WIDTH, room()))
    table = Table(show_edge=False, pad_edge=False)
    for index, side in enumerate(("A", "B")):
        w = widths[index]
        table.add_column(f"{side} step", justify="right", no_wrap=True, width=w[0])
        table.add_column("by", no_wrap=True, width=w[1])
        table.add_column("action", no_wrap=True, width=action)
        table.add_column("exit", justify="right", no_wrap=True, width=w[3])
        table.add_column("validation", no_wrap=True, width=w[4])
        if side == "A":
            table.add_column("", justify="center", width=1)
    for row in shown:
        a, b = step_cells(row.a, action), step_cells(row.b, action)
        table.add_row(*a, KIND_MARK[row.kind], *b, style="dim" if row.kind == "same" else None)
    console.print(table)
    if limit is not None and len(rows) > limit:
        console.print(f"… {len(rows) - limit} more aligned steps (--all-steps prints them)", style="dim")


CHART_SIZE = (72, 14)


def print_scores(console, comparison) -> None:
    """A small chart of both runs' primary scores per step (best so far) and the table of every validation."""
    from rich.table import Table

    from mlgym_tui.trajectory.compare import number, score_rows

    a, b = comparison.scores_a, comparison.scores_b
    if not a.points and not b.points:
        console.print("scores: neither run has a validation with a score")
        return
    chart = score_chart(a, b)
    if chart:
        console.print(chart, markup=False, highlight=False)
    same_metric = a.metric == b.metric
    console.print("scores over steps" + (f" ({a.metric})" if same_metric else ""), style="bold")
    table = Table(show_edge=False)
    table.add_column("step", justify="right")
    table.add_column("A" if same_metric else f"A {a.metric}", justify="right")
    table.add_column("B" if same_metric else f"B {b.metric}", justify="right")
    for step, x, y in score_rows(a, b):
        table.add_row(str(step), number(x), number(y))
    baseline = a.baseline if a.baseline is not None else b.baseline
    if baseline is not None and same_metric:
        table.add_row("baseline", number(baseline), number(b.baseline), style="dim")
    console.print(table)


def score_chart(a, b) -> str:
    """Both runs' best-so-far score per step as a plotext chart in plain text ("" when plotext is missing)."""
    try:
        import plotext as plt
    except ImportError:
        return ""
    from mlgym_tui.trajectory.compare import step_line

    plt.clear_figure()
    plt.plotsize(*CHART_SIZE)
    plt.theme("clear")
    right = 1
    for name, series, marker in (("A", a, "•"), ("B", b, "+")):
        xs, ys = step_line(series.best_so_far())
        if xs:
            plt.plot(xs, ys, marker=marker, label=f"{name} {series.metric}")
            right = max(right, xs[-1])
    if a.baseline is not None:
        plt.plot([0, right], [a.baseline, a.baseline], label="baseline")
    plt.title("best score so far, by step")
    text = ANSI.sub("", plt.build())  # the clear theme still resets colours at every line's end
    plt.clear_figure()
    return text


ANSI = re.compile(r"\x1b\[[0-9;]*m")


DIFF_STATUS = {"only-a": "only in A", "only-b": "only in B", "differ": "differs", "same": "same"}


def print_workspace(console, comparison, paths: list[str], full: bool) -> None:
    from rich.syntax import Syntax
    from rich.table import Table

    diff = comparison.workspace
    for note in diff.notes:
        console.print(f"workspace: {note}", style="yellow")
    if diff.step_a is None:
        if paths:
            console.print("--diff: neither run's files were recorded; nothing to diff", style="yellow")
        return
    console.print(f"workspace: A after step {diff.step_a} vs B after step {diff.step_b}: {diff.summary()}",
                  style="bold")
    table = Table(show_edge=False)
    table.add_column("path", overflow="fold")
    table.add_column("status")
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    for item in diff.files:
        if item.kind == "same" or (item.a and item.a.kind == "dir") or (item.b and item.b.kind == "dir"):
            continue  # the summary counts them; the list is what differs
        table.add_row(item.path, DIFF_STATUS[item.kind], _size(item.a), _size(item.b))
    console.print(table)
    wanted = list(paths)
    if full:
        wanted += [f.path for f in diff.files if f.kind != "same" and f.path not in wanted
                   and not ((f.a and f.a.kind == "dir") or (f.b and f.b.kind == "dir"))]
    for path in wanted:
        if diff.find(path) is None:
            console.print(f"--diff {path}: in neither workspace (paths are relative to the workspace, as listed)",
                          style="yellow")
            continue
        text = comparison.file_diff(path)
        console.print()
        if text.startswith("---"):
            console.print(Syntax(text, "diff", theme="ansi_dark", background_color="default"))
        else:
            console.print(text)


def _size(entry) -> str:
    if entry is None:
        return "-"
    if entry.kind == "dir":
        return "dir"
    if entry.kind == "link":
        return f"-> {entry.target}"
    return f"{entry.size} B"
