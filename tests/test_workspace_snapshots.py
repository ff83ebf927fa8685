"""Per-step workspace snapshots on real Docker and Podman, through MLGymEnvironment: edits, creates, deletes,
renames and mode changes; the bad inputs (100k files, a 2 GB sparse file, a binary rewritten every step, a file
replaced by a folder, names with newlines or not UTF-8); the recorded tree equal to the container's files byte for
byte; and a real episode's events.jsonl and blob store."""

from __future__ import annotations

import io
import statistics
import tarfile
import time

import pytest
import pytest_asyncio
from episode_helpers import agent, answer, runtime
from model_server import scripted_server  # noqa: F401

from conftest import ENGINES, get_engine
from mlgym_tui.environment.environment import MLGymEnvironment
from mlgym_tui.environment.workspace_snapshot import parse_exports
from mlgym_tui.episode.session import start_episode
from mlgym_tui.tasks.registry import load_registry
from mlgym_tui.trajectory.events_file import read_events_file
from mlgym_tui.trajectory.workspace_store import BlobStore, WorkspaceHistory

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Box:
    """An environment with snapshots on, and every snapshot it took."""

    def __init__(self, env: MLGymEnvironment, run_dir) -> None:
        self.env, self.run_dir, self.store = env, run_dir, env.workspace_store
        self.snapshots: list = []

    async def after(self, action: str | None = None):
        if action is not None:
            result = await self.env.step(action)
            assert result.exit_code == 0, result.observation
        snapshot = await self.env.snapshot_workspace(len(self.snapshots))
        self.snapshots.append(snapshot)
        return snapshot

    def history(self) -> WorkspaceHistory:
        return WorkspaceHistory(self.snapshots, self.run_dir)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=ENGINES)
