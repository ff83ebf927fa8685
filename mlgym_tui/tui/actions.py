"""Every key binding of the app in one registry: its id, default key(s), action, description and where it applies.

Screens, dialogs and widgets take their BINDINGS from here (`bindings_for("replay")`), the help screen lists the
whole registry and the command palette names what it offers from it. The id is the name a user rebinds in
settings.yaml `keymap:` (Textual applies the keymap by binding id), so an id is never reused for another action.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    id: str  # the name settings.yaml `keymap:` rebinds
    keys: str  # default key(s), comma-separated, in Textual's key names
    action: str  # the Textual action string run on the node that owns the binding
    description: str
    contexts: tuple[str, ...]  # where it applies: keys of CONTEXTS
    show: bool = True  # shown in the footer
    priority: bool = False  # handled before the focused widget sees the key

    def binding(self) -> Binding:
        return Binding(self.keys, self.action, self.description, show=self.show, priority=self.priority, id=self.id)


# context -> how the help screen names it, in the order the help screen lists them
CONTEXTS: dict[str, str] = {
    "app": "everywhere",
    "task_browser": "task browser",
    "episode": "episode",
    "transcript": "transcript",
    "step_card": "step card",
    "workspace": "workspace pane",
    "replay": "replay",
    "fork_episode": "fork (live)",
    "fork_dialog": "fork dialog",
    "report": "report",
    "results": "results",
    "compare": "compare runs",
    "start_dialog": "start dialog",
    "prompt": "prompt",
    "choice": "confirmation",
    "note": "end-of-session note",
    "file_picker": "open a run",
    "help": "help",
}

_EPISODE = ("episode",)
_PANES = ("episode", "replay")  # the episode body's panes: the live screen and the replay show the same ones

ACTIONS: tuple[Action, ...] = (
    # ------------------------------------------------------------ everywhere
    Action("quit", "q", "quit", "Quit", ("app",)),
    Action("quit_now", "ctrl+q", "quit", "Quit", ("app",), show=False, priority=True),
    Action("help", "f1", "help", "Help", ("app",), priority=True),
    Action("help_alt", "question_mark", "help", "Help", ("app",), show=False),
    Action("theme", "ctrl+t", "pick_theme", "Theme", ("app",), show=False),
    Action("results", "R", "results", "Results across runs", ("app",), show=False),
    # ------------------------------------------------------------ task browser
    Action("start_episode", "s", "start", "Start episode", ("task_browser",)),
    Action("start_human", "h", "start_human", "Human episode", ("task_browser",)),
    # priority: handled as the key arrives, so the keys typed after it already go to the filter
    Action("filter", "slash", "focus_filter", "Filter", ("task_browser",), priority=True),
    Action("reload_runs", "f5", "reload_runs", "Reload runs", ("task_browser",)),
    Action("open_run", "o", "open_run", "Open run", ("task_browser",)),
    Action("running_episode", "e", "running_episode", "Back to running episode", ("task_browser",)),
    Action("attach_episode", "a", "attach", "Attach to running episode", ("task_browser",)),
    # ------------------------------------------------------------ the live episode
    Action("pause", "p", "pause", "Pause/resume", _EPISODE),
    Action("step_once", "n", "step_once", "Step once", _EPISODE),
    Action("mode_auto", "f2", "set_mode('auto')", "Auto", _EPISODE, priority=True),
    Action("mode_confirm", "f3", "set_mode('confirm')", "Confirm", _EPISODE, priority=True),
    Action("mode_human", "f4", "set_mode('human')", "Human", _EPISODE, priority=True),
    Action("take_over", "ctrl+o", "take_over", "Take over/hand back", _EPISODE, priority=True),
    Action("inject", "i", "inject", "Inject command", _EPISODE),
    Action("message", "m", "message", "Message agent", _EPISODE),
    Action("interrupt", "ctrl+b", "interrupt", "Interrupt command", _EPISODE, priority=True),
    # not priority: in a text box ctrl+k is readline's "delete to end of line", never "stop"; stopping asks first
    Action("stop", "ctrl+k", "stop", "Stop episode", _EPISODE),
    Action("approve", "a", "approve", "Approve", _EPISODE),
    Action("edit", "e", "edit", "Edit action", _EPISODE),
    Action("run_edited", "ctrl+r", "run_edited", "Run edited", _EPISODE, show=False, priority=True),
    Action("reject", "r", "reject", "Reject", _EPISODE),
    Action("limit", "l", "limit", "Set limit", _EPISODE, show=False),
    Action("terminal", "f6", "toggle_terminal", "Terminal", _EPISODE, show=False, priority=True),
    # attached viewers (mlgym-tui attach): one holds control at a time; shown only when they apply
    Action("request_control", "ctrl+g", "request_control", "Request control", _EPISODE, priority=True),
    Action("give_control", "ctrl+y", "give_control", "Give control", _EPISODE),
    Action("release_control", "ctrl+l", "release_control", "Release control", _EPISODE),
    Action("toggle_transcript", "1", "toggle_pane('transcript-pane')", "Transcript", _PANES, show=False),
    Action("toggle_shell", "2", "toggle_pane('shell-pane')", "Shell", _PANES, show=False),
    Action("toggle_metrics", "3", "toggle_pane('metrics-pane')", "Metrics", _PANES, show=False),
    Action("toggle_workspace", "4", "toggle_pane('workspace-pane')", "Workspace", _PANES, show=False),
    Action("zoom", "z", "zoom", "Zoom pane", _PANES, show=False),
    Action("back", "escape", "back", "Leave (it keeps running)", _EPISODE, show=False),
    # ------------------------------------------------------------ the transcript and its cards
    Action("transcript_earlier", "left_square_bracket", "earlier", "Earlier steps", ("transcript",)),
    Action("transcript_later", "right_square_bracket", "later", "Later steps", ("transcript",)),
    Action("card_toggle", "enter", "toggle", "Fold/unfold the observation", ("step_card",), show=False),
    # ------------------------------------------------------------ the workspace pane's tree
    Action("workspace_open", "enter", "open", "Show the file (a folder: open/close)", ("workspace",), show=False),
    Action("workspace_diff", "d", "diff", "The file's diff against the previous step", ("workspace",)),
    Action("workspace_close", "escape", "close_preview", "Close the file shown", ("workspace",), show=False),
    # ------------------------------------------------------------ replay
    Action("replay_next", "right", "step(1)", "Next", ("replay",)),
    Action("replay_previous", "left", "step(-1)", "Previous", ("replay",)),
    Action("replay_next_alt", "full_stop", "step(1)", "Next", ("replay",), show=False),
    Action("replay_previous_alt", "comma", "step(-1)", "Previous", ("replay",), show=False),
    Action("replay_first", "home,g", "first", "First", ("replay",), show=False),
    Action("replay_last", "end,G", "last", "Last", ("replay",), show=False),
    Action("replay_goto", "colon", "goto", "Go to step", ("replay",)),
    # priority: handled as the key arrives, so the keys typed after it already go to the search box
    Action("replay_search", "slash", "search", "Search", ("replay",), priority=True),
    Action("replay_next_match", "n", "match(1)", "Next match", ("replay",), show=False),
    Action("replay_previous_match", "N", "match(-1)", "Previous match", ("replay",), show=False),
    Action("replay_next_failure", "x", "jump('failure', 1)", "Next failure", ("replay",)),
    Action("replay_previous_failure", "X", "jump('failure', -1)", "Previous failure", ("replay",), show=False),
    Action("replay_next_validation", "v", "jump('validation', 1)", "Next validation", ("replay",), show=False),
    Action("replay_previous_validation", "V", "jump('validation', -1)", "Previous validation", ("replay",),
           show=False),
    Action("replay_next_human", "u", "jump('human', 1)", "Next human step", ("replay",), show=False),
    Action("replay_previous_human", "U", "jump('human', -1)", "Previous human step", ("replay",), show=False),
    Action("replay_author", "a", "cycle_author", "Author filter", ("replay",)),
    Action("replay_follow", "t", "toggle_follow", "Follow", ("replay",)),
    Action("replay_fork", "f", "fork", "Fork here", ("replay",)),
    Action("replay_cast", "c", "play_cast", "Play terminal recording", ("replay",), show=False),
    Action("replay_cast_speed", "C", "cast_speed", "Terminal recording speed", ("replay",), show=False),
    Action("replay_back", "escape", "back", "Back", ("replay",), show=False),
    # ------------------------------------------------------------ forks
    Action("fork_divergences", "f6", "divergences", "Divergences", ("fork_episode",)),
    Action("fork_cancel", "escape", "cancel", "Cancel", ("fork_dialog",)),
    Action("fork_as_agent", "ctrl+a", "choose('agent')", "Agent continues", ("fork_dialog",), priority=True),
    Action("fork_as_human", "ctrl+u", "choose('human')", "Human continues", ("fork_dialog",), priority=True),
    Action("report_close", "escape", "close", "Close", ("report",)),
    # ------------------------------------------------------------ results across runs
    Action("results_open_best", "enter", "open_best", "Open best run", ("results",), show=False),
    Action("results_open", "o", "open_best", "Open best run", ("results",)),
    Action("results_open_last", "l", "open_last", "Open last-attempt run", ("results",)),
    Action("results_reload", "f5", "reload", "Reload", ("results",)),
    Action("results_back", "escape", "back", "Back", ("results",)),
    # not in the footer (the results snapshots stay as they were); in the help and the command palette
    Action("results_compare", "c", "mark_compare", "Compare two runs", ("results",), show=False),
    # ------------------------------------------------------------ compare two runs
    Action("compare_align", "i", "toggle_align", "Align by index/actions", ("compare",)),
    Action("compare_workspace_here", "w", "workspace_here", "Workspaces at this row", ("compare",)),
    Action("compare_workspace_final", "W", "workspace_final", "Final workspaces", ("compare",), show=False),
    Action("compare_back", "escape", "back", "Back", ("compare",)),
    # ------------------------------------------------------------ dialogs
    Action("start_cancel", "escape", "cancel", "Cancel", ("start_dialog",)),
    Action("prompt_cancel", "escape", "cancel", "Cancel", ("prompt",)),
    Action("choice_cancel", "escape", "cancel", "Cancel", ("choice",)),
    Action("note_skip", "escape", "skip", "Save without a note", ("note",)),
    Action("picker_cancel", "escape", "cancel", "Cancel", ("file_picker",)),
    Action("help_close", "escape", "close", "Close help", ("help",)),
)

BY_ID: dict[str, Action] = {a.id: a for a in ACTIONS}


def actions_for(context: str) -> list[Action]:
    if context not in CONTEXTS:
        raise KeyError(f"no binding context {context!r}; known: {', '.join(CONTEXTS)}")
    return [a for a in ACTIONS if context in a.contexts]


def bindings_for(context: str) -> list[Binding]:
    """The BINDINGS of a screen, dialog or widget: the registry's entries for `context`, in registry order."""
    return [a.binding() for a in actions_for(context)]


