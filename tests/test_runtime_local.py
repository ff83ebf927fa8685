"""The local runtime needs no engine: the same shell protocol on a host pty."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from mlgym_tui.config.runtime import ShellLimits
from mlgym_tui.runtime.base import ContainerSpec
from mlgym_tui.runtime.detect import connect


async def test_local_shell_persists_state_and_recovers_from_timeout():
    engine = connect("local")
    assert engine.info().isolated is False and "UNISOLATED" in engine.info().host
    box = engine.start(ContainerSpec(image="unused"))
    try:
        shell = await box.open_shell(ShellLimits(command_timeout=2, interrupt_grace=1))
        assert (await shell.run("pwd")).output.strip() == box.workspace
        await shell.run("export A=1 && cd ..")
        timed = await shell.run("sleep 60", timeout=1)
        assert timed.timed_out and timed.exit_code == 130
        assert (await shell.run("echo $A; pwd")).output.split() == ["1", box.home]
        await shell.close()
    finally:
        box.remove()


async def test_local_stuck_check_stays_inside_the_shells_session_and_close_cleans_up():
    box = connect("local").start(ContainerSpec(image="unused"))
    try:
        shell = await box.open_shell(ShellLimits(stuck_check_after=1, interrupt_grace=1))
        shell.inspect = lambda script: asyncio.to_thread(lambda: box.exec(["bash", "-c", script]).output)
        # A password prompt inside $(...) shares the shell's process group: it alone is killed, the line goes on.
        result = await shell.run('x=$(python3 -c "import getpass; getpass.getpass()"); echo after')
        assert "waited for terminal input" in result.observation and result.output.endswith("after\n") and shell.alive
        # A pid that names a process of this host outside the shell's session is never killed, nor is one a forged
        # marker claims to be the shell's.
        outsider = subprocess.Popen(["sleep", "30"])
        try:
            await shell.transport.kill_foreground(shell.shell_pid, outsider.pid)
            pid = shell.shell_pid
            await shell.run(r"printf '\036MLGYM%s\037%s\037%s\037%s\037\037\037/\036\n' "
                            f"{shell.nonce} $__mlgym_q 0 {outsider.pid}")
            assert shell.shell_pid == pid and outsider.poll() is None
        finally:
            outsider.kill()
            outsider.wait()
        await shell.run("ulimit -S -n 1000")  # leaves a second file beside the saved environment
        saved = [Path(f) for f in shell.env_files] + [Path(f + ".l") for f in shell.env_files]
        assert any(path.exists() for path in saved)
        await shell.close()
        assert not any(path.exists() for path in saved)
    finally:
        box.remove()
