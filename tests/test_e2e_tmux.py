"""End to end in a real terminal: the installed `mlgym-tui` console script runs inside tmux (120x40, its own tmux
server and config folder), against a real container engine and a scripted model server process. Keys go in with
`tmux send-keys`; assertions read `tmux capture-pane` and the run directory the app wrote.

tmux missing: the tests skip, unless MLGYM_REQUIRE_ENGINES=1 (then they fail).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import ENGINES, REQUIRE_ENGINES, get_engine

REPO = Path(__file__).resolve().parents[1]
MLGYM_TUI = Path(sys.executable).parent / "mlgym-tui"
COLUMNS, LINES = 120, 40


def _need_tmux() -> str:
    found = shutil.which("tmux")
    if found is None:
        if REQUIRE_ENGINES:
            pytest.fail("tmux is required for the end-to-end tests (MLGYM_REQUIRE_ENGINES=1) but is not installed")
        pytest.skip("tmux is not installed: the end-to-end terminal tests need it (apt-get install tmux)")
    if not MLGYM_TUI.exists():
        pytest.fail(f"the console script {MLGYM_TUI} is missing; install the project into the venv (uv sync)")
    return found


class Tmux:
    """One tmux server (own socket) running one command in a fixed-size window."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.tmux = _need_tmux()
        self.socket = f"mlgym-e2e-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.env = env
        shell_command = " ".join(_quote(part) for part in command) + "; echo EXITED-$?; sleep 600"
        self._run("new-session", "-d", "-s", "main", "-x", str(COLUMNS), "-y", str(LINES), "-c", str(cwd),
                  shell_command)

    def _run(self, *args: str) -> str:
        done = subprocess.run([self.tmux, "-L", self.socket, "-f", "/dev/null", *args], env=self.env,
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "main")

    def pane_title(self) -> str:
        return self._run("display-message", "-p", "-t", "main", "#{pane_title}").strip()

    def keys(self, *keys: str, pause: float = 0.25) -> None:
        """Named keys (Enter, Tab, C-o, F6 ...), one at a time: focus moves between them need a moment."""
        for key in keys:
            self._run("send-keys", "-t", "main", key)
            time.sleep(pause)

    def type(self, text: str) -> None:
        self._run("send-keys", "-t", "main", "-l", text)
        time.sleep(0.2)

    def wait_for(self, predicate, what: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; the screen shows:\n{text}")
            time.sleep(0.2)

    def wait_text(self, needle: str, timeout: float = 60.0) -> str:
        return self.wait_for(lambda text: needle in text, repr(needle), timeout)

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], env=self.env, capture_output=True, timeout=30)


def _quote(part: str) -> str:
    import shlex

    return shlex.quote(part)


def has_cell(screen: str, text: str) -> bool:
    """Some pane shows `text` alone on a line (output, not the command that printed it)."""
    return any(part.strip(" ▎▊") == text for line in screen.splitlines() for part in line.split("│"))


def status_line(screen: str) -> str:
    return screen.splitlines()[0] if screen else ""


@pytest.fixture
def tmux_env(tmp_path):
    """Config folder with settings.yaml (runs_dir in tmp, the engine under test) and the process environment."""

    def make(engine_name: str, extra: dict[str, str] | None = None) -> tuple[dict[str, str], Path]:
        config = tmp_path / "config"
        runs = tmp_path / "runs"
        config.mkdir(exist_ok=True)
        runs.mkdir(exist_ok=True)
        (config / "settings.yaml").write_text(f"runs_dir: {runs}\nruntime:\n  engine: {engine_name}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "OPENAI_", "LITELLM"))}
        env.update(MLGYM_TUI_CONFIG_DIR=str(config), TERM="xterm-256color", **(extra or {}))
        return env, runs

    return make


@pytest.fixture
def model_server(tmp_path):
    """The scripted model server as its own process; yields a function that starts it with a script."""
    procs: list[subprocess.Popen] = []

    def start(script: list) -> str:
        path = tmp_path / "script.json"
        path.write_text(json.dumps(script))
        proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "model_server.py"), "--port", "0",
                                 "--script", str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        line = proc.stdout.readline().strip()
        if not line.startswith("READY "):
            raise AssertionError(f"model server did not start: {line}")
        return line.split(" ", 1)[1]

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def answer(command: str) -> str:
    return f"I run a command.\n```\n{command}\n```"