def help_order() -> list[Action]:
    """Every action once, grouped by its first context in CONTEXTS order (the help screen's rows)."""
    return sorted(ACTIONS, key=lambda a: list(CONTEXTS).index(a.contexts[0]))  # stable: registry order within


def where(action: Action) -> str:
    return ", ".join(CONTEXTS[c] for c in action.contexts)


def display_keys(keys: str) -> str:
    """Keys as a person reads them: `[` for left_square_bracket, `/` for slash, ..."""
    names = {"left_square_bracket": "[", "right_square_bracket": "]", "question_mark": "?", "slash": "/",
             "full_stop": ".", "comma": ",", "colon": ":"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in keys.split(","))


def keys_of(action: Action, keymap: dict[str, str]) -> str:
    """The keys that run `action` now: the user's keymap entry for its id, else its default keys."""
    return display_keys(keymap.get(action.id, action.keys))


def palette_entries(active_bindings: Iterable[tuple[str, object]]) -> Iterator[tuple[Action, str, object]]:
    """(registry action, key, node) for each binding active on a screen, once per action id: what the command
    palette offers. `active_bindings` is Screen.active_bindings.items() (key -> ActiveBinding)."""
    seen: set[str] = set()
    for key, active in active_bindings:
        binding = active.binding
        action = BY_ID.get(binding.id or "")
        if action is None or action.id in seen or action.action in ("quit", "help"):
            continue
        seen.add(action.id)
        yield action, key, active.node
