"""What a batch shows while it runs: one row per (task, run).

A terminal gets a Rich Live table; a pipe or a log gets plain lines (a run starting, each step, a run ending).
Both read the same SlotProgress records, which the runner updates from each episode's event stream.

Every episode serves itself (mlgym_tui/control), so the table numbers the running rows it can attach to and, when
stdin is a terminal, the row's digit attaches: the table steps aside for `mlgym-tui attach RUN_DIR` run as a child
in the same terminal and comes back when it exits; the batch runs on meanwhile. Without a terminal to read keys
from, each run's start names its attach command instead.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

from mlgym_tui.control.endpoint import ENDPOINT_FILE

ATTACH_KEYS = "123456789"
ATTACH_CAPTION = "1-9: attach to a running episode"


@dataclass
class SlotProgress:
    task_id: str
    run_index: int
    status: str = "waiting"  # waiting | starting | running | <exit status> | skipped (<status>) | not started
    step: int = 0
    max_steps: int = 0
    cost: float = 0.0
    best: str = "-"
    run_dir: str = ""
    controller: object = None

    @property
    def label(self) -> str:
        return f"{self.task_id} run {self.run_index}"

    def refresh_from(self, controller) -> None:
        self.step = controller.step
        self.max_steps = controller.max_steps
        self.cost = controller.cost
        self.best = best_text(controller)


def attach_hint(run_dir: str) -> str:
    return f"mlgym-tui attach {run_dir}"


def attach_command(run_dir: str) -> list[str]:
    """The child the table steps aside for: this installation's `mlgym-tui attach RUN_DIR`."""
    return [sys.executable, "-m", "mlgym_tui.cli", "attach", run_dir]


def serves(slot: SlotProgress) -> bool:
    """Its episode serves a control endpoint here (one run on a Ray node does not)."""
    return bool(slot.run_dir) and os.path.exists(os.path.join(slot.run_dir, ENDPOINT_FILE))


def attachable(slots: list[SlotProgress]) -> list[SlotProgress]:
    """The running rows, in table order, that can be attached to: the ones numbered 1-9."""
    return [s for s in slots if s.status == "running" and serves(s)][:len(ATTACH_KEYS)]


def keys_available(stream=None) -> bool:
    """Keys can be read from `stream` (stdin): a terminal this process has in the foreground (a background job
    touching the terminal's modes would be stopped)."""
    stream = sys.stdin if stream is None else stream
    try:
        fd = stream.fileno()
        return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
    except (AttributeError, OSError, ValueError):
        return False


def best_text(controller) -> str:
    best = controller.best_score
    if not best:
        return "-"
    metric = controller.primary_metric
    name = metric["name"] if metric and metric.get("name") in best else next(iter(best))
    base = controller.baseline.get(name)
    base_text = f" (baseline {base:g})" if base is not None else ""
    return f"{name} {best[name]:g}{base_text}"