def read_events(runs: Path) -> tuple[Path, list[dict]]:
    found = sorted(p for p in runs.iterdir() if (p / "events.jsonl").exists())
    assert len(found) == 1, f"expected one run directory in {runs}, found {[p.name for p in found]}"
    lines = (found[0] / "events.jsonl").read_text().splitlines()
    return found[0], [json.loads(line) for line in lines if line.strip()]


def engine_name(request) -> str:
    name = request.param
    get_engine(name)  # skip (or fail when engines are required) if the engine or its image is unusable
    return name


@pytest.fixture(params=ENGINES)
def engine_under_test(request):
    _need_tmux()
    return engine_name(request)


def test_agent_episode_from_the_browser_pause_take_over_hand_back_submit(engine_under_test, tmux_env, model_server):
    api_base = model_server([{"delay": 4}, answer("echo agent-one"), answer("submit")])
    # The start dialog picks agent configs from agents/; the default agent's model is replaced in the dialog by
    # openai/scripted, and litellm finds the server through OPENAI_API_BASE (the default agent has no api_base).
    env, runs = tmux_env(engine_under_test, {"OPENAI_API_BASE": api_base, "OPENAI_API_KEY": "unused"})
    tmux = Tmux([str(MLGYM_TUI)], env, REPO)
    try:
        tmux.wait_text("battleOfSexes", timeout=30)
        tmux.keys("/")
        tmux.type("battleOfSexes")
        tmux.keys("Enter", "s")
        tmux.wait_text("Start an episode on battleOfSexes", timeout=10)
        tmux.keys("Tab")  # agent config -> model
        tmux.type("openai/scripted")
        tmux.keys("Tab", "Tab", "Tab")  # engine (from settings), mode (auto), max steps
        tmux.type("10")
        tmux.keys("Tab")
        tmux.type("0")  # no cost limit: the scripted model has no price
        tmux.keys("Tab", "Enter")  # Start
        screen = tmux.wait_for(lambda s: "AUTO" in status_line(s) and "mlgym-" in status_line(s),
                               "the episode screen with its container", timeout=120)
        assert f"engine {engine_under_test}" in status_line(screen) and "model openai/scripted" in status_line(screen)
        # pause while the model is still thinking (the server waits 4 s): the proposal is held at the boundary
        tmux.keys("p")
        tmux.wait_for(lambda s: "PAUSED" in status_line(s), "PAUSED in the status bar", timeout=10)
        # (the pause may land before the model is asked or while it thinks; either way one step follows)
        tmux.keys("n")  # exactly one step: the agent's command runs, then the episode is paused again
        tmux.wait_for(lambda s: has_cell(s, "agent-one"), "the agent's command output", timeout=30)
        tmux.wait_for(lambda s: "PAUSED" in status_line(s), "paused after one step", timeout=10)
        # take over: the shell pane says HUMAN (the status badge stays PAUSED: a paused episode says so first)
        tmux.keys("C-o")
        tmux.wait_text("HUMAN: type the next", timeout=10)
        tmux.type("echo human-$((20+22))")
        tmux.keys("Enter")
        tmux.wait_text("human-42", timeout=30)
        tmux.wait_for(lambda s: any("step 2" in line and " human " in line for line in s.splitlines()),
                      "the human step card", timeout=10)
        # hand back, then resume from the keyboard: the agent submits
        tmux.keys("C-o")
        tmux.wait_for(lambda s: "HUMAN: type the next" not in s, "the agent back in charge", timeout=10)
        tmux.keys("p")  # a key, not a letter typed into the command line: handing back moved the focus out of it
        screen = tmux.wait_for(lambda s: "ended: submitted" in status_line(s), "ended: submitted", timeout=120)
        assert "submit" in screen

        run_dir, events = read_events(runs)
        steps = [(e["author"], e["action"]) for e in events if e["type"] == "step"]
        assert ("agent" in steps[0][0] or steps[0][0] == "default") and steps[0][1] == "echo agent-one"
        assert ("human", "echo human-$((20+22))") in steps
        human = next(e for e in events if e["type"] == "step" and e["author"] == "human")
        assert "human-42" in human["observation"]
        ended = [e for e in events if e["type"] == "episode_ended"]
        assert ended and ended[-1]["exit_status"] == "submitted"
        assert (run_dir / "results.json").exists() and list(run_dir.glob("*.traj"))
    finally:
        tmux.close()


