"""Exact forks (issue 17): a fork restores the parent's workspace after step N from its snapshots, byte for byte,
with the shell's directory and exported variables, and its history holds the parent's N steps, while re-execution
runs the commands again (a stochastic one then differs); a parent whose bytes are missing is refused in one line.

The parent here is synthetic (events + blobs written as the recorder and the snapshot producer would) with actions
that are real commands, so --reexecute can run them."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from episode_helpers import agent, answer, runtime, until
from model_server import scripted_server  # noqa: F401

from mlgym_tui.environment.workspace_restore import RestoredPath, RestorePlan, put_files, shell_script
from mlgym_tui.episode.session import start_episode
from mlgym_tui.stream import events as ev
from mlgym_tui.trajectory import load_run
from mlgym_tui.trajectory.fork import SnapshotUnavailable, unavailable_reason, workspace_at
from mlgym_tui.trajectory.workspace_store import BlobStore, WorkspaceHistory
from mlgym_tui.tui.replay.status import lineage

REPO = Path(__file__).resolve().parents[1]
TASK = "battleOfSexes"
STARTER = REPO / "tasks" / TASK / "starter"
WS = "/home/agent/workspace"
ACTIONS = [
    "mkdir -p models && echo hello > notes.txt && rm -f strategy.py",
    'python3 -c "import random; print(random.random())" > r.txt',
    "python3 -c \"import os; open('models/ckpt.bin', 'wb').write(os.urandom(4096))\" && ln -s models/ckpt.bin last",
    "cd models && export LR=0.01 && printf '#!/bin/sh\\necho run\\n' > ../run.sh && chmod 755 ../run.sh",
    "echo after-the-fork > late.txt",
]
N = 4


def file_entry(store: BlobStore, path: str, data: bytes, mode: int = 0o644, stored: bool = True) -> dict:
    sha = store.put(data) if stored else __import__("hashlib").sha256(data).hexdigest()
    return {"path": path, "kind": "file", "mode": mode, "size": len(data), "sha256": sha, "stored": stored,
            **({} if stored else {"note": "binary"})}


def synthetic_parent(root: Path, *, snapshots: bool = True, store_checkpoint: bool = True) -> tuple[Path, dict]:
    """A recorded run of ACTIONS with the snapshots they make; returns it and the workspace after step N."""
    run_dir = root / "parent"
    run_dir.mkdir(parents=True)
    store = BlobStore(run_dir)
    r_txt = f"{random.random()}\n".encode()
    ckpt = os.urandom(4096)
    script = b"#!/bin/sh\necho run\n"
    evaluate = (STARTER / "evaluate.py").read_bytes()
    strategy = (STARTER / "strategy.py").read_bytes()
    snaps = [
        ev.WorkspaceSnapshot(step=0, changed=[file_entry(store, "evaluate.py", evaluate),
                                              file_entry(store, "strategy.py", strategy)],
                             skipped=[{"path": "data", "reason": "ignored by the task"}], cwd=WS,
                             env={"HOME": "/home/agent", "PATH": "/usr/local/bin:/usr/bin:/bin"}),
        ev.WorkspaceSnapshot(step=1, changed=[{"path": "models", "kind": "dir", "mode": 0o755, "size": 0},
                                              file_entry(store, "notes.txt", b"hello\n")], deleted=["strategy.py"]),
        ev.WorkspaceSnapshot(step=2, changed=[file_entry(store, "r.txt", r_txt)]),
        ev.WorkspaceSnapshot(step=3, changed=[file_entry(store, "models/ckpt.bin", ckpt, stored=store_checkpoint),
                                              {"path": "last", "kind": "link", "mode": 0o777, "size": 15,
                                               "target": "models/ckpt.bin"}]),
        ev.WorkspaceSnapshot(step=4, changed=[file_entry(store, "run.sh", script, mode=0o755)],
                             cwd=f"{WS}/models", env={"HOME": "/home/agent", "PATH": "/usr/local/bin:/usr/bin:/bin",
                                                      "LR": "0.01", "OPENAI_API_KEY": "***", "HOSTNAME": "parent"}),
        ev.WorkspaceSnapshot(step=5, changed=[file_entry(store, "late.txt", b"after-the-fork\n")]),
    ]
    events: list[ev.Event] = [ev.EpisodeStarted(run_id="parent", task_id=TASK, agent="human", model="human",
                                                mode="human", engine="docker", max_steps=20, cost_limit=0.0)]
    if snapshots:
        events.append(snaps[0])
    for i, action in enumerate(ACTIONS, start=1):
        events.append(ev.StepRecorded(step=i, author="agent", action=action, observation=f"parent observation {i}",
                                      thought=f"thinking about step {i}", state={"working_dir": WS}))
        if snapshots:
            events.append(snaps[i])
    events.append(ev.EpisodeEnded(exit_status="early_exit"))
    with open(run_dir / "events.jsonl", "w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event.to_dict()) + "\n")
    expected = {"evaluate.py": ("file", 0o644, evaluate), "models": ("dir", 0o755, b""),
                "notes.txt": ("file", 0o644, b"hello\n"), "r.txt": ("file", 0o644, r_txt),
                "models/ckpt.bin": ("file", 0o644, ckpt), "last": ("link", 0o777, b"models/ckpt.bin"),
                "run.sh": ("file", 0o755, script)}
    return run_dir, expected


def workspace_of(box) -> dict[str, tuple[str, int, bytes]]:
    """path -> (kind, mode, bytes or link target), read out of the container through its archive API."""
    with tarfile.open(fileobj=io.BytesIO(box.read_archive(box.workspace, 50 << 20))) as tar:
        found = {}
        for member in tar.getmembers():
            path = member.name.partition("/")[2]
            if not path:
                continue
            if member.isdir():
                found[path] = ("dir", member.mode & 0o777, b"")
            elif member.issym():
                found[path] = ("link", 0o777, member.linkname.encode())
            else:
                found[path] = ("file", member.mode & 0o777, tar.extractfile(member).read())
                if path != "evaluate.py":  # the task's read-only copy is root's
                    assert member.uid == 1000, f"{path} is owned by uid {member.uid}, not the agent"
        return found


# -- no engine ---------------------------------------------------------------------------------------------------

def test_workspace_at_takes_the_tree_cwd_and_env_at_the_step(tmp_path):
    parent, expected = synthetic_parent(tmp_path)
    at = workspace_at(load_run(parent), N)
    assert {e.path: (e.kind, e.mode, data if e.kind != "link" else e.target.encode())
            for e, data in at.files} == expected
    assert at.cwd == f"{WS}/models" and at.env["LR"] == "0.01" and at.unrecorded == ["data"]
    early = workspace_at(load_run(parent), 1)
    assert early.cwd == WS and "LR" not in early.env and "strategy.py" not in {e.path for e, _ in early.files}
    script = shell_script(RestorePlan(paths=[], cwd=at.cwd, env=at.env), WS)
    assert "export LR=" in script and "OPENAI_API_KEY" not in script and "HOSTNAME" not in script


def test_missing_blobs_and_runs_without_snapshots_are_refused_in_one_line(tmp_path):
    parent, _ = synthetic_parent(tmp_path / "a", store_checkpoint=False)
    reason = unavailable_reason(load_run(parent), N)
    assert reason is not None and "\n" not in reason
    assert "1 file(s) have no stored bytes (models/ckpt.bin (binary))" in reason and "--reexecute" in reason
    assert unavailable_reason(load_run(parent), 2) is None  # the checkpoint came later
    with pytest.raises(SnapshotUnavailable, match="1 file"):
        workspace_at(load_run(parent), N)

    gone, _ = synthetic_parent(tmp_path / "b")
    for blob in BlobStore(gone).root.glob("*/*"):
        blob.unlink()
    assert "5 file(s) have no stored bytes" in unavailable_reason(load_run(gone), N)
    assert "(blob gone), +2 more)" in unavailable_reason(load_run(gone), N)

    old, _ = synthetic_parent(tmp_path / "c", snapshots=False)
    assert "has no workspace snapshots" in unavailable_reason(load_run(old), N)

    result = subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "fork", str(parent), "--step", str(N),
                             "--agent", "human", "--engine", "docker"], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "models/ckpt.bin" in lines[0] and "--reexecute" in lines[0], result.stderr


def test_replay_status_names_the_lineage():
    class Meta:
        parent, fork_step, fork_by = "/runs/2026__gpt__battleOfSexes__default", 4, "snapshot"

    assert lineage(Meta) == "fork of 2026__gpt__battleOfSexes__default at step 4 (snapshot)"
    Meta.fork_by = ""
    assert lineage(Meta) == "fork of 2026__gpt__battleOfSexes__default at step 4"


# -- on both engines -----------------------------------------------------------------------------------------------

def test_put_files_replaces_the_fresh_workspace_but_keeps_unrecorded_paths(container):
    box = container
    box.check(["sh", "-c", f"mkdir -p {WS}/data {WS}/x {WS}/gone/deep && echo keep > {WS}/data/train.csv && "
                           f"echo stale > {WS}/stale.txt && echo in > {WS}/x/inner && touch {WS}/gone/deep/f && "
                           f"chown -R 1000:1000 {WS}"])
    plan = RestorePlan(paths=[RestoredPath("x", "file", 0o600, b"x is a file now\n"),
                              RestoredPath("bin", "dir", 0o700),
                              RestoredPath("bin/tool", "file", 0o755, b"\x00\x01binary\xff"),
                              RestoredPath("name with\nnewline", "file", 0o644, b"odd\n"),
                              RestoredPath("link", "link", 0o777, target="bin/tool")],
                       unrecorded=["data"])
    put_files(box, plan, ["data"])
    assert workspace_of(box) == {
        "data": ("dir", 0o755, b""), "data/train.csv": ("file", 0o644, b"keep\n"),
        "x": ("file", 0o600, b"x is a file now\n"), "bin": ("dir", 0o700, b""),
        "bin/tool": ("file", 0o755, b"\x00\x01binary\xff"), "name with\nnewline": ("file", 0o644, b"odd\n"),
        "link": ("link", 0o777, b"bin/tool")}


async def test_exact_fork_restores_files_cwd_env_and_history_without_running_anything(scripted_server, engine,
                                                                                     tmp_path):
    parent, expected = synthetic_parent(tmp_path)
    scripted_server.set_script([answer('echo "cwd=$PWD lr=$LR"')])
    fork = await start_episode(TASK, agent(scripted_server), engine=engine, runtime=runtime(), mode="confirm",
                               runs_dir=tmp_path / "forks", parent=parent, fork_prefix=N, fork_by="snapshot")
    seen: list[ev.Event] = []
    fork.subscribe(seen.append)
    fork.start()
    try:
        await until(lambda: fork.awaiting == "approval" or fork.done, 60, "the fork's first proposal")
        assert not fork.done, [e for e in seen if isinstance(e, ev.ErrorEvent)]
        # byte for byte what the parent had after step N (evaluate.py: the task's read-only copy, the same bytes)
        found = workspace_of(fork.env.container)
        found["evaluate.py"] = ("file", 0o644, found["evaluate.py"][2])
        assert found == expected
        # the history: the parent's N steps, answered from the recording (the agent's prompt holds them)
        steps = [e for e in seen if isinstance(e, ev.StepRecorded)]
        assert [(s.author, s.action, s.observation) for s in steps] == [
            ("replay", a, f"parent observation {i}") for i, a in enumerate(ACTIONS[:N], start=1)]
        prompt = scripted_server.requests[-1].prompt_text
        assert all(f"parent observation {i}" in prompt for i in range(1, N + 1))
        fork.approve()
        await until(lambda: len([e for e in seen if isinstance(e, ev.StepRecorded)]) > N, 30, "the live step")
        live = [e for e in seen if isinstance(e, ev.StepRecorded)][N]
        assert live.observation.strip() == f"cwd={WS}/models lr=0.01"
    finally:
        fork.stop()
        await fork.wait()
    started = next(e for e in seen if isinstance(e, ev.EpisodeStarted))
    assert (started.parent, started.fork_step, started.fork_by) == (str(parent.resolve()), N, "snapshot")
    child = load_run(fork.run_dir)
    assert child.meta.fork_by == "snapshot"
    assert "fork_by: snapshot" in (fork.run_dir / "config.yaml").read_text()
    # the fork's workspace history is the parent's up to step N (its blobs copied), then its own
    mine = WorkspaceHistory(child.events, fork.run_dir)
    theirs = WorkspaceHistory(load_run(parent).events, parent)
    assert mine.steps()[: N + 1] == list(range(N + 1))
    for step in range(N + 1):
        assert {p: (e.kind, e.sha256) for p, e in mine.tree_at(step).items()} == {
            p: (e.kind, e.sha256) for p, e in theirs.tree_at(step).items()}
    assert mine.missing_blobs(N) == []
    changed, _ = mine.changes_at(N + 1)
    assert changed == [] or all(e.path not in theirs.tree_at(N) or not e.same_content(theirs.tree_at(N)[e.path])
                                for e in changed)  # the live step's snapshot holds real changes only


async def test_reexecution_runs_the_commands_again_so_the_stochastic_file_differs(engine, tmp_path):
    parent, expected = synthetic_parent(tmp_path)
    fork = await start_episode(TASK, "agents/human.yaml", engine=engine, runtime=runtime(),
                               runs_dir=tmp_path / "forks", parent=parent, fork_prefix=N, fork_by="reexecute")
    fork.start()
    try:
        await until(lambda: fork.awaiting == "human" or fork.done, 90, "the re-executed prefix")
        found = workspace_of(fork.env.container)
        assert found["notes.txt"] == expected["notes.txt"]
        assert found["r.txt"][2] != expected["r.txt"][2]  # random.random() again
        assert found["models/ckpt.bin"][2] != expected["models/ckpt.bin"][2]
    finally:
        fork.stop()
        await fork.wait()
    assert load_run(fork.run_dir).meta.fork_by == "reexecute"


async def test_start_episode_refuses_an_exact_fork_with_missing_bytes_before_a_run_exists(engine, tmp_path):
    parent, _ = synthetic_parent(tmp_path, store_checkpoint=False)
    with pytest.raises(SnapshotUnavailable, match=r"models/ckpt\.bin.*--reexecute"):
        await start_episode(TASK, "agents/human.yaml", engine=engine, runtime=runtime(), runs_dir=tmp_path / "forks",
                            parent=parent, fork_prefix=N, fork_by="snapshot")
    assert not (tmp_path / "forks").exists()
