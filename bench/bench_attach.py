"""Event latency from a served episode to attached viewers, against following its events.jsonl (a benchmark that
prints figures; not a test).

The episode runs in this process: a real Controller (the runner tests' fake environment: no container) with a
Recorder writing events.jsonl in a temporary run directory (output chunks recorded too, so that a follower of
the file sees every event) and a ControlServer. It emits an OutputChunk every --interval-ms on average, carrying
its sequence number and its emit time (time.time_ns(): one clock for every process on this host). Each viewer is
a process of its own:

- unix / tcp: a RemoteEpisode over the run's Unix socket or its TCP address (with the token), folding every
  event into an EpisodeModel as it arrives ("delivered+folded"), and applying it again when the episode screen
  would repaint it ("next repaint": at once after a quiet spell, else MIN_REPAINT_GAP_S after the last one).
- tail: follow mode's own watcher (FollowTail.watch_file: watchfiles on the run folder, the same debounce and
  step, plus its POLL_S poll) reading the new lines with EventTail, folding and ticking the same way.
- screen (a run of its own, unless --no-screen: one of the viewers on the Unix socket is a real EpisodeScreen in
  a headless MLGymApp): timestamped when its flush applies an event and at the first frame composited after
  that flush ("painted").

Latency = the viewer's time_ns() when it has the event - the emit time; warm-up events are not counted.

    uv run python bench/bench_attach.py [--events 200] [--viewers 1,10] [--interval-ms 20] [--no-screen]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mlgym_tui.stream import events as ev  # noqa: E402
from mlgym_tui.stream.model import EpisodeModel  # noqa: E402

WARMUP = 25  # events emitted first and not counted: connections, watchers and caches settle
MARK = "bench "
END = "bench end\n"
VIEWER_TIMEOUT_S = 30.0


def chunk(seq: int) -> ev.OutputChunk:
    return ev.OutputChunk(step=1, data=f"{MARK}{seq} {time.time_ns()}\r\n")


def parse(event: ev.Event) -> tuple[int, int] | None:
    """(sequence, emit time ns) of a benchmark chunk, else None (the episode's own events, the end marker)."""
    if not isinstance(event, ev.OutputChunk) or not event.data.startswith(MARK) or event.data == END:
        return None
    seq, sent = event.data[len(MARK):].split()
    return int(seq), int(sent)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ==================================================================================================== viewers


class Stamps:
    """What one viewer measured: per measure, the latency (ms) of every counted event."""

    def __init__(self) -> None:
        self.measures: dict[str, list[float]] = {}
        self.done = asyncio.Event()

    def add(self, measure: str, seq: int, sent: int, now: int | None = None) -> None:
        if seq >= WARMUP:
            self.measures.setdefault(measure, []).append(((now or time.time_ns()) - sent) / 1e6)


class FoldingViewer:
    """Folds each event into an EpisodeModel as it arrives, and applies it again when the episode screen would
    repaint it (its rule: at once after a quiet spell, else once the minimum gap since the last repaint passed)."""

    def __init__(self, stamps: Stamps, gap_s: float) -> None:
        self.model = EpisodeModel()
        self.ticked = EpisodeModel()
        self.stamps, self.gap_s = stamps, gap_s
        self.queue: list[ev.Event] = []
        self.due = False
        self.last = 0.0

    def receive(self, event: ev.Event) -> None:
        self.model.apply(event)
        self.queue.append(event)
        mark = parse(event)
        if mark is not None:
            self.stamps.add("delivered+folded", *mark)
        if not self.due:
            self.due = True
            asyncio.get_running_loop().call_later(max(0.0, self.last + self.gap_s - time.monotonic()), self.repaint)

    def repaint(self) -> None:
        self.due = False
        if not self.queue:
            return
        self.last = time.monotonic()
        batch, self.queue = self.queue, []
        self.ticked.apply_all(batch)
        self.ticked.drain_shell()
        now = time.time_ns()
        for event in batch:
            mark = parse(event)
            if mark is not None:
                self.stamps.add("next repaint", *mark, now=now)
            elif isinstance(event, ev.OutputChunk) and event.data == END:
                self.stamps.done.set()  # every event before the end has been repainted too

    async def tick(self) -> None:
        """Kept for the viewers' task lists: repaints are scheduled by `receive`."""
        await asyncio.Event().wait()


async def attach(target: str, token: str | None):
    from mlgym_tui.control.client import RemoteEpisode

    return await RemoteEpisode.attach(target, token=token, who=f"bench-{os.getpid()}@local")


async def remote_viewer(target: str, token: str | None, stamps: Stamps, flush_s: float) -> None:
    viewer = FoldingViewer(stamps, flush_s)
    remote = await attach(target, token)
    remote.subscribe(viewer.receive)
    await asyncio.wait_for(remote.history_done.wait(), 10)
    ticker = asyncio.get_running_loop().create_task(viewer.tick())
    ready()
    try:
        await asyncio.wait_for(stamps.done.wait(), VIEWER_TIMEOUT_S)
    finally:
        ticker.cancel()
        await remote.detach()


class Follower:
    """Stands in for the FollowTail widget around its own watcher: `changed()` schedules one read of the tail,
    as the widget posts one FileChanged message at a time, and the read's events go to the viewer."""

    def __init__(self, path: Path, on_events) -> None:
        from mlgym_tui.trajectory import EventTail

        self.tail = EventTail(path)
        self.tail.read_new()  # from the end, as follow mode starts
        self.on_events = on_events
        self._pending = False

    def changed(self) -> None:
        if not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_soon(self._read)

    def _read(self) -> None:
        self._pending = False
        for event in self.tail.read_new():
            self.on_events(event)


async def tail_viewer(run_dir: str, stamps: Stamps, flush_s: float) -> None:
    from mlgym_tui.tui.replay.follow import POLL_S, FollowTail

    viewer = FoldingViewer(stamps, flush_s)
    follower = Follower(Path(run_dir) / "events.jsonl", viewer.receive)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    watcher = loop.create_task(FollowTail.watch_file(follower, stop))  # follow mode's watcher, run as is

    async def poll() -> None:
        while True:
            await asyncio.sleep(POLL_S)
            follower.changed()

    tasks = [watcher, loop.create_task(poll()), loop.create_task(viewer.tick())]
    await asyncio.sleep(0.3)  # the watcher's inotify set up (its thread starts inside awatch)
    ready()
    try:
        await asyncio.wait_for(stamps.done.wait(), VIEWER_TIMEOUT_S)
    finally:
        stop.set()
        for task in tasks[1:]:
            task.cancel()
        await asyncio.wait_for(watcher, 5)


async def screen_viewer(target: str, stamps: Stamps) -> None:
    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.perf import watch_frames
    from mlgym_tui.tui.screens.episode import EpisodeScreen

    flushed: list[tuple[int, int]] = []  # applied by the last flush, waiting for a composited frame

    class TimedScreen(EpisodeScreen):
        def receive_event(self, event: ev.Event) -> None:
            super().receive_event(event)
            mark = parse(event)
            if mark is not None:
                stamps.add("screen: delivered", *mark)

        def flush(self) -> None:
            batch = list(self.queue)
            super().flush()
            now = time.time_ns()
            for event in batch:
                mark = parse(event)
                if mark is not None:
                    stamps.add("screen: flush applied", *mark, now=now)
                    flushed.append(mark)
                elif isinstance(event, ev.OutputChunk) and event.data == END:
                    stamps.done.set()

    def on_frame(_screen, renderable) -> None:
        if renderable is not None and flushed:
            now = time.time_ns()
            for mark in flushed:
                stamps.add("screen: painted", *mark, now=now)
            flushed.clear()

    remote = await attach(target, None)
    screen = TimedScreen(controller=remote)
    app = MLGymApp(deterministic=True, start_screen=screen)
    async with app.run_test(size=(120, 40)):
        watch_frames(app, on_frame)
        await asyncio.wait_for(remote.history_done.wait(), 10)
        await asyncio.sleep(0.2)
        ready()
        try:
            await asyncio.wait_for(stamps.done.wait(), VIEWER_TIMEOUT_S)
            await asyncio.sleep(0.2)  # the frame after the last flush
        finally:
            await remote.detach()


def ready() -> None:
    os.write(1, b"ready\n")  # fd 1: inside a Textual app sys.stdout is the app's


def viewer_main(kind: str, target: str, token: str | None, flush_s: float) -> None:
    stamps = Stamps()
    if kind == "tail":
        run = tail_viewer(target, stamps, flush_s)
    elif kind == "screen":
        run = screen_viewer(target, stamps)
    else:
        run = remote_viewer(target, token, stamps, flush_s)
    asyncio.run(run)
    os.write(1, (json.dumps(stamps.measures) + "\n").encode())


# ==================================================================================================== the episode


class Episode:
    """A real Controller (fake environment, a policy that never answers: the runner waits on the model) with a
    Recorder and a ControlServer, in a fresh run directory."""

    def __init__(self, root: Path, name: str, tcp: bool) -> None:
        from mlgym_tui.control.server import ControlServer
        from mlgym_tui.episode.controller import Controller
        from mlgym_tui.trajectory.recorder import Recorder
        from test_episode_runner import AnsweredPolicy, FakeEnv

        self.run_dir = root / name
        self.recorder = Recorder(self.run_dir, "fake", config={}, record_transient=True)
        self.c = Controller(env=FakeEnv(), policy=AnsweredPolicy(), recorder=self.recorder, task_id="fake",
                            agent="bench", model="none", engine="local", run_dir=self.run_dir, mode="auto",
                            max_steps=10, metrics=[{"name": "score", "primary": True}])
        self.server = ControlServer(self.c, listen="127.0.0.1:0" if tcp else None)

    async def __aenter__(self) -> "Episode":
        await self.server.start()
        self.c.start()
        self.c.emit(ev.CommandStarted(step=1, action="bench stream", author="agent"))
        return self

    async def __aexit__(self, *exc) -> None:
        self.c.stop()
        await asyncio.wait_for(self.c.wait(), 10)
        await self.server.close()
        await self.recorder.aclose()

    async def stream(self, count: int, interval_s: float) -> None:
        """WARMUP + count chunks at a steady mean rate, each emitted at its due time (not after the previous one).
        The gaps vary by +-50% so that the emits do not lock in phase with the viewers' flush timers (at a gap
        that is a multiple of the repaint gap every event would wait the same part of a tick)."""
        loop = asyncio.get_running_loop()
        rng = random.Random(16)
        due = loop.time()
        for seq in range(WARMUP + count):
            await asyncio.sleep(max(0.0, due - loop.time()))
            self.c.emit(chunk(seq))
            due += interval_s * rng.uniform(0.5, 1.5)
        await asyncio.sleep(0.3)  # the last events handled before the viewers start to exit (not part of the stream)
        self.c.emit(ev.OutputChunk(step=1, data=END))


async def spawn(kind: str, target: str, token: str | None, flush_s: float) -> asyncio.subprocess.Process:
    argv = [sys.executable, __file__, "--viewer", kind, "--target", target, "--flush-s", str(flush_s)]
    env = dict(os.environ, **({"BENCH_ATTACH_TOKEN": token} if token else {}))  # not on the command line
    return await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, env=env)


