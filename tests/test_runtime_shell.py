"""The persistent shell session, on real Docker and Podman containers."""

from __future__ import annotations

import asyncio
import resource

import pytest

from mlgym_tui.config.runtime import ShellLimits
from mlgym_tui.runtime.errors import ContainerGone, ShellDied

FAST = ShellLimits(command_timeout=4, no_output_timeout=60, interrupt_grace=1.0,
                   output_head_bytes=4000, output_tail_bytes=4000, max_output_bytes=20_000_000)


@pytest.fixture
async def shell(container):
    session = await container.open_shell(FAST)
    yield session
    await session.close()


async def test_exit_codes_and_output(shell):
    ok = await shell.run("echo hello")
    assert (ok.exit_code, ok.output) == (0, "hello\n")
    bad = await shell.run("ls /nonexistent")
    assert bad.exit_code == 2 and "No such file" in bad.output
    assert (await shell.run("exit 3")).exit_code == 1  # `exit` is refused so the episode's shell survives
    assert (await shell.run("(exit 7)")).exit_code == 7


async def test_cwd_and_environment_persist(shell):
    await shell.run("mkdir -p /tmp/deep/er && cd /tmp/deep && export COLOUR=teal")
    result = await shell.run("pwd; echo $COLOUR")
    assert result.output.split() == ["/tmp/deep", "teal"]
    assert shell.cwd == "/tmp/deep"


async def test_runs_as_agent_user_in_workspace(shell):
    result = await shell.run("id -un; pwd")
    assert result.output.split() == ["agent", "/home/agent/workspace"]


async def test_long_and_awkward_commands_arrive_intact(shell):
    body = "x" * 9000
    script = f"cat > f.txt <<'EOF'\nquote ' double \" dollar $HOME backslash \\ tab\t{body}\nEOF\nwc -c < f.txt"
    result = await shell.run(script)
    assert result.exit_code == 0
    assert int(result.output.strip()) == len(f"quote ' double \" dollar $HOME backslash \\ tab\t{body}\n")
    unicode = await shell.run("echo 'héllo ✓'")
    assert unicode.output == "héllo ✓\n"
    syntax = await shell.run("echo 'unclosed")
    assert syntax.exit_code != 0 and (await shell.run("echo still")).output == "still\n"


async def test_timeout_interrupts_and_session_survives(shell):
    await shell.run("cd /tmp && export KEEP=1")
    result = await shell.run("sleep 600", timeout=1.5)
    assert result.timed_out and result.exit_code == 130
    assert "timed out after 1.5 s" in result.observation and "SIGINT" in result.observation
    after = await shell.run("pwd; echo $KEEP")
    assert after.output.split() == ["/tmp", "1"]


async def test_sigint_ignored_escalates_to_sigkill(shell):
    result = await shell.run("trap '' INT; echo started; sleep 600", timeout=1.5)
    assert result.timed_out and result.exit_code == 137
    assert "started" in result.output and "SIGKILL" in result.observation
    assert (await shell.run("echo ok")).output == "ok\n"


async def test_no_output_timeout_keeps_partial_output(shell):
    result = await shell.run("echo partial; sleep 600", timeout=60, no_output_timeout=1.5)
    assert result.timed_out
    assert "partial" in result.output and "no output for 1.5 s" in result.observation


async def test_interrupt_on_demand(shell):
    task = asyncio.create_task(shell.run("sleep 600", timeout=120))
    await asyncio.sleep(0.5)
    assert shell.busy
    await shell.interrupt()
    result = await asyncio.wait_for(task, 10)
    assert result.interrupted and result.exit_code == 130
    assert "interrupted by request" in result.observation
    assert (await shell.run("echo back")).output == "back\n"


async def test_output_flood_is_capped_with_bounded_memory(shell):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = await shell.run("yes 'flood line' | head -c 15000000; echo; echo END", timeout=60)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.exit_code == 0
    assert result.total_bytes > 15_000_000
    assert result.truncated_bytes > 14_000_000
    assert len(result.output) < 10_000
    assert result.output.startswith("flood line") and result.output.rstrip().endswith("END")
    assert "bytes of output cut" in result.output
    assert grown_mb < 100


async def test_endless_flood_is_stopped(shell):
    result = await shell.run("yes", timeout=60)
    assert result.total_bytes >= FAST.max_output_bytes
    assert "exceeded" in result.observation
    assert (await shell.run("echo fine")).output == "fine\n"


async def test_binary_output_decodes_safely(shell):
    result = await shell.run("head -c 20000 /dev/urandom; echo; echo done")
    assert result.exit_code == 0 and result.output.rstrip().endswith("done")
    assert "\x1b" not in result.output and "\x00" not in result.output


async def test_escape_sequences_stripped_for_model_but_raw_for_subscribers(shell):
    seen: list[str] = []
    shell.subscribe(seen.append)
    result = await shell.run(r"printf '\033[31mred\033[0m \033]0;pwned-title\007 \033[2J\033[Hdone\n'")
    assert result.output.strip() == "red  done"
    raw = "".join(seen)
    assert "\x1b[31m" in raw and "pwned-title" in raw


async def test_container_killed_from_outside_errors_instead_of_hanging(container, shell):
    task = asyncio.create_task(shell.run("sleep 600", timeout=300))
    await asyncio.sleep(0.5)
    await asyncio.to_thread(container.container.kill)
    with pytest.raises((ShellDied, ContainerGone)):
        await asyncio.wait_for(task, 30)
    with pytest.raises(ShellDied):
        await shell.run("echo nope")


async def test_shell_that_exits_reports_its_output_and_status(shell):
    await shell.run("cd /tmp && export SAVED=yes")
    with pytest.raises(ShellDied) as died:
        await shell.run("echo last words; builtin exit 3", timeout=10)
    assert "exited the shell (exit status 3)" in died.value.problem
    assert died.value.result.output.startswith("last words\n") and died.value.result.exit_code == 3
    saved = await asyncio.to_thread(shell.transport.container.exec, ["cat", *shell.env_files], "agent")
    assert 'declare -x SAVED="yes"' in saved.output  # what a fresh shell takes over


async def test_marker_survives_what_a_command_does_to_the_shell(shell):
    result = await shell.run("exec 2>/dev/null >/tmp/out.txt; echo hidden; set -x; trap '' INT; printf() { :; }")
    assert result.exit_code == 0 and result.output == ""
    assert (await shell.run("echo visible; printf '%s\\n' real")).output == "visible\nreal\n"
    assert (await shell.run("cat /tmp/out.txt")).output == "hidden\n"


async def test_close_removes_the_saved_environment_and_ends_the_shell(container, shell):
    await shell.run("ulimit -S -n 1000; export X=1")  # the ulimit check leaves a second file
    pid = shell.shell_pid
    await shell.close()
    await asyncio.sleep(0.2)
    left = await asyncio.to_thread(container.exec, ["sh", "-c", f"ls -a /dev/shm /tmp | grep mlgym-shell; "
                                                                f"kill -0 {pid} 2>/dev/null && echo alive"], "agent")
    assert left.output == ""
