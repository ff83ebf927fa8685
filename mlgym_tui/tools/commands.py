"""The agent's commands as the prompt documents them, and how an action becomes a shell command.

Each command carries its signature and docstring here; the prompt's command documentation is
generated from them. The implementations run inside the container (tools/container/).
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path

CONTAINER_FILES = Path(__file__).resolve().parent / "container"


@dataclass(frozen=True)
class ToolCommand:
    name: str
    signature: str
    docstring: str
    end_marker: str | None = None  # multi-line commands end their body with this line


COMMANDS: list[ToolCommand] = [
    ToolCommand("open", 'open "<path>" [<line_number>]',
                "opens the file at the given path in the editor; with line_number, the window is moved to show that line"),
    ToolCommand("goto", "goto <line_number>", "moves the window to show <line_number>"),
    ToolCommand("scroll_down", "scroll_down", "moves the window down 100 lines"),
    ToolCommand("scroll_up", "scroll_up", "moves the window up 100 lines"),
    ToolCommand("create", "create <filename>\n[<content>\nend_of_create]",
                "creates and opens a new file with the given name; optional content lines follow, ended by end_of_create",
                "end_of_create"),
    ToolCommand("edit", "edit <start_line>:<end_line>\n<replacement_text>\nend_of_edit",
                "replaces lines <start_line> through <end_line> (inclusive) of the open file with the given text, "
                "ended by a line holding only end_of_edit. Python edits are checked with a linter: an edit that adds "
                "syntax errors or undefined names is refused with the reason. Mind the indentation.",
                "end_of_edit"),
    ToolCommand("insert", "insert <line_number>\n<text_to_add>\nend_of_insert",
                "inserts the text after <line_number> of the open file (0 inserts at the top), ended by end_of_insert",
                "end_of_insert"),
    ToolCommand("search_dir", 'search_dir "<search_term>" [<dir>]',
                "searches for search_term in all files in dir (default: the current directory)"),
    ToolCommand("search_file", 'search_file "<search_term>" [<file>]',
                "searches for search_term in file (default: the open file)"),
    ToolCommand("find_file", 'find_file "<file_name>" [<dir>]',
                "finds files whose name matches file_name (wildcards allowed) in dir (default: the current directory)"),
    ToolCommand("validate", "validate",
                "scores your current submission on the test set without ending the episode, and shows the baseline's score"),
    ToolCommand("submit", "submit", "scores your current submission and ends the episode; use it when you are done"),
]

# MLGym's memory module, offered when the task has a memory_path.
MEMORY_COMMANDS: list[ToolCommand] = [
    ToolCommand("memory_write", 'memory_write "<content>"',
                "saves important results, configs or findings to your persistent memory"),
    ToolCommand("memory_read", 'memory_read "<query>"',
                "shows the two memory records most similar to the query"),
]

DEFAULT_BLOCKLIST = ("vim", "vi", "nano", "emacs", "pico", "less", "more", "top", "htop", "man", "watch", "ssh",
                     "ftp", "telnet", "screen", "tmux", "gdb", "ipython", "jupyter")
# Programs that are interactive only when given no arguments.
DEFAULT_STANDALONE = ("python", "python3", "bash", "sh", "su", "sudo", "node", "irb")


def command_docs(memory: bool = False) -> str:
    parts = []
    for command in COMMANDS + (MEMORY_COMMANDS if memory else []):
        parts.append(f"{command.signature}\n  {command.docstring}")
    return "\n".join(parts)


def special_command(action: str) -> str | None:
    """'validate' or 'submit' when the action is exactly one of them."""
    word = action.strip()
    return word if word in ("validate", "submit") else None


def blocked_program(action: str, blocklist=DEFAULT_BLOCKLIST, standalone=DEFAULT_STANDALONE) -> str | None:
    """The interactive program the action would start, if any (whole command names, not prefixes)."""
    for part in re.split(r"\|\||&&|[;|&\n()]", action):
        try:
            words = shlex.split(part, comments=True)
        except ValueError:
            words = part.split()
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words = words[1:]  # VAR=value prefixes
        while words and words[0] in ("sudo", "nohup", "time", "env", "exec", "command") and len(words) > 1:
            words = words[1:]
        if not words:
            continue
        name = words[0].rsplit("/", 1)[-1]
        if name in blocklist:
            return name
        if name in standalone and len(words) == 1:
            return name
    return None


def blocked_message(program: str) -> str:
    return (f"Interactive program '{program}' is not available: it would wait for keyboard input that never comes. "
            "Use open/edit/create to change files, cat or head to read them, and run scripts non-interactively.")


def to_shell(action: str) -> str:
    """Turn multi-line tool commands (edit ... end_of_edit) into shell commands with a here-document body."""
    lines = action.strip("\n").split("\n")
    first = lines[0].strip()
    name = first.split(" ", 1)[0]
    command = next((c for c in COMMANDS if c.name == name and c.end_marker), None)
    if command is None or len(lines) == 1:
        return action
    body = lines[1:]
    if body and body[-1].strip() == command.end_marker:
        body = body[:-1]
    elif command.end_marker in (line.strip() for line in body):
        cut = [line.strip() for line in body].index(command.end_marker)
        rest = "\n".join(body[cut + 1:])
        return to_shell("\n".join([first, *body[:cut], command.end_marker])) + ("\n" + rest if rest.strip() else "")
    delimiter = f"MLGYM_BODY_{secrets.token_hex(4)}"
    return f"{first} <<'{delimiter}'\n" + "\n".join(body) + f"\n{delimiter}"