def test_play_battle_of_sexes_cat_validate_submit_and_the_terminal(engine_under_test, tmux_env):
    env, runs = tmux_env(engine_under_test)
    tmux = Tmux([str(MLGYM_TUI), "play", "battleOfSexes"], env, REPO)
    try:
        screen = tmux.wait_for(lambda s: "HUMAN" in status_line(s) and "mlgym-" in status_line(s),
                               "the human episode with its container", timeout=120)
        assert f"engine {engine_under_test}" in status_line(screen)
        tmux.wait_text("HUMAN: type the next", timeout=30)
        tmux.type("cat strategy.py")
        tmux.keys("Enter")
        tmux.wait_text("def row_strategy", timeout=30)
        tmux.type("validate")
        tmux.keys("Enter")
        # the score lands in the transcript (scoring takes seconds: a fresh evaluation container, 120k proxied calls)
        screen = tmux.wait_text("VALIDATED", timeout=180)

        # the interactive terminal (f6): a real shell, and its escape sequences stay in its pane
        title_before = tmux.pane_title()
        tmux.keys("F6")
        tmux.wait_text("terminal: bash -l as agent", timeout=30)
        tmux.wait_for(lambda s: "agent@" in s, "the terminal's prompt", timeout=30)
        tmux.type("echo $((6*7))")
        tmux.keys("Enter")
        tmux.wait_for(lambda s: has_cell(s, "42"), "42 in the terminal pane", timeout=30)
        hostile = r"printf '\033]0;pwned\007\033]2;pwned\007\033[2J\033[HPWN-DONE\n'"
        tmux.type(hostile)
        tmux.keys("Enter")
        screen = tmux.wait_text("PWN-DONE", timeout=30)
        time.sleep(0.5)
        assert tmux.pane_title() == title_before and "pwned" not in tmux.pane_title()
        assert "HUMAN" in status_line(tmux.screen()) and "battleOfSexes" in status_line(tmux.screen())
        after = tmux.screen()
        assert "VALIDATED" in after and "cat strategy.py" in after  # the transcript is intact
        tmux.keys("F6")
        tmux.wait_for(lambda s: "terminal: bash -l" not in s, "the terminal pane to close", timeout=15)

        tmux.type("submit")
        tmux.keys("Enter")
        tmux.wait_for(lambda s: "ended: submitted" in status_line(s), "ended: submitted", timeout=180)

        run_dir, events = read_events(runs)
        steps = [(e["author"], e["action"]) for e in events if e["type"] == "step"]
        assert steps == [("human", "cat strategy.py"), ("human", "validate"), ("human-terminal", "echo $((6*7))"),
                         ("human-terminal", hostile), ("human", "submit")]  # the f6 terminal's lines are steps too
        ended = [e for e in events if e["type"] == "episode_ended"]
        assert ended and ended[-1]["exit_status"] == "submitted"
        results = json.loads((run_dir / "results.json").read_text())
        assert results["agent"] and "Score" in results["agent"][-1]
    finally:
        tmux.close()