async def measure(root: Path, transport: str, viewers: int, count: int, interval_s: float,
                  flush_s: float) -> dict[str, list[float]]:
    """One episode, `viewers` viewer processes; transport "screen" is the Unix socket with one of the viewers a
    headless EpisodeScreen."""
    async with Episode(root, f"{transport}-{viewers}", tcp=transport == "tcp") as episode:
        if transport == "tcp":
            target, token = episode.server.address, episode.server.token
        else:
            target, token = str(episode.run_dir), None
        if transport == "screen":
            kinds = ["screen"] + ["remote"] * (viewers - 1)
        else:
            kinds = [("tail" if transport == "tail" else "remote")] * viewers
        procs = [await spawn(kind, target, token, flush_s) for kind in kinds]
        try:
            for proc in procs:
                line = await asyncio.wait_for(proc.stdout.readline(), 60)
                if line.strip() != b"ready":
                    raise SystemExit(f"{transport}: a viewer did not start: {line!r}")
            await asyncio.sleep(0.2)
            await episode.stream(count, interval_s)
            results = []
            for kind, proc in zip(kinds, procs):
                out, _ = await asyncio.wait_for(proc.communicate(), VIEWER_TIMEOUT_S + 10)
                if proc.returncode != 0:
                    raise SystemExit(f"{transport}: a {kind} viewer failed (exit {proc.returncode})")
                results.append(json.loads(out.decode().strip().splitlines()[-1]))
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    merged: dict[str, list[float]] = {}
    for result in results:
        for measure_name, values in result.items():
            merged.setdefault(measure_name, []).extend(values)
    for measure_name, values in merged.items():
        expected = count * (1 if measure_name.startswith("screen") else sum(kind != "screen" for kind in kinds))
        if len(values) != expected:
            print(f"warning: {transport} x{viewers}: {len(values)} of {expected} events {measure_name}")
    if transport == "screen":  # the other viewers are there as load; the unix run measures them alone
        merged = {name: values for name, values in merged.items() if name.startswith("screen")}
    return merged


