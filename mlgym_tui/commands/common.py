"""Options and helpers shared by several subcommands."""

from __future__ import annotations

import sys

from mlgym_tui.stream.types import ENGINE_CHOICES


def add_engine_option(parser) -> None:
    parser.add_argument(
        "--engine", choices=ENGINE_CHOICES, default=None,
        help="container engine (default: settings, else auto: docker, then podman)",
    )


def fail(message: str, code: int = 1) -> int:
    """Print a one-line error for a person and return the exit code."""
    print(f"mlgym-tui: error: {message}", file=sys.stderr)
    return code
