"""Task images with extra Python packages: one image per distinct requirements set, derived from the task image,
tagged by a hash of what went into it, built on demand and kept.

Packages come from a local folder of wheels when one is given (`mlgym-tui image wheels` fills it on a machine that
reaches the package index; the build then installs with --no-index), else from the package index itself, which
the engine's build must be able to reach.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from mlgym_tui.runtime.errors import RuntimeProblem
from mlgym_tui.runtime.image import build_image

REPOSITORY = "mlgym-tui-task-deps"
LABEL = "mlgym-tui.requirements"
_MISSING = (re.compile(r"No matching distribution found for ([^\s;]+)"),
            re.compile(r"Could not find a version that satisfies the requirement ([^\s;]+)"))


class MissingPackage(RuntimeProblem):
    """A requirement that neither the wheel folder nor the index could provide."""


def normalized(requirements: list[str]) -> list[str]:
    """Requirement lines without comments and blanks, in a stable order."""
    lines = (line.split("#", 1)[0].strip() for line in requirements)
    return sorted({line for line in lines if line})


def derived_tag(engine, base: str, requirements: list[str], wheels: Path | None) -> str:
    try:
        base_id = engine.client.images.get(base).id
    except Exception:  # noqa: BLE001 - a missing base is reported when the build or the container needs it
        base_id = base
    source = "wheels" if wheels else "index"
    digest = hashlib.sha256("\n".join([base_id, source, *normalized(requirements)]).encode()).hexdigest()
    return f"{REPOSITORY}:{digest[:12]}"


def ensure_derived_image(engine, base: str, requirements: list[str], wheels: Path | None, owner: str,
                         on_line: Callable[[str], None] = lambda line: None) -> str:
    """The tag of base plus requirements, built now if this engine does not have it yet. `owner` (the task) names
    who needs it in errors."""
    tag = derived_tag(engine, base, requirements, wheels)
    if engine.image_exists(tag):
        return tag
    wanted = normalized(requirements)
    log: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mlgym-deps-") as folder:
        context = Path(folder)
        (context / "requirements.txt").write_text("\n".join(wanted) + "\n")
        (context / "wheels").mkdir()
        if wheels:
            for wheel in sorted(Path(wheels).glob("*")):
                if wheel.is_file():
                    shutil.copy2(wheel, context / "wheels" / wheel.name)
        offline = "--no-index --find-links /tmp/mlgym-wheels " if wheels else ""
        (context / "Dockerfile").write_text(
            f"FROM {base}\nUSER root\nCOPY requirements.txt /tmp/mlgym-requirements.txt\nCOPY wheels /tmp/mlgym-wheels\n"
            f"RUN python3 -m pip install --break-system-packages --no-cache-dir --disable-pip-version-check "
            f"{offline}-r /tmp/mlgym-requirements.txt && rm -rf /tmp/mlgym-wheels /tmp/mlgym-requirements.txt\n"
            "USER agent\n")

        def keep(line: str) -> None:
            log.append(line)
            on_line(line)

        try:
            build_image(engine, tag, context, keep, labels={LABEL: "\n".join(wanted), "mlgym-tui.base": base})
        except RuntimeProblem as exc:
            raise _explained(exc, log, owner, wheels) from None
    return tag


def _explained(exc: RuntimeProblem, log: list[str], owner: str, wheels: Path | None) -> RuntimeProblem:
    for line in log:
        for pattern in _MISSING:
            found = pattern.search(line)
            if found:
                where = f"in the wheel folder {wheels}" if wheels else "on the package index the engine reaches"
                return MissingPackage(f"task {owner} needs the package {found.group(1)}, which is not {where}",
                                      "download it on a connected machine: mlgym-tui image wheels REQUIREMENTS "
                                      "--dest FOLDER, then set runtime.wheels_dir to FOLDER")
    return RuntimeProblem(f"building the image for task {owner}'s packages failed: {exc.problem}", exc.fix)


def derived_images(engine) -> list[tuple[str, list[str]]]:
    """(tag, requirements) of every derived image this engine has."""
    out = []
    for image in engine.client.images.list(filters={"label": LABEL}):
        # Podman names images localhost/<name> or docker.io/library/<name>: the tag we asked for is their tail.
        tags = [t[t.index(REPOSITORY):] for t in image.tags if REPOSITORY in t]
        if tags:  # untagged ones are layers of a build that failed
            out.append((tags[0], (image.labels or {}).get(LABEL, "").split("\n")))
    return out
