"""Runs one scoring inside a fresh evaluation container, as root: `python3 -I mlgym_eval_launcher.py JOB.json`.

The job (written by mlgym-tui, root-only) says who owns what, how to start the scorer and, for tasks whose
submission is Python code, the submission process. The launcher:

1. gives every laid-out folder its owner and mode before anything else runs;
2. starts the submission process (the agent's uid, its own session, stdin from /dev/null, stdout and stderr
   captured apart) and the scorer (the evaluator's uid, its own session, a fixed environment and `python3 -E -s`
   so nothing the agent wrote can steer its imports), joined only by the two pipes of the proxy protocol;
3. waits for the scorer, up to the job's timeout;
4. kills both sessions and then every process of either uid, so nothing the agent started outlives the scoring;
5. writes the outcome to the job's result file, which only root can read; mlgym-tui reads it through the engine's
   archive API. The scorer's stdout is the score channel: no other process can write to it.

Standard library only (the task image's Python 3.11).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

BINARY = "python3"


class Capture:
    """Drains a pipe on a thread, keeping the first and last `limit` bytes and the total count."""

    def __init__(self, stream, limit: int) -> None:
        self.stream, self.limit = stream, limit
        self.head, self.tail, self.total = bytearray(), bytearray(), 0
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = self.stream.read1(65536)
            except (OSError, ValueError):
                return
            if not chunk:
                return
            self.total += len(chunk)
            room = self.limit - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail += chunk
                del self.tail[:-self.limit]

    def text(self) -> str:
        self.thread.join(timeout=2)
        body = bytes(self.head)
        if self.tail:
            skipped = self.total - len(self.head) - len(self.tail)
            body += (f"\n[... {skipped} bytes not kept ...]\n".encode() if skipped > 0 else b"") + bytes(self.tail)
        return body.decode("utf-8", errors="replace")


def apply_owners(owners: list) -> None:
    for path, uid, dir_mode, file_mode in owners:
        if not os.path.lexists(path):
            continue
        for folder, dirs, files in os.walk(path):
            os.lchown(folder, uid, uid)
            os.chmod(folder, dir_mode)
            for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
                full = os.path.join(folder, name)
                os.lchown(full, uid, uid)
                if not os.path.islink(full):
                    os.chmod(full, file_mode)


def become(uid: int):
    def drop() -> None:
        os.setsid()
        if os.getuid() == 0:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
    return drop


def kill_everything_of(uid: int) -> None:
    """SIGKILL every process of uid: a child that becomes uid and signals -1 reaches exactly those."""
    if os.getuid() != 0:
        return
    for _ in range(3):  # a fork racing the first sweep is caught by the next
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            os._exit(0)
        os.waitpid(pid, 0)


def kill_session(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def start(argv, cwd, env, uid, pass_fds=(), stdin=subprocess.DEVNULL):
    return subprocess.Popen(argv, cwd=cwd, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            pass_fds=pass_fds, preexec_fn=become(uid), close_fds=True)


def gpu_count() -> int:
    """GPUs passed into this container (NVIDIA device nodes), for a torchrun asked to use all of them."""
    try:
        return sum(1 for name in os.listdir("/dev") if name.startswith("nvidia") and name[6:].isdigit())
    except OSError:
        return 0


def main(job_path: str) -> int:
    with open(job_path) as f:
        job = json.load(f)
    job["scorer"]["argv"] = [arg.replace("$MLGYM_GPU_COUNT", str(gpu_count())) for arg in job["scorer"]["argv"]]
    started = time.monotonic()
    apply_owners(job["owners"])
    scorer_job, worker_job = job["scorer"], job.get("worker")
    limit = int(job.get("output_limit", 65536))
    worker = worker_capture = None
    pass_fds: tuple = ()
    scorer_env = dict(scorer_job["env"])
    if worker_job:
        request_r, request_w = os.pipe()
        answer_r, answer_w = os.pipe()
        worker = start([BINARY, "-E", "-s", "-B", worker_job["program"], str(request_r), str(answer_w)],
                       worker_job["cwd"], worker_job["env"], worker_job["uid"], pass_fds=(request_r, answer_w))
        worker_capture = (Capture(worker.stdout, limit), Capture(worker.stderr, limit))
        os.close(request_r)
        os.close(answer_w)
        pass_fds = (request_w, answer_r)
        scorer_env["MLGYM_PROXY_FDS"] = f"{request_w},{answer_r}"
    scorer = start(scorer_job["argv"], scorer_job["cwd"], scorer_env, scorer_job["uid"], pass_fds=pass_fds)
    for fd in pass_fds:
        os.close(fd)
    out, err = Capture(scorer.stdout, int(job.get("score_limit", 1 << 20))), Capture(scorer.stderr, limit)
    timed_out = False
    try:
        code = scorer.wait(timeout=float(job["timeout"]))
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_session(scorer)
        code = scorer.wait()
    worker_code = worker.poll() if worker is not None else None  # None: still serving when the scorer ended
    kill_session(scorer)
    kill_session(worker)
    for uid in job.get("sweep_uids", []):
        kill_everything_of(uid)
    result = {
        "scorer": {"exit_code": code, "stdout": out.text(), "stderr": err.text(), "timed_out": timed_out},
        "seconds": round(time.monotonic() - started, 3),
    }
    if worker is not None:
        result["submission"] = {
            "exit_code": worker_code,
            "stdout": worker_capture[0].text(),
            "stderr": worker_capture[1].text(),
        }
    fd = os.open(job["result"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
