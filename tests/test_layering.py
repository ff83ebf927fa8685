"""Layers as a table: the imports between mlgym_tui's packages follow ALLOWED and nothing else (read from the
source with ast, function-level imports included); the core stays free of textual, and nothing imports litellm at
start-up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mlgym_tui

PACKAGE = Path(mlgym_tui.__file__).resolve().parent

# package -> the packages it may import (ARCHITECTURE.md's layer table; `cli` is cli.py and commands/). A package
# may also import what those may import (top imports bottom), never anything else. An edge the architecture
# table does not have carries its reason.
ALLOWED: dict[str, dict[str, str]] = {
    "tui": {"control": "", "episode": "", "batch": "", "agents": "", "environment": "", "tools": "", "trajectory": "",
            "evaluation": "", "runtime": "", "stream": "", "config": "", "tasks": ""},
    "cli": {"tui": "play, replay and the bare command open the TUI (imported inside run, so other commands stay light)",
            "control": "", "episode": "", "batch": "", "agents": "", "environment": "", "tools": "", "trajectory": "",
            "evaluation": "", "runtime": "", "stream": "", "config": "", "tasks": ""},
    "episode": {"agents": "", "environment": "", "trajectory": "", "stream": ""},
    "control": {"episode": "the endpoint serves a Controller; the viewer mirrors one", "agents": "", "stream": "",
                "config": ""},
    "batch": {"control": "every batch episode serves itself", "episode": "a batch runs its episodes through the episode runner", "agents": "", "environment": "",
              "trajectory": "", "stream": ""},
    "agents": {"config": "", "stream": ""},
    "environment": {"tools": "same layer: the environment installs and runs the agent's commands of tools/",
                    "runtime": "", "tasks": "", "config": "", "stream": ""},
    "tools": {"runtime": "", "tasks": "", "config": "", "stream": ""},
    "trajectory": {"config": "", "stream": ""},
    "evaluation": {"config": "", "stream": ""},
    "runtime": {"config": ""},
    "stream": {},
    "config": {"stream": ""},
    "tasks": {"config": "same layer: the registry builds config's TaskConfig models", "stream": ""},
}


def reachable() -> dict[str, set[str]]:
    """ALLOWED closed under 'what a package may import may be imported by its importers'."""
    closed = {name: set(edges) for name, edges in ALLOWED.items()}
    changed = True
    while changed:
        changed = False
        for name, edges in closed.items():
            more = set().union(*(closed[e] for e in edges)) - edges - {name} if edges else set()
            if more:
                edges |= more
                changed = True
    return closed


def package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "mlgym_tui" or len(parts) < 2:
        return None
    return "cli" if parts[1] in ("cli", "commands") else parts[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every module an import statement names (at any depth: functions too), relative imports resolved."""
    module = module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: None if path.name == "__init__.py" else -1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((name, node.lineno))
            found += [(f"{name}.{alias.name}", node.lineno) for alias in node.names]  # `from pkg import sub`
    return found


def package_edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = package_of(module_name(path))
        for name, line in imports_of(path):
            target = package_of(name)
            if source and target and target != source:
                edges.setdefault((source, target), []).append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    return edges


def test_every_package_has_a_row():
    packages = {package_of(module_name(p)) for p in PACKAGE.rglob("*.py")} - {None}
    assert packages == set(ALLOWED), f"packages without a row in ALLOWED: {sorted(packages - set(ALLOWED))}"


def test_imports_follow_the_layer_table():
    allowed = reachable()
    bad = [f"{source} -> {target}: {', '.join(sorted(set(where))[:4])}"
           for (source, target), where in sorted(package_edges().items()) if target not in allowed[source]]
    assert not bad, "imports the layer table (tests/test_layering.py ALLOWED) forbids:\n" + "\n".join(bad)


def test_the_table_is_layered():
    """No cycles: a package never reaches itself, so 'below' means something."""
    allowed = reachable()
    assert not [name for name, edges in allowed.items() if name in edges]


def test_only_the_tui_imports_textual():
    bad = [f"{path.relative_to(PACKAGE.parent)}:{line}" for path in sorted(PACKAGE.rglob("*.py"))
           if package_of(module_name(path)) != "tui"
           for name, line in imports_of(path) if name.split(".")[0] in ("textual", "textual_plotext")]
    assert not bad, bad


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