async def run_all(args: argparse.Namespace) -> list[tuple[str, int, str, list[float]]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-attach-") as tmp:
        root = Path(tmp)
        for viewers in args.viewers:
            for transport in ("unix", "tcp", "tail") + (("screen",) if args.screen else ()):
                merged = await measure(root, transport, viewers, args.events, args.interval_ms / 1000,
                                       args.flush_s)
                for measure_name, values in merged.items():
                    rows.append((transport, viewers, measure_name, values))
    return rows


def report(rows: list[tuple[str, int, str, list[float]]], args: argparse.Namespace) -> None:
    print(f"{args.events} events per run, one every {args.interval_ms:g} ms on average (+{WARMUP} warm-up not counted); "
          f"screen repaint gap {args.flush_s * 1000:g} ms; {os.cpu_count()} cores, load average at the end "
          f"{os.getloadavg()[0]:.1f}\n")
    print(f"{'transport':9} {'viewers':>7}  {'measure':24} {'events':>6} {'median ms':>9} {'p95 ms':>7} {'max ms':>7}")
    stats = {}
    for transport, viewers, measure_name, values in rows:
        med, p95 = statistics.median(values), pct(values, 0.95)
        stats[(transport, viewers, measure_name)] = (med, p95)
        print(f"{'unix' if transport == 'screen' else transport:9} {viewers:>7}  {measure_name:24} {len(values):>6} {med:>9.2f} {p95:>7.2f} "
              f"{max(values):>7.2f}")
    print("\nscreen: rows of a separate run in which one of the viewers is a headless EpisodeScreen: delivered "
          "(its subscription called), flush applied (the screen applied the event), painted (the first frame "
          "composited after that flush). The tail rows' next repaint is the live screen's timer fed by the "
          "tail.\n")
    print("tailing events.jsonl / Unix socket (same run):")
    for viewers in args.viewers:
        for measure_name in ("delivered+folded", "next repaint"):
            unix, tail = stats.get(("unix", viewers, measure_name)), stats.get(("tail", viewers, measure_name))
            if unix and tail:
                print(f"  {viewers:>2} viewer(s), {measure_name:18}: median {tail[0] / unix[0]:6.1f}x  "
                      f"p95 {tail[1] / unix[1]:6.1f}x")
    for viewers in args.viewers:
        for measure_name in ("delivered+folded", "screen: painted"):
            unix = stats.get(("unix", viewers, measure_name))
            if unix:
                verdict = "met" if unix[1] < 50 else "MISSED"
                print(f"target p95 < 50 ms over the Unix socket, {viewers} viewer(s), {measure_name}: "
                      f"{unix[1]:.2f} ms ({verdict})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="counted events per run")
    parser.add_argument("--viewers", default="1,10", help="viewer counts, comma-separated")
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--no-screen", dest="screen", action="store_false",
                        help="skip the runs with a headless EpisodeScreen viewer")
    parser.add_argument("--flush-s", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--viewer", choices=("remote", "tail", "screen"), help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.viewer:
        viewer_main(args.viewer, args.target, os.environ.get("BENCH_ATTACH_TOKEN"), args.flush_s)
        return 0
    if args.flush_s is None:
        from mlgym_tui.tui.screens.episode import MIN_REPAINT_GAP_S

        args.flush_s = MIN_REPAINT_GAP_S
    try:
        args.viewers = [int(v) for v in args.viewers.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--viewers {args.viewers!r}: expected counts separated by commas, e.g. 1,10")
    if args.events < 1 or not args.viewers or min(args.viewers) < 1:
        parser.error("--events and every --viewers count must be at least 1")
    started = time.perf_counter()
    rows = asyncio.run(run_all(args))
    report(rows, args)
    print(f"\n(benchmark wall time {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
