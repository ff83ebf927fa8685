"""The TUI driven by recorded events and real tasks (no container): rendering, safety, scale, themes, keys."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import yaml

from mlgym_tui.stream import events as ev
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.sample_events import T0, many_steps, sample_episode
from mlgym_tui.tui.screens.episode import EpisodeScreen
from mlgym_tui.tui.screens.help import HelpScreen
from mlgym_tui.tui.screens.task_browser import TaskBrowser
from mlgym_tui.tui.widgets.metrics_pane import MetricsPane
from mlgym_tui.tui.widgets.step_card import StepCard
from mlgym_tui.tui.widgets.transcript import WINDOW, Transcript

SIZE = (120, 40)


def episode_app(events, **kw) -> MLGymApp:
    return MLGymApp(deterministic=True, start_screen=EpisodeScreen(events=events, clock=lambda: T0 + 100), **kw)


def painted(widget) -> str:
    """What a widget paints, as plain text lines."""
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


def card_text(card: StepCard) -> str:
    from rich.console import Console

    console = Console(width=100, record=True, color_system=None, file=open("/dev/null", "w"))
    console.print(card.build())
    return console.export_text()


async def test_episode_screen_renders_cards_badges_scores_and_metrics():
    app = episode_app(sample_episode(6))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        cards = list(screen.query(StepCard))
        assert [c.step_view.step for c in cards] == [1, 2, 3, 4, 5, 6]
        assert cards[4].step_view.author == "human" and cards[4].has_class("-human")
        assert "exit 1" in card_text(cards[3]) and "exit 0" in card_text(cards[0])
        # validation at step 3 and 6: above the 1.0227 baseline only at step 6
        assert "▼ below baseline" in card_text(cards[2]) and cards[2].has_class("-validated")
        assert "▲ beats baseline" in card_text(cards[5])
        # the 30-line observation of step 2 is folded; enter expands it
        assert "more lines (enter or click to expand)" in card_text(cards[1])
        assert "line 20" not in card_text(cards[1])
        cards[1].focus()
        await pilot.press("enter")
        assert "line 20" in card_text(cards[1])
        text = painted(screen.query_one("#metrics-figures"))
        assert "6 of 10" in text and "5,421 in / 240 out" in text and "1.04" in text and "submitted" in text
        assert screen.query_one("#status-bar").detail.startswith("engine docker")


def with_trust(events: list[ev.Event], trust: str, reason: str = "") -> list[ev.Event]:
    return [dataclasses.replace(events[0], trust=trust, trust_reason=reason), *events[1:]]


def styles_of(text, word: str) -> str:
    """The styles of the spans that cover `word` in a rich Text."""
    at = text.plain.index(word)
    return " ".join(str(span.style) for span in text.spans if span.start <= at < span.end)


async def test_metrics_pane_shows_the_episode_trust_label_and_warns_when_not_isolated():
    reason = "evaluate.py loads the agent's model files and code in its own process"
    app = episode_app(with_trust(sample_episode(3), "in-process", reason))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = app.screen.query_one(MetricsPane)
        assert "trust  in-process (evaluate.py loads" in painted(pane.query_one("#metrics-figures"))
        assert "yellow" in styles_of(pane.figures(), "in-process")
    app = episode_app(with_trust(sample_episode(3), "isolated", "the submission is data"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = app.screen.query_one(MetricsPane)
        text = painted(pane.query_one("#metrics-figures"))
        assert "trust  isolated" in text and "the submission is data" not in text
        assert "yellow" not in styles_of(pane.figures(), "isolated")
    app = episode_app(sample_episode(3))  # recorded before trust labels: no line at all
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "trust" not in painted(app.screen.query_one("#metrics-figures"))


async def test_tokens_stream_into_the_live_card_before_the_response():
    events = sample_episode(1, with_end=False)
    cut = next(i for i, e in enumerate(events) if isinstance(e, ev.ModelResponse))
    app = episode_app(events[:cut - 3])
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        live = screen.query_one("#live-card")
        assert live.display and "Step 1: I will" in painted(live)
        assert "thinking" in painted(live)
        screen.feed(events[cut - 3:cut])
        await pilot.pause(0.15)  # the flush timer coalesces the burst
        assert "score." in painted(live)
        assert app.screen.query_one("#status-bar").busy == "waiting for the model"


async def test_escape_sequences_in_output_and_observations_render_harmlessly():
    app = episode_app(sample_episode(1, hostile=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        shell = screen.query_one("#shell-view")
        painted = shell.terminal.render()
        assert "\x1b" not in painted.plain and "\x9b" not in painted.plain
        # the text is shown; its cursor move to (999, 999) was clamped inside the pane's virtual screen
        assert "oomC1" in painted.plain
        width = shell.size.width
        assert all(len(line) <= width for line in painted.plain.split("\n"))
        assert max(len(line) for line in painted.plain.split("\n")) == width  # "b" landed in the last column
        # styles survive as Rich styles, not escape bytes
        assert any(span.style and "color(2)" in str(span.style) for line in shell.terminal.render_lines()
                   for span in line.spans)
        assert app.title == "MLGym"  # the OSC title change went to pyte, not the real terminal
        first = list(screen.query(StepCard))[0]
        text = card_text(first)
        assert "\x1b" not in text and "PWNED" not in text and "\x07" not in text
        # and every painted line of the whole screen is free of control bytes
        svg = app.export_screenshot()
        assert "PWNED" not in svg and "\x1b" not in svg


async def test_five_thousand_steps_stay_windowed_and_keys_still_round_trip():
    app = episode_app(many_steps(5000))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert len(screen.model.steps) == 5000
        cards = list(screen.query(StepCard))
        assert len(cards) == WINDOW and cards[-1].step_view.step == 5000
        transcript = screen.query_one(Transcript)
        transcript.focus()
        await pilot.press("left_square_bracket")
        assert [c.step_view.step for c in screen.query(StepCard)][-1] == 5000 - WINDOW
        await pilot.press("right_square_bracket")
        assert [c.step_view.step for c in screen.query(StepCard)][-1] == 5000
        # more events while showing 5,000 steps: a key press still gets through and the pane toggles
        screen.feed(many_steps(5100)[5001:])
        await pilot.press("2")
        assert not screen.query_one("#shell-pane").display
        await pilot.press("2")
        assert screen.query_one("#shell-pane").display
        assert len(list(screen.query(StepCard))) == WINDOW
        assert list(screen.query(StepCard))[-1].step_view.step == 5100


async def test_controls_without_a_live_episode_notify_instead_of_crashing():
    app = episode_app(sample_episode(2))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await pilot.pause()
        assert any("no live episode" in n.message for n in app._notifications)


async def loaded(app, pilot) -> None:
    """The browser reads tasks, then runs, on worker threads after its first paint."""
    while not getattr(app.screen, "loaded", True):
        await pilot.pause(0.01)
    await app.workers.wait_for_complete()
    await pilot.pause()


def make_run(runs: Path, task_id: str, agent: str, score: float, status: str, trust: str = "") -> Path:
    from mlgym_tui.trajectory import Recorder

    folder = runs / f"20250102-030405__gpt-4o__{task_id}__{agent}"
    folder.mkdir(parents=True)
    with Recorder(folder, task_id, {"agent": agent}) as recorder:
        recorder(ev.EpisodeStarted(run_id=folder.name, task_id=task_id, agent=agent, model="gpt-4o", mode="auto",
                                   engine="docker", max_steps=5, cost_limit=1.0, baseline={"Score": 1.0227},
                                   metrics=[{"name": "Score", "direction": "maximize", "primary": True}],
                                   trust=trust, trust_reason="why" if trust else ""))
        recorder(ev.ValidationScored(step=1, metrics={"Score": score}, baseline={"Score": 1.0227}, final=True))
        recorder(ev.EpisodeEnded(exit_status=status, score=[{"Score": score}]))
    return folder


async def test_task_browser_filters_shows_details_and_past_runs(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "battleOfSexes", "default", 1.2, "submitted")
    app = MLGymApp(deterministic=True, runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        browser = app.screen
        assert isinstance(browser, TaskBrowser) and len(browser.shown) == len(browser.tasks) >= 8
        await pilot.press("slash", *"battle")
        await pilot.pause()
        assert [t.id for t in browser.shown] == ["battleOfSexes"]
        details = painted(browser.query_one("#task-details-body"))
        assert "Score (maximize)" in details and "Battle of" in details
        table = browser.query_one("#runs-table")
        assert table.row_count == 1
        row = table.get_row_at(0)
        assert row[0] == "2025-01-02 03:04" and row[3] == "submitted" and "▲" in str(row[4])
        assert str(row[4]).endswith("▲")  # recorded before trust labels: no label shown
        await pilot.press("escape")  # leave the filter box: nothing happens
        browser.query_one("#task-filter").value = "maximize-nothing-matches"
        await pilot.pause()
        assert browser.shown == [] and browser.query_one("#runs-table").row_count == 0


async def test_past_runs_show_a_trust_label_that_is_not_isolated(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "battleOfSexes", "default", 1.2, "submitted", trust="in-process")  # through the recorder
    app = MLGymApp(deterministic=True, runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        await pilot.press("slash", *"battle")
        await pilot.pause()
        assert str(app.screen.query_one("#runs-table").get_row_at(0)[4]) == "1.2 ▲ in-process"


async def test_task_browser_filter_typed_at_full_speed_after_slash(tmp_path):
    """Keys queued together (a paste, tmux send-keys) land in the filter, / included; none starts an episode
    (s, h) on the way."""
    from textual import events

    app = MLGymApp(deterministic=True, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app, pilot)
        browser = app.screen
        for char in "/sh/x":
            app.post_message(events.Key("slash" if char == "/" else char, char))  # all queued at once
        await pilot.pause(0.2)
        assert app.screen is browser and browser.query_one("#task-filter").value == "sh/x"


async def test_start_dialog_returns_the_chosen_settings(tmp_path):
    app = MLGymApp(deterministic=True, runs_dir=tmp_path)
    captured = []
    async with app.run_test(size=SIZE) as pilot:
        app.start_episode = captured.append  # capture the request instead of starting a container
        await loaded(app, pilot)
        await pilot.press("s")
        await pilot.pause()
        dialog = app.screen
        dialog.query_one("#start-model").value = "openai/my-model"
        dialog.query_one("#start-max-steps").value = "7"
        dialog.query_one("#start-cost-limit").value = "0.5"
        dialog.query_one("#start-mode").value = "confirm"
        dialog.query_one("#start-engine").value = "local"
        await pilot.click("#start-go")
        await pilot.pause()
    request = captured[0]
    assert (request.task_id, request.model, request.max_steps, request.cost_limit, request.mode, request.engine) == (
        "battleOfSexes", "openai/my-model", 7, 0.5, "confirm", "local")


async def test_human_episode_from_the_browser_requests_human_mode(tmp_path):
    app = MLGymApp(deterministic=True, runs_dir=tmp_path)
    captured = []
    async with app.run_test(size=SIZE) as pilot:
        app.start_episode = captured.append
        await loaded(app, pilot)
        await pilot.press("h")
    assert captured[0].mode == "human" and captured[0].agent == "human"


async def test_help_lists_every_binding_with_user_keymap(monkeypatch):
    from mlgym_tui.config.settings import settings_path
    from mlgym_tui.tui.actions import ACTIONS

    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(yaml.safe_dump({"keymap": {"help": "f9", "pause": "ctrl+y"}}))
    app = MLGymApp(deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")  # rebound away
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f9")
        assert isinstance(app.screen, HelpScreen)
        from rich.console import Console

        console = Console(width=160, record=True, color_system=None)
        console.print(app.screen.table())
        text = console.export_text()
        for action in ACTIONS:
            assert action.id in text
        assert "ctrl+y" in text and "f9" in text
        await pilot.press("escape")
        assert isinstance(app.screen, TaskBrowser)


async def test_bindings_show_in_the_command_palette():
    app = episode_app(sample_episode(1))
    async with app.run_test(size=SIZE):
        names = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Pause/resume", "Step once", "Auto", "Confirm", "Human", "Take over/hand back",
                       "Inject command", "Message agent", "Interrupt command", "Stop episode", "Help: all keys"):
            assert wanted in names


async def test_themes_load_user_theme_and_bad_file_notifies():
    from mlgym_tui.config.settings import config_dir, settings_path

    themes = config_dir() / "themes"
    themes.mkdir(parents=True)
    (themes / "mine.yaml").write_text(yaml.safe_dump({"name": "mine", "primary": "#ff0000", "dark": True}))
    (themes / "broken.yaml").write_text("name: broken\nprimary: not-a-colour\n")
    (themes / "garbage.yaml").write_text(": : :\n  - [")
    settings_path().write_text(yaml.safe_dump({"theme": "mine"}))
    app = MLGymApp(deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert {"mlgym-dark", "mlgym-light", "mine"} <= set(app.available_themes)
        assert app.theme == "mine"
        messages = " ".join(n.message for n in app._notifications)
        assert "broken.yaml" in messages and "garbage.yaml" in messages
        app.theme = "mlgym-light"
        await pilot.pause()
        assert app.current_theme.dark is False


async def test_default_theme_is_mlgym_dark_and_unknown_theme_falls_back():
    from mlgym_tui.config.settings import settings_path

    app = MLGymApp(deterministic=True)
    async with app.run_test(size=SIZE):
        assert app.theme == "mlgym-dark"
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(yaml.safe_dump({"theme": "nope"}))
    app = MLGymApp(deterministic=True)
    async with app.run_test(size=SIZE):
        assert app.theme == "mlgym-dark"
        assert any("'nope' not found" in n.message for n in app._notifications)


async def test_quit_key():
    app = MLGymApp(deterministic=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


def test_cli_has_play_and_core_import_does_not_pull_textual_or_litellm():
    import subprocess
    import sys

    code = ("import sys; import mlgym_tui.cli as c; p = c.build_parser(); "
            "a = p.parse_args(['play', 'battleOfSexes', '--engine', 'local']); "
            "assert a.task_id == 'battleOfSexes' and a.engine == 'local'; "
            "assert 'textual' not in sys.modules and 'litellm' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
    code = "import sys; import mlgym_tui.tui.app; assert 'litellm' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plain_thoughts_skip_markdown_but_render_the_same():
    from rich.console import Console
    from rich.markdown import Markdown

    from mlgym_tui.tui.widgets.step_card import thought_renderable

    console = Console(width=50, file=io.StringIO(), color_system="truecolor")

    def lines(renderable) -> list[str]:
        return ["".join(s.text for s in line) for line in console.render_lines(renderable, console.options)]

    plain = ["Next I train.", "I look at the data first.\nThen train a model\non it.", "One.\n\n\nTwo\ncontinued.",
             "a long thought that wraps " * 8, "  indented lead\nline two"]
    for thought in plain:
        assert not isinstance(thought_renderable(thought), Markdown)
        assert lines(thought_renderable(thought)) == lines(Markdown(thought)), thought
    for thought in ["I will **try** it", "run `ls`", "- one\n- two", "1. first", "# Plan", "see [docs](x)", "a & b"]:
        assert isinstance(thought_renderable(thought), Markdown), thought
