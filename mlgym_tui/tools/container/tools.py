"""The agent's file commands, run inside the task container as the agent user.

Invoked by the shell functions in tools.sh. State (the open file and the first line shown) lives in
~/.mlgym_state, which the shell functions source so that the episode sees it after every command.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

WINDOW = int(os.environ.get("MLGYM_WINDOW", "100"))
STATE = Path.home() / ".mlgym_state"
MAX_SEARCH_HITS = 100


def load_state():
    state = {"CURRENT_FILE": "", "CURRENT_LINE": "1"}
    if STATE.exists():
        for line in STATE.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in state:
                state[key] = shlex.split(value)[0] if value else ""
    return state


def save_state(current_file, current_line):
    STATE.write_text(f"CURRENT_FILE={shlex.quote(str(current_file))}\nCURRENT_LINE={int(current_line)}\n")


def fail(message):
    print(message)
    sys.exit(1)


def read_lines(path):
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except IsADirectoryError:
        fail(f"Error: {path} is a directory. Use ls to list it, or open a file inside it.")
    except OSError as exc:
        fail(f"Error: cannot read {path}: {exc.strerror}")


def current_file():
    path = load_state()["CURRENT_FILE"]
    if not path:
        fail("Error: no file is open. Use open <path> first.")
    if not Path(path).exists():
        fail(f"Error: the open file {path} no longer exists. Open another file.")
    return path


def show(path, first):
    lines = read_lines(path)
    total = len(lines)
    first = max(1, min(first, max(1, total - WINDOW + 1)))
    last = min(total, first + WINDOW - 1)
    print(f"[File: {path} ({total} lines total)]")
    if first > 1:
        print(f"({first - 1} more lines above)")
    for number in range(first, last + 1):
        print(f"{number}:{lines[number - 1]}")
    if last < total:
        print(f"({total - last} more lines below)")
    save_state(path, first)


def cmd_open(args):
    if not args:
        fail('Usage: open "<path>" [<line_number>]')
    path = os.path.abspath(args[0])
    if not os.path.exists(path):
        fail(f"Error: File {args[0]} not found. Use find_file or ls to locate it.")
    line = 1
    if len(args) > 1:
        if not args[1].isdigit() or int(args[1]) < 1:
            fail(f"Error: <line_number> must be a positive number, got {args[1]!r}")
        line = int(args[1])
    show(path, max(1, line - WINDOW // 2) if len(args) > 1 else 1)


def cmd_goto(args):
    if len(args) != 1 or not args[0].isdigit():
        fail("Usage: goto <line_number>")
    path = current_file()
    total = len(read_lines(path))
    line = int(args[0])
    if not 1 <= line <= max(1, total):
        fail(f"Error: <line_number> must be between 1 and {total}")
    show(path, max(1, line - WINDOW // 2))


def cmd_scroll(direction):
    path = current_file()
    first = int(load_state()["CURRENT_LINE"] or 1)
    show(path, first + direction * WINDOW)


def cmd_create(args, body):
    if len(args) != 1:
        fail("Usage: create <filename>")
    path = Path(args[0])
    if path.exists():
        fail(f"Error: File {args[0]} already exists. Open it and use edit instead.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if body.endswith("\n") or not body else body + "\n")
    show(str(path.resolve()), 1)


def lint(path, text):
    """Syntax errors and undefined names that pyflakes finds in text, as (line, message) pairs."""
    if not path.endswith(".py"):
        return []
    proc = subprocess.run([sys.executable, "-m", "pyflakes"], input=text, capture_output=True, text=True)
    problems = []
    # pyflakes reports syntax errors on stderr and everything else on stdout; of the latter only
    # undefined names break code, the rest (unused imports...) is style.
    for stream, only_undefined in ((proc.stderr, False), (proc.stdout, True)):
        for line in stream.splitlines():
            match = re.match(r"<stdin>:(\d+):(?:\d+:?)? ?(.*)", line)
            if match and (not only_undefined or "undefined name" in match.group(2)):
                problems.append((int(match.group(1)), match.group(2).strip()))
    return problems


def apply_edit(path, lines, start, end, replacement, verb):
    new_lines = lines[: start - 1] + replacement + lines[end:]
    new_text = "\n".join(new_lines) + ("\n" if new_lines else "")
    old_text = "\n".join(lines) + ("\n" if lines else "")
    before = {message for _, message in lint(path, old_text)}
    introduced = [(n, m) for n, m in lint(path, new_text) if m not in before]
    if introduced:
        print(f"Your proposed {verb} has introduced new syntax error(s). Please read this error message carefully and then retry.")
        print("ERRORS:")
        for number, message in introduced[:10]:
            print(f"- line {number}: {message}")
        print("\nThis is how your edit would have looked if applied")
        print("-------------------------------------------------")
        low = max(1, start - 5)
        high = min(len(new_lines), start + len(replacement) + 5)
        for number in range(low, high + 1):
            print(f"{number}:{new_lines[number - 1]}")
        print("-------------------------------------------------\n")
        print("Your changes have NOT been applied. Please fix your edit command and try again.")
        sys.exit(1)
    Path(path).write_text(new_text)
    show(path, max(1, start - WINDOW // 4))
    print("File updated. Please review the changes and make sure they are correct (correct indentation, no duplicate lines, etc). Edit the file again if necessary.")


def cmd_edit(args, body):
    if len(args) != 1 or not re.fullmatch(r"\d+:\d+", args[0]):
        fail("Usage: edit <start_line>:<end_line>, then the replacement lines, then end_of_edit")
    start, end = (int(x) for x in args[0].split(":"))
    path = current_file()
    lines = read_lines(path)
    if start < 1 or end < start - 1 or start > len(lines) + 1:
        fail(f"Error: lines {start}:{end} are out of range: the file has {len(lines)} lines (use start <= end, 1-based)")
    end = min(end, len(lines))
    apply_edit(path, lines, start, end, body.splitlines(), "edit")


def cmd_insert(args, body):
    if len(args) != 1 or not args[0].isdigit():
        fail("Usage: insert <line_number>, then the lines to insert, then end_of_insert")
    after = int(args[0])
    path = current_file()
    lines = read_lines(path)
    if after > len(lines):
        fail(f"Error: line {after} is past the end: the file has {len(lines)} lines")
    apply_edit(path, lines, after + 1, after, body.splitlines(), "insert")


def cmd_search_file(args):
    if not args or len(args) > 2:
        fail('Usage: search_file "<search_term>" [<file>]')
    path = args[1] if len(args) > 1 else current_file()
    lines = read_lines(path)
    hits = [(n, line) for n, line in enumerate(lines, 1) if args[0] in line]
    if not hits:
        print(f'No matches found for "{args[0]}" in {path}')
        return
    if len(hits) > MAX_SEARCH_HITS:
        fail(f'More than {MAX_SEARCH_HITS} lines matched for "{args[0]}" in {path}. Please narrow your search.')
    print(f'Found {len(hits)} matches for "{args[0]}" in {path}:')
    for number, line in hits:
        print(f"Line {number}:{line}")
    print(f'End of matches for "{args[0]}" in {path}')


def walk(folder):
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        for name in files:
            yield os.path.join(root, name)


def cmd_search_dir(args):
    if not args or len(args) > 2:
        fail('Usage: search_dir "<search_term>" [<dir>]')
    folder = args[1] if len(args) > 1 else "."
    if not os.path.isdir(folder):
        fail(f"Error: Directory {folder} not found")
    counts = {}
    for path in walk(folder):
        try:
            with open(path, encoding="utf-8", errors="ignore") as handle:
                count = sum(line.count(args[0]) for line in handle)
        except OSError:
            continue
        if count:
            counts[os.path.abspath(path)] = count
    if not counts:
        print(f'No matches found for "{args[0]}" in {os.path.abspath(folder)}')
        return
    if len(counts) > MAX_SEARCH_HITS:
        fail(f'More than {MAX_SEARCH_HITS} files matched for "{args[0]}" in {folder}. Please narrow your search.')
    print(f'Found {sum(counts.values())} matches for "{args[0]}" in {os.path.abspath(folder)}:')
    for path, count in sorted(counts.items()):
        print(f"{path} ({count} matches)")
    print(f'End of matches for "{args[0]}" in {os.path.abspath(folder)}')


def cmd_find_file(args):
    if not args or len(args) > 2:
        fail('Usage: find_file "<file_name>" [<dir>]')
    import fnmatch

    folder = args[1] if len(args) > 1 else "."
    if not os.path.isdir(folder):
        fail(f"Error: Directory {folder} not found")
    hits = [p for p in walk(folder) if fnmatch.fnmatch(os.path.basename(p), args[0])]
    if not hits:
        print(f'No matches found for "{args[0]}" in {os.path.abspath(folder)}')
        return
    print(f'Found {len(hits)} matches for "{args[0]}" in {os.path.abspath(folder)}:')
    for path in sorted(hits)[:MAX_SEARCH_HITS]:
        print(os.path.abspath(path))


def main():
    name, args = sys.argv[1], sys.argv[2:]
    body = sys.stdin.read() if name in ("edit", "insert", "create") and not sys.stdin.isatty() else ""
    if name == "open":
        cmd_open(args)
    elif name == "goto":
        cmd_goto(args)
    elif name == "scroll_down":
        cmd_scroll(+1)
    elif name == "scroll_up":
        cmd_scroll(-1)
    elif name == "create":
        cmd_create(args, body)
    elif name == "edit":
        cmd_edit(args, body)
    elif name == "insert":
        cmd_insert(args, body)
    elif name == "search_file":
        cmd_search_file(args)
    elif name == "search_dir":
        cmd_search_dir(args)
    elif name == "find_file":
        cmd_find_file(args)
    else:
        fail(f"Error: unknown tool {name}")


if __name__ == "__main__":
    main()
