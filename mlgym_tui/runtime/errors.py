"""Runtime errors carry a one-line message that names the problem and the fix."""

from __future__ import annotations


class RuntimeProblem(Exception):
    """Base for runtime failures shown to a person as one line: `problem; fix`."""

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}" if fix else problem)


class EngineUnavailable(RuntimeProblem):
    pass


class ImageMissing(RuntimeProblem):
    pass


class ContainerGone(RuntimeProblem):
    pass


class ShellDied(RuntimeProblem):
    """The shell ended or had to be given up. `result` holds what the running command printed before that
    (a CommandResult), when a command was running."""

    def __init__(self, problem: str, fix: str = "", result=None) -> None:
        super().__init__(problem, fix)
        self.result = result


class CopyFailed(RuntimeProblem):
    pass


class TooLarge(RuntimeProblem):
    """A file read out of a container is over the size limit it was read with."""