async def box(request, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp(f"run-{request.param}")
    env = MLGymEnvironment(load_registry().get("battleOfSexes"), get_engine(request.param), runtime(),
                           workspace_store=BlobStore(run_dir))
    await env.reset()
    holder = Box(env, run_dir)
    first = await holder.after()
    assert first.step == 0 and first.complete and {"evaluate.py", "strategy.py"} <= {c["path"] for c in first.changed}
    yield holder
    await env.close()


def by_path(snapshot) -> dict[str, dict]:
    return {c["path"]: c for c in snapshot.changed}


async def test_no_change_costs_little_and_records_nothing(box):
    costs = []
    for _ in range(15):
        snapshot = await box.after()
        assert snapshot.changed == [] and snapshot.deleted == [] and snapshot.complete
        costs.append(snapshot.cost_ms)
    assert statistics.median(costs) < 10, costs  # about 0.5-1 ms unloaded (bench/bench_workspace.py)


async def test_edit_create_rename_mode_and_delete(box):
    made = by_path(await box.after("mkdir -p s && printf 'one\\n' > s/a.txt"))
    assert made["s"]["kind"] == "dir" and made["s/a.txt"]["stored"] and made["s/a.txt"]["size"] == 4
    sha = made["s/a.txt"]["sha256"]
    assert box.store.get(sha) == b"one\n"

    edited = by_path(await box.after("printf 'two\\n' >> s/a.txt"))
    assert list(edited) == ["s/a.txt"] and box.store.get(edited["s/a.txt"]["sha256"]) == b"one\ntwo\n"
    assert "+two" in box.history().diff("s/a.txt", len(box.snapshots) - 1)

    blobs_before = sorted(p.name for p in box.store.root.glob("*/*"))
    renamed = await box.after("mv s/a.txt s/b.txt")
    assert renamed.deleted == ["s/a.txt"] and by_path(renamed)["s/b.txt"]["sha256"] == edited["s/a.txt"]["sha256"]
    assert sorted(p.name for p in box.store.root.glob("*/*")) == blobs_before  # the same bytes, not stored twice

    moded = await box.after("chmod 700 s/b.txt")
    assert [(c["path"], c["mode"]) for c in moded.changed] == [("s/b.txt", 0o700)]

    gone = await box.after("rm -r s")
    assert gone.deleted == ["s"] and "s/b.txt" not in box.history().tree_at(len(box.snapshots) - 1)


async def test_cwd_and_exported_environment_when_they_change(box):
    changed = await box.after("cd /tmp && export SNAP_COLOUR='teal \"x\"\nline2'")
    assert changed.cwd == "/tmp" and changed.env["SNAP_COLOUR"] == 'teal "x"\nline2'
    same = await box.after("true")
    assert same.cwd is None and same.env is None
    back = await box.after(f"cd {box.env.workspace}")
    assert back.cwd == box.env.workspace


async def test_file_replaced_by_a_folder_and_back(box):
    await box.after("printf x > flip")
    to_dir = await box.after("rm flip && mkdir flip && printf y > flip/in")
    assert to_dir.deleted == ["flip"] and by_path(to_dir)["flip"]["kind"] == "dir" and "flip/in" in by_path(to_dir)
    to_file = await box.after("rm -r flip && printf z > flip")
    assert to_file.deleted == ["flip"] and by_path(to_file)["flip"]["kind"] == "file"
    tree = box.history().tree_at(len(box.snapshots) - 1)
    assert tree["flip"].kind == "file" and "flip/in" not in tree
    await box.after("rm flip")


async def test_names_with_newlines_and_not_utf8(box):
    snapshot = await box.after("printf n > $'new\\nline' && printf b > $'bad\\xff'")
    assert by_path(snapshot)["new\nline"]["stored"]
    assert {"path": "bad\\xff", "reason": "the name is not UTF-8"} in snapshot.skipped
    again = await box.after("true")
    assert again.skipped == []  # said once
    await box.after("rm -f $'new\\nline' $'bad\\xff'")


async def test_sparse_2gb_file_is_recorded_by_size_only_and_fast(box):
    snapshot = await box.after("truncate -s 2G big.bin")
    entry = by_path(snapshot)["big.bin"]
    assert entry["size"] == 2 * 1024**3 and entry["sha256"] is None and not entry["stored"]
    assert "hash cap" in entry["note"] and snapshot.cost_ms < 1000
    touched = await box.after("touch -d '2001-01-01' big.bin")
    assert [c["path"] for c in touched.changed] == ["big.bin"]  # its mtime is the only sign of a change
    await box.after("rm big.bin")


async def test_binary_rewritten_every_step_is_hashed_not_stored(box):
    shas = set()
    size_before = box.store.size()
    for _ in range(3):
        entry = by_path(await box.after("head -c 200000 /dev/urandom > weights.bin"))["weights.bin"]
        assert not entry["stored"] and "binary" in entry["note"]
        shas.add(entry["sha256"])
    assert len(shas) == 3 and box.store.size() == size_before
    small = by_path(await box.after("head -c 100 /dev/zero > weights.bin"))["weights.bin"]
    assert small["stored"]  # a small binary is kept
    await box.after("rm weights.bin")


async def test_ignored_folders_are_said_once_and_left_out(box):
    snapshot = await box.after("mkdir -p data __pycache__ && printf d > data/train.csv && printf c > __pycache__/m.pyc")
    assert {"path": "data/", "reason": "ignored by the task (workspace_ignore)"} in snapshot.skipped
    assert snapshot.changed == []
    await box.after("rm -r data __pycache__")


async def test_100k_files_stay_bounded(box):
    make = "python3 -c \"import os\nos.mkdir('many')\nfor i in range(100000): open(f'many/{i}', 'w').close()\""
    try:
        started = time.monotonic()
        snapshot = await box.after(make)
        made_in = time.monotonic() - started
        assert not snapshot.complete and "20,000 entries" in snapshot.skipped[-1]["reason"]
        # Bounded by the entry cap (about 0.75 s here alone; up to 8 s seen on a loaded CI machine), never by the
        # 100k files: a generous ceiling, not a timing target (bench/bench_workspace.py measures).
        assert len(snapshot.changed) <= 20_000 and snapshot.cost_ms < 30_000, (snapshot.cost_ms, made_in)
        again = await box.after("true")
        assert again.changed == [] and again.deleted == [] and again.cost_ms < 15_000
    finally:
        cleaned = await box.after("rm -rf many")  # the next tests share this container
    assert cleaned.complete and cleaned.deleted == ["many"]


async def test_tree_matches_the_container_byte_for_byte(box):
    await box.after("mkdir -p t/u && printf 'alpha\\n' > t/u/x.py && ln -s u/x.py t/link && chmod 640 t/u/x.py")
    tree = box.history().tree_at(len(box.snapshots) - 1)
    data = box.env.container.read_archive(box.env.workspace, 64 * 1024 * 1024)
    real = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            path = member.name.split("/", 1)[1] if "/" in member.name else ""
            if path:
                real[path] = (member, tar.extractfile(member).read() if member.isfile() else None)
    assert set(tree) == set(real)
    history = box.history()
    for path, (member, content) in real.items():
        entry = tree[path]
        assert entry.mode == member.mode & 0o7777, path
        if member.isfile():
            assert history.bytes_of(entry) == content, path
        elif member.issym():
            assert entry.kind == "link" and entry.target == member.linkname
        else:
            assert entry.kind == "dir"


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_parse_exports_reads_bash_quoting():
    text = 'declare -x A="1"\ndeclare -x B="x \\"q\\" \\$y \\\\ \\`z\\`"\ndeclare -x C\ndeclare -x D="two\nlines"\n'
    text += "declare -x E=$'teal \"x\"\\nline2 \\'q\\' \\x41\\101 \u00e9'\n"
    assert parse_exports(text) == {"A": "1", "B": 'x "q" $y \\ `z`', "C": "", "D": "two\nlines",
                                   "E": "teal \"x\"\nline2 'q' AA \u00e9"}


@pytest.mark.parametrize("engine_name", ENGINES)
async def test_a_real_episode_records_snapshots_and_blobs(scripted_server, engine_name, tmp_path):  # noqa: F811
    engine = get_engine(engine_name)
    scripted_server.set_script([answer("printf 'print(1)\\n' > model.py && export MY_API_KEY=sk-abcdefgh123"),
                                answer("cd /tmp"), answer("submit")])
    controller = await start_episode("battleOfSexes", agent(scripted_server), engine=engine, runtime=runtime(),
                                     runs_dir=tmp_path)
    assert await controller.run() == "submitted"
    events, problems = read_events_file(controller.run_dir / "events.jsonl")
    assert not problems
    types = [e.type for e in events]
    snapshots = [e for e in events if e.type == "workspace_snapshot"]
    assert [s.step for s in snapshots] == [0, 1, 2, 3]
    recorded = [i for i, t in enumerate(types) if t == "step"]
    taken = [i for i, t in enumerate(types) if t == "workspace_snapshot"]
    assert taken[0] < recorded[0] and all(r < t for r, t in zip(recorded, taken[1:]))  # each after its step
    assert snapshots[1].env["MY_API_KEY"] == "***" and by_path(snapshots[1])["model.py"]["stored"]
    assert snapshots[2].cwd == "/tmp" and snapshots[2].changed == []
    history = WorkspaceHistory(events, controller.run_dir)
    assert history.text_at("model.py", 3) == "print(1)\n"
    assert BlobStore(controller.run_dir).has(by_path(snapshots[1])["model.py"]["sha256"])
    lines = (controller.run_dir / "events.jsonl").read_text().splitlines()
    assert not [line for line in lines if "workspace_snapshot" in line and "sk-abcdefgh123" in line]
