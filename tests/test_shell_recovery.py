"""Commands that used to wedge or kill the agent's shell, run through MLGymEnvironment.step on real Docker and
Podman: each recovers within seconds, the episode goes on with cwd and exported environment restored (or
never lost), and the observation says what happened."""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_asyncio

from conftest import ENGINES, get_engine
from mlgym_tui.environment.environment import MLGymEnvironment
from mlgym_tui.tasks.registry import load_registry

pytestmark = pytest.mark.asyncio(loop_scope="module")

TTY = "waited for terminal input"
RESTARTED = "a fresh shell was started"
# (command, what the observation must say, whether the shell had to be replaced)
WEDGES = [
    ('python3 -c "import getpass; getpass.getpass()"', TTY, False),
    ("read -p x < /dev/tty", TTY, False),
    # Inside $(...) the reader shares the shell's process group: it is killed alone, the line goes on.
    ('x=$(python3 -c "import getpass; getpass.getpass()"); echo after-subst', TTY, False),
    ("x=$(read -p q y </dev/tty); echo after-subst", TTY, False),
    ("exec >log.txt 2>&1; echo into-the-log", "pointed back at the terminal", False),
    ("exec 1>&-", "pointed back at the terminal", False),
    ("set -e; false; echo not-reached", "set -e", True),
    ("builtin exit 4", "exited the shell (exit status 4)", True),
    ("command exit", "exited the shell", True),
    ("kill -9 $$", "killed the shell", True),
    ("exec bash --norc", "`exec` replaced or ended the shell", True),
    ("trap 'builtin exit' DEBUG", "exited the shell", True),
    ("printf() { :; }; builtin() { :; }", "", False),
    ("enable -n printf", "", False),
    ("stty echo -isig", "", False),
    ("ulimit -u 1", "ulimit", True),
    ("exec </dev/null", "", False),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=ENGINES)
async def env(request):
    environment = MLGymEnvironment(load_registry().get("battleOfSexes"), get_engine(request.param))
    environment.runtime.shell.stuck_check_after = 1.0
    environment.runtime.shell.interrupt_grace = 1.0
    await environment.reset()
    yield environment
    await environment.close()


@pytest.mark.parametrize("command,says,replaced", WEDGES, ids=[w[0] for w in WEDGES])
async def test_wedging_command_recovers(env, command, says, replaced):
    before = await env.step("mkdir -p /tmp/wedge && cd /tmp/wedge && export KEPT=teal-$RANDOM && echo $KEPT")
    kept = before.observation.strip()
    old_shell = env.shell
    started = time.monotonic()
    result = await env.step(command)
    seconds = time.monotonic() - started
    assert not result.done and seconds < 12, (seconds, result.observation)
    assert says in result.observation
    assert ("after-subst" in result.observation) == ("after-subst" in command)
    assert (env.shell is not old_shell) == replaced, result.observation
    if replaced:
        assert RESTARTED in result.observation and "/tmp/wedge" in result.observation
    after = await env.step("pwd; echo $KEPT; printf '%s\\n' works; type open | head -1")
    assert after.exit_code == 0 and not after.done
    assert after.observation.split("\n")[:4] == ["/tmp/wedge", kept, "works", "open is a function"], after.observation
    assert env.state()["working_dir"] == "/tmp/wedge"


async def test_shell_killed_between_steps_is_replaced_and_output_keeps_flowing(env):
    seen: list[str] = []
    env.shell.subscribe(seen.append)
    await env.step("cd /tmp && export BETWEEN=1")
    pid = env.shell.shell_pid
    env.container.exec(["kill", "-KILL", str(pid)])
    result = await env.step("echo after")
    assert not result.done and RESTARTED in result.observation
    assert (await env.step("pwd; echo $BETWEEN")).observation.split() == ["/tmp", "1"]
    assert RESTARTED in "".join(seen)  # the person watching the shell pane sees it too


async def test_silent_work_is_left_alone(env):
    result = await env.step("sleep 4; echo slept")
    assert result.exit_code == 0 and result.observation == "slept\n"


async def test_a_stray_line_from_the_check_is_no_verdict(env):
    # The exec API merges stdout and stderr without order: only stdout may reach the verdict...
    assert await env._inspect("echo busy; echo 'bash: line 9: /proc/42/syscall: No such file' >&2") == "busy\n"
    # ...and a last line that is no verdict counts as busy, so the healthy command is not killed.
    async def noisy(script):
        return await env._inspect(script) + "bash: line 10: /proc/425/syscall: Permission denied\n"

    shell = env.shell
    shell.inspect = noisy
    try:
        result = await env.step("sleep 2.6; echo ok")
    finally:
        shell.inspect = env._inspect
    assert result.observation == "ok\n" and env.shell is shell