class BatchDisplay:
    """The live table (terminal) or line printer (anything else)."""

    def __init__(self, slots: list[SlotProgress], console, live: bool, quiet: bool = False, *,
                 keys: bool | None = None, key_fd: int | None = None, attach=attach_command) -> None:
        self.slots = slots
        self.quiet = quiet  # plain mode: only a line per finished run
        self.console = console
        self.live = live
        self._live = None
        self.keys = live and (keys_available() if keys is None else keys)  # 1-9 attach from the live table
        self.key_fd = sys.stdin.fileno() if self.keys and key_fd is None else key_fd
        self.attach_command = attach  # run_dir -> the child's argv
        self._reader = None
        self._attached: asyncio.Task | None = None  # the attach child, while it has the terminal
        self._held: list[str] = []  # notes that came while a child had the terminal
        self._closed = False

    # -- live table --------------------------------------------------------------------------------------------
    def render(self):
        from rich.table import Table

        table = Table(title="batch", title_justify="left", expand=False,
                      caption=ATTACH_CAPTION if self.keys else None, caption_justify="left")
        numbers = {id(s): str(n) for n, s in enumerate(attachable(self.slots), 1)}
        for name, justify in (("#", "right"), ("task", "left"), ("run", "right"), ("step", "right"),
                              ("cost", "right"), ("status", "left"), ("best score", "left")):
            table.add_column(name, justify=justify)
        for s in self.slots:
            step = f"{s.step}/{s.max_steps}" if s.max_steps else "-"
            style = {"running": "cyan", "starting": "cyan", "waiting": "dim"}.get(s.status)
            table.add_row(numbers.get(id(s), ""), s.task_id, str(s.run_index), step, f"${s.cost:.4f}", s.status,
                          s.best, style=style)
        return table

    def __enter__(self) -> "BatchDisplay":
        if self.live:
            self._start_live()
            if self.keys:
                self._reader = KeyReader(self.key_fd, asyncio.get_running_loop(), self.key_pressed)
                self._reader.start()
        return self

    def _start_live(self) -> None:
        from rich.live import Live

        self._live = Live(get_renderable=self.render, console=self.console, refresh_per_second=4)
        self._live.start(refresh=True)

    def __exit__(self, *exc) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.close()  # the terminal's modes as they were
            self._reader = None
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    # -- attaching from the table ------------------------------------------------------------------------------
    def slot_for_key(self, key: str) -> SlotProgress | None:
        if key not in ATTACH_KEYS:
            return None
        numbered = attachable(self.slots)
        index = ATTACH_KEYS.index(key)
        return numbered[index] if index < len(numbered) else None

    def key_pressed(self, key: str) -> None:
        """On the loop: a row's digit attaches to its episode; any other key is let be."""
        slot = self.slot_for_key(key)
        if slot is None or self._attached is not None or self._closed:
            if self._reader is not None:
                self._reader.resume()
            return
        self._attached = asyncio.get_running_loop().create_task(self.attach(slot), name=f"attach:{slot.label}")

    async def attach(self, slot: SlotProgress) -> int | None:
        """Step aside for the attach child until it exits; the batch goes on meanwhile. Its exit code."""
        if self._live is not None:
            self._live.transient = True  # the table is drawn afresh afterwards, not left above the child's screen
            self._live.stop()
        if self._reader is not None:
            self._reader.pause()
        code = None
        try:
            child = await asyncio.create_subprocess_exec(*self.attach_command(slot.run_dir))
            code = await child.wait()
        except OSError as exc:
            self._held.append(f"[{slot.label}] cannot attach: {exc}; run: {attach_hint(slot.run_dir)}")
        finally:
            self._attached = None
            self._come_back()
        return code

    def _come_back(self) -> None:
        """The table again (unless the batch ended meanwhile), with what was said while it was away above it."""
        held, self._held = self._held, []
        for text in held:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        if self._closed:
            return
        if self._live is not None:
            self._start_live()  # a fresh one: the stopped one would move up over the lines printed meanwhile
        if self._reader is not None:
            self._reader.resume()

    async def detached(self) -> None:
        """Once no attach child has the terminal (the batch's last lines wait for it)."""
        task = self._attached
        if task is not None:
            await asyncio.shield(task)

    # -- lines -------------------------------------------------------------------------------------------------
    def note(self, text: str) -> None:
        """A message for the user; above the live table, or a plain line; held while an attach child has the
        terminal."""
        if self._attached is not None:
            self._held.append(text)
            return
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _line(self, slot: SlotProgress, text: str) -> None:
        if not self.live:
            self.console.print(f"[{slot.label}] {text}", markup=False, highlight=False, soft_wrap=True)

    def started(self, slot: SlotProgress) -> None:
        if self.quiet:
            return
        hint = f"attach: {attach_hint(slot.run_dir)}" if serves(slot) else ""
        if not self.live:
            self._line(slot, f"started in {slot.run_dir}" + (f" ({hint})" if hint else ""))
        elif hint and not self.keys:  # a live table without keys to read: the command, once, above it
            self.note(f"[{slot.label}] started; {hint}")

    def stepped(self, slot: SlotProgress) -> None:
        if not self.quiet:
            self._line(slot, f"step {slot.step}/{slot.max_steps} cost ${slot.cost:.4f} best {slot.best}")

    def ended(self, slot: SlotProgress) -> None:
        text = f"{slot.status} after {slot.step} step(s), cost ${slot.cost:.4f}, best {slot.best}"
        if self.live:
            self.note(f"[{slot.label}] {text}")
        else:
            self._line(slot, text)


class KeyReader:
    """Single keys from a terminal, read in cbreak mode (no echo, no line editing; Ctrl-C still interrupts) on a
    daemon thread that only posts each key to `on_key` on the loop. After an attach key it stops reading until
    resume(): the keys that follow may be the attach child's. pause() and close() put the terminal's modes back."""

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop, on_key, pause_on: str = ATTACH_KEYS) -> None:
        import termios
        import threading

        self.fd, self.loop, self.on_key, self.pause_on = fd, loop, on_key, pause_on
        self._saved = termios.tcgetattr(fd)
        self._reading = threading.Event()
        self._closed = threading.Event()
        self._cbreak = False  # the terminal is in the mode set here (not while a child has it)
        self._thread = threading.Thread(target=self._run, name="batch-keys", daemon=True)

    def start(self) -> None:
        self.resume()
        self._thread.start()

    def resume(self) -> None:
        import termios
        import tty

        if self._closed.is_set():
            return
        tty.setcbreak(self.fd, termios.TCSADRAIN)  # not TCSAFLUSH (the default): keys typed meanwhile are kept
        self._cbreak = True
        self._reading.set()

    def pause(self) -> None:
        self._reading.clear()
        self._restore()

    def close(self) -> None:
        self._closed.set()
        self._reading.clear()
        if self._cbreak:  # never while paused: an attach child may have the terminal in a mode of its own
            self._restore()
        if self._thread.is_alive():
            self._thread.join(0.5)

    def _restore(self) -> None:
        import termios

        self._cbreak = False
        try:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
        except termios.error:
            pass  # the terminal is gone

    def _run(self) -> None:
        import select

        while not self._closed.is_set():
            if not self._reading.wait(0.1):
                continue
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if not ready or not self._reading.is_set():
                    continue
                data = os.read(self.fd, 1)
            except (OSError, ValueError):
                return
            if not data:
                return  # end of input
            key = data.decode("latin-1")
            if key in self.pause_on:
                self._reading.clear()
            try:
                self.loop.call_soon_threadsafe(self.on_key, key)
            except RuntimeError:
                return  # the loop is closed
