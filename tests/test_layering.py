"""The core stays free of textual, and nothing imports litellm at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlgym_tui

PACKAGE = Path(mlgym_tui.__file__).resolve().parent

BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{name} is blocked in this test')
sys.meta_path.insert(0, Block())
"""


def core_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(relative.parts)
        if "tui" in parts or "container" in parts or "harness" in parts:  # tui may use textual; container/ and harness/ run inside the task image
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def run_blocked(blocked: set[str], code: str) -> subprocess.CompletedProcess:
    script = f"BLOCKED = {sorted(blocked)!r}\n{BLOCKER}\n{code}"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_core_imports_without_textual():
    modules = core_modules()
    assert "mlgym_tui.runtime.shell" in modules and "mlgym_tui.episode.controller" in modules
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    proc = run_blocked({"textual", "textual_plotext"}, code)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_cli_and_core_do_not_import_litellm_at_start():
    code = (
        "import sys, importlib\n"
        "import mlgym_tui.cli as cli\n"
        "cli.build_parser()\n"
        "import mlgym_tui.agents.llm_policy, mlgym_tui.agents.model, mlgym_tui.episode.controller\n"
        "assert 'litellm' not in sys.modules, 'litellm imported at start-up'\n"
    )
    proc = run_blocked(set(), code)
    assert proc.returncode == 0, proc.stderr[-2000:]