async def test_a_command_that_ends_during_a_slow_check_is_seen_at_once(env):
    async def slow(script):
        await asyncio.sleep(3)
        return await env._inspect(script)

    shell = env.shell
    shell.inspect = slow
    try:
        result = await env.step("sleep 1.5; echo done")
    finally:
        shell.inspect = env._inspect
    assert result.observation == "done\n" and result.duration < 2.5, result.duration


async def test_a_stray_ctrl_d_does_not_end_the_idle_shell(env):
    shell = env.shell
    await shell.transport.write(b"\x04")
    await asyncio.sleep(0.5)
    result = await env.step("echo still here")
    assert result.observation.endswith("still here\n") and env.shell is shell


async def test_shell_control_variables_are_not_restored(env):
    await env.step("export TMOUT=2 PROMPT_COMMAND='echo prompt' PS1='> ' KEPT_TOO=yes; cd /tmp")
    result = await env.step("kill -9 $$")
    assert RESTARTED in result.observation
    assert "shell-control variables were not restored: PROMPT_COMMAND PS1 TMOUT" in result.observation
    shell = env.shell
    await asyncio.sleep(3)  # an exported TMOUT=2 would have ended this idle shell
    after = await env.step("echo ${TMOUT-unset} ${PROMPT_COMMAND-unset} $KEPT_TOO")
    assert after.observation == "unset unset yes\n" and env.shell is shell


async def test_saved_environment_moves_to_tmp_and_old_copies_are_removed(env):
    # A copy that cannot be written goes to /tmp; the fresh shell takes it over and removes the old shell's files.
    old_nonce = env.shell.nonce
    await env.step('chmod 444 "$__mlgym_e"; ulimit -S -n 1000; export MOVED=1')
    result = await env.step("kill -9 $$")
    assert "the exported environment restored" in result.observation
    assert (await env.step("echo $MOVED")).observation == "1\n"
    files = env.container.exec(["sh", "-c", "ls /dev/shm/.mlgym-shell-* /tmp/.mlgym-shell-* 2>/dev/null"]).output
    assert old_nonce not in files and env.shell.nonce in files


async def test_a_saved_environment_cut_short_is_not_taken_over(env):
    result = await env.step('export GONE=1; head -c 30 "$__mlgym_e" >/tmp/cut; cat /tmp/cut >|"$__mlgym_e"; kill -9 $$')
    assert "the exported environment lost" in result.observation
    assert (await env.step("echo ${GONE-unset}")).observation == "unset\n"


async def test_a_forged_marker_cannot_name_the_process_to_kill(env):
    shell = env.shell
    pid = shell.shell_pid
    victim = (await env.step("sleep 300 >/dev/null 2>&1 & echo $!")).observation.split()[-1]
    forged = await env.step(r"printf '\036MLGYM%s\037%s\037%s\037%s\037\037\037/\036\n' "
                            f"{shell.nonce} $__mlgym_q 0 {victim}")
    assert shell.shell_pid == pid and forged.exit_code == 0
    # Asked to end the victim as if it were the shell (with its true start time), the engine refuses: the victim
    # has a parent in the container; so is pid 1.
    started = env.container.exec(["sh", "-c", f"cut -d' ' -f22 /proc/{victim}/stat"]).output.strip()
    await shell.transport.end_shell(int(victim), started)
    await shell.transport.end_shell(1, env.container.exec(["sh", "-c", "cut -d' ' -f22 /proc/1/stat"]).output.strip())
    assert env.container.exec(["kill", "-0", victim]).ok and env.container.is_running()
    result = await env.step("kill -9 $$")  # the real shell is ended and replaced; its background job lives on
    assert RESTARTED in result.observation and env.container.exec(["kill", "-0", victim]).ok
    assert env.container.exec(["kill", "-0", str(pid)], "agent").exit_code != 0


async def test_container_gone_ends_the_episode_with_a_reason(env):
    # Last in this file: it stops the shared container.
    env.container.container.kill()
    result = await env.step("echo anyone")
    assert result.done and result.exit_status == "exit_error"
    assert "could not be started" in result.observation