def test_results_tui_command_opens_a_run(tmux_env, tmp_path):
    from test_tui_results import write_runs

    env, _ = tmux_env("local")
    folder = tmp_path / "published-runs"
    runs = write_runs(folder)
    tmux = Tmux([str(MLGYM_TUI), "results", str(folder), "--tui"], env, REPO)
    try:
        screen = tmux.wait_text("performance profile: best attempt", timeout=30)
        assert "8 runs (7 scored), 3 tasks, 2 models" in screen
        assert "20* / 20*" in screen and "1.2 / 1.1" in screen and "problems: 1" in screen
        assert "m-alpha (AUP" in screen
        tmux.keys("Down", "Enter")  # battleOfSexes x m-alpha: the best run opens in the replay screen
        screen = tmux.wait_for(lambda s: "REPLAY" in status_line(s) and "battleOfSexes" in status_line(s),
                               "the replay screen", timeout=30)
        assert "m-alpha" in status_line(screen) and "ended: submitted" in status_line(screen)
        assert runs["alpha-bos-1"].exists()
        tmux.keys("Escape")
        tmux.wait_text("performance profile: best attempt", timeout=10)
        tmux.keys("q")
        tmux.wait_text("EXITED-0", timeout=15)
    finally:
        tmux.close()


def test_play_with_a_time_limit_validates_then_autosubmits_at_the_limit(engine_under_test, tmux_env, tmp_path):
    from quick_game import quick_game_dir

    env, runs = tmux_env(engine_under_test)
    settings = Path(env["MLGYM_TUI_CONFIG_DIR"]) / "settings.yaml"
    settings.write_text(settings.read_text() + f"task_dirs: [{quick_game_dir(tmp_path)}]\n")
    tmux = Tmux([str(MLGYM_TUI), "play", "quickGame", "--time-limit", "20s", "--who", "tester"], env, REPO)
    try:
        tmux.wait_for(lambda s: "HUMAN" in status_line(s) and "mlgym-" in status_line(s) and " left" in status_line(s),
                      "the human episode with its container and the time left", timeout=60)
        tmux.wait_text("HUMAN: type the next", timeout=10)
        tmux.type("validate")
        tmux.keys("Enter")
        tmux.wait_text("VALIDATED", timeout=20)
        tmux.wait_text("at the limit your last valid submission", timeout=20)  # the warning at half of 20 s
        tmux.wait_text("Session over", timeout=30)  # the limit: auto-submitted, then the note dialog
        tmux.type("tried the starter strategy")
        tmux.keys("Enter")
        tmux.wait_text("saved human.json", timeout=10)
        screen = tmux.screen()
        assert "ended: autosubmission" in status_line(screen) and " left" not in status_line(screen)

        run_dir, events = read_events(runs)
        started = next(e for e in events if e["type"] == "episode_started")
        assert started["who"] == "tester" and started["wall_time_s"] == 20
        assert [e["action"] for e in events if e["type"] == "step"][0] == "validate"
        final = [e for e in events if e["type"] == "validation_scored" and e.get("final")]
        assert final, "the last valid submission was not scored at the limit"
        ended = [e for e in events if e["type"] == "episode_ended"][-1]
        assert "exit_time" in ended["exit_status"] and ended["exit_status"].startswith("autosubmission")
        human = json.loads((run_dir / "human.json").read_text())
        assert human == {"who": "tester", "note": "tried the starter strategy", "time_limit_s": 20.0}
    finally:
        tmux.close()


def test_play_rejects_a_bad_time_limit(tmux_env):
    env, _ = tmux_env("local")
    done = subprocess.run([str(MLGYM_TUI), "play", "quickGame", "--time-limit", "2 hours"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mlgym-tui: error: --time-limit: '2 hours' is not a duration; write it like 90m, 2h, 1h30m or 45s"]
