"""Building the task image from dockerfiles/ with an engine's build API (no registry: never pulls)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from mlgym_tui.runtime.errors import RuntimeProblem

DOCKERFILES = Path(__file__).resolve().parents[2] / "dockerfiles"


def build_image(engine, tag: str, context: Path = DOCKERFILES, on_line: Callable[[str], None] = print,
                labels: dict[str, str] | None = None) -> None:
    """Build `tag` from context/Dockerfile; lines of the build log go to on_line."""
    if not (context / "Dockerfile").exists():
        raise RuntimeProblem(f"no Dockerfile in {context}", "run from a checkout of mlgym-tui")
    client = engine.client
    try:
        stream = client.api.build(path=str(context), tag=tag, pull=False, rm=True, forcerm=True, decode=False,
                                  labels=labels)
        for raw in stream:
            for line in raw.decode("utf-8", errors="replace").splitlines():
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    on_line(line)
                    continue
                if "error" in item:
                    raise RuntimeProblem(
                        f"image build failed: {item['error'].strip()[:300]}",
                        "is the base image present? (see README: Building the task image)",
                    )
                text = item.get("stream") or item.get("status") or ""
                if text.strip():
                    on_line(text.rstrip())
    except RuntimeProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - the SDK raises many kinds; the person needs one line
        raise RuntimeProblem(f"image build failed: {str(exc).splitlines()[0][:300]}", "see `mlgym-tui doctor`") from None
    if not engine.image_exists(tag):
        raise RuntimeProblem(f"the build finished but {tag} is not in {engine.name}", "read the build log above")
