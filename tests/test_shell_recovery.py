"""Commands that used to wedge or kill the agent's shell, run through MLGymEnvironment.step on real Docker and
Podman: each recovers within seconds, the episode goes on with cwd and exported environment restored (or
never lost), and the observation says what happened."""

from __future__ import annotations

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


async def test_container_gone_ends_the_episode_with_a_reason(env):
    # Last in this file: it stops the shared container.
    env.container.container.kill()
    result = await env.step("echo anyone")
    assert result.done and result.exit_status == "exit_error"
    assert "could not be started" in result.observation
