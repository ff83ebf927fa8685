"""The local runtime needs no engine: the same shell protocol on a host pty."""

from __future__ import annotations

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
