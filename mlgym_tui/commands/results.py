"""`mlgym-tui results DIR...`: scores, performance profiles and AUP over finished runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "results", help="aggregate runs: scores per task and model, AUP, exit statuses",
        description="Find run directories (ours and MLGym's published layout) under DIR... and compare models.",
    )
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="folders searched recursively for run directories")
    parser.add_argument("--models", help="comma list of model labels to compare; ratios are relative to this set "
                                         "and the baseline. Default: all models found")
    parser.add_argument("--no-baseline", action="store_true",
                        help="leave the baseline out of the comparison (MLGym's tables always include it)")
    parser.add_argument("--direction", action="append", default=[], metavar="TASK=METRIC:max|min",
                        help="metric and direction for a task outside MLGym's 13 (repeatable)")
    parser.add_argument("--budget", metavar="DURATION",
                        help="score each run by its validations within this much active time (e.g. 30m, 2h, "
                             "1h30m): pauses, approvals waiting for a person and rate-limit back-off not counted")
    parser.add_argument("--budget-steps", type=int, metavar="N",
                        help="score each run by its validations made by step N")
    parser.add_argument("--csv", metavar="PATH", help="also write the table as CSV")
    parser.add_argument("--json", metavar="PATH", help="also write everything (profiles included) as JSON")
    parser.add_argument("--tui", action="store_true",
                        help="open the Results screen (table, profiles, AUP, problems; enter opens a run's replay)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgym_tui.config.directions import parse_direction_option
    from mlgym_tui.evaluation.budgets import Budget, aggregate_within, parse_duration, read_timelines
    from mlgym_tui.evaluation.discovery import find_runs
    from mlgym_tui.evaluation.run_reader import read_run

    try:
        directions = dict(parse_direction_option(text) for text in args.direction)
        budget = Budget(seconds=parse_duration(args.budget) if args.budget is not None else None,
                        steps=args.budget_steps)
    except ValueError as exc:
        print(f"mlgym-tui results: {exc}", file=sys.stderr)
        return 2
    found, errors = find_runs(args.dirs)
    for line in errors:
        print(f"mlgym-tui results: {line}", file=sys.stderr)
    if not found:
        print(f"mlgym-tui results: no run directories under {', '.join(args.dirs)}; pass the folder holding "
              "runs/<time>__... or MLGym's <model>__<task>__...__run_<i> directories", file=sys.stderr)
        return 2
    runs = [read_run(f) for f in found]
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    if models:
        known = {r.model for r in runs} | {"baseline"}
        unknown = [m for m in models if m not in known]
        if unknown:
            print(f"mlgym-tui results: --models names unknown model(s) {', '.join(unknown)}; "
                  f"found: {', '.join(sorted(known))}", file=sys.stderr)
            return 2
    # Budgets and the screen's score-over-time curves need each run's validations in time: read once, if at all.
    timelines = read_timelines(runs) if budget or args.tui else None
    table = aggregate_within(runs, budget, timelines, models=models, directions=directions,
                             include_baseline=not args.no_baseline)

    if not args.tui:
        from mlgym_tui.evaluation.report_table import print_report

        print_report(table, timelines=timelines)
    if args.csv or args.json:
        from mlgym_tui.evaluation.export import write_csv, write_json

        try:
            if args.csv:
                write_csv(table, args.csv)
            if args.json:
                write_json(table, args.json)
        except OSError as exc:
            print(f"mlgym-tui results: cannot write {exc.filename}: {exc.strerror}; choose a writable path",
                  file=sys.stderr)
            return 1
    if args.tui:
        from mlgym_tui.tui.app import MLGymApp
        from mlgym_tui.tui.screens.results import ResultsScreen

        screen = ResultsScreen([Path(d) for d in args.dirs], table=table, models=models, directions=directions,
                               budget=budget, timelines=timelines)
        MLGymApp(start_screen=screen).run()
    return 0
