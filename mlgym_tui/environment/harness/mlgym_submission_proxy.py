"""The process boundary between a task's scorer and the agent's code, inside the evaluation container.

Two sides of one protocol, in one file so they cannot drift apart:

- In the scorer (uid 1001), each submission module the task names is replaced by a stand-in module of the same
  name that calls `stand_in(__name__, globals())`. Importing it asks the submission process to import the real
  module; every public function becomes a forwarder, and every call travels as a message. `evaluate.py` is
  unchanged: `from strategy import row_strategy` gets the forwarder.
- The submission process (uid 1000, `python3 mlgym_submission_proxy.py READ_FD WRITE_FD` in the submission's
  folder) imports the agent's modules and answers calls.

Requests (scorer -> submission) are pickles: the scorer is trusted. Answers (submission -> scorer) are pickles of
plain data only (None, bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset), read with an
unpickler that refuses every class lookup, so nothing the agent sends can run code in the scorer. NumPy values
are turned into plain numbers and lists on the agent's side. Exceptions raised by agent code come back as their
type name and message; a submission process that dies makes the next call raise `SubmissionProcessDied`, which
is not an `Exception`, so a scorer's `except Exception` cannot swallow it and score what never ran.

Runs on the task image's Python (3.11, standard library only; NumPy only when the submission uses it).
"""

from __future__ import annotations

import builtins
import io
import os
import pickle
import struct
import sys
import traceback

MAX_MESSAGE = 64 * 1024 * 1024  # bytes in one answer; more is refused (a flood must not exhaust the scorer)
MAX_DEPTH = 64
_HEADER = struct.Struct(">I")


class SubmissionProcessDied(BaseException):
    """The submission's process ended or broke the protocol; nothing it would have answered can be scored."""


class ProtocolError(Exception):
    pass


# -- framing (both sides) ---------------------------------------------------------------------------------------

def _read_exact(fd: int, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _send(fd: int, payload: bytes) -> None:
    data = _HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _receive(fd: int) -> bytes:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size))
    if size > MAX_MESSAGE:
        raise ProtocolError(f"an answer of {size} bytes is over the limit of {MAX_MESSAGE}")
    return _read_exact(fd, size)


class _PlainUnpickler(pickle.Unpickler):
    """Reads containers of plain values; any class or function reference is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"{module}.{name} cannot cross from the submission to the scorer")


def _loads_plain(payload: bytes):
    return _PlainUnpickler(io.BytesIO(payload)).load()


# -- the scorer's side --------------------------------------------------------------------------------------------

class _Channel:
    def __init__(self) -> None:
        fds = os.environ.get("MLGYM_PROXY_FDS", "")
        try:
            self.write_fd, self.read_fd = (int(x) for x in fds.split(","))
        except ValueError:
            raise SubmissionProcessDied("no submission process is attached (MLGYM_PROXY_FDS is not set)") from None
        self.dead: str | None = None

    def ask(self, request: tuple):
        if self.dead:
            raise SubmissionProcessDied(self.dead)
        try:
            _send(self.write_fd, pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
            answer = _loads_plain(_receive(self.read_fd))
        except (EOFError, BrokenPipeError, OSError):
            self.dead = "the submission process ended during the evaluation"
            raise SubmissionProcessDied(self.dead) from None
        except (ProtocolError, pickle.UnpicklingError, ValueError, TypeError, struct.error, RecursionError) as exc:
            self.dead = f"the submission process sent an answer that is not plain data ({exc})"
            raise SubmissionProcessDied(self.dead) from None
        if not isinstance(answer, tuple) or not answer or answer[0] not in ("ok", "error"):
            self.dead = "the submission process broke the protocol"
            raise SubmissionProcessDied(self.dead)
        if answer[0] == "error":
            raise _rebuild_exception(answer[1:])
        return answer[1] if len(answer) > 1 else None


_channel: _Channel | None = None


def _get_channel() -> _Channel:
    global _channel
    if _channel is None:
        _channel = _Channel()
    return _channel


_remote_exception_types: dict[str, type] = {}


def _rebuild_exception(details: tuple) -> Exception:
    name, message = (str(details[0])[:200], str(details[1])[:4000]) if len(details) >= 2 else ("Exception", "")
    builtin = getattr(builtins, name, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        try:
            return builtin(message)
        except Exception:  # noqa: BLE001 - some built-in exceptions need more arguments
            pass
    kind = _remote_exception_types.get(name)
    if kind is None:
        safe = name if name.isidentifier() else "SubmissionError"
        kind = _remote_exception_types[name] = type(safe, (Exception,), {"__module__": "submission"})
    return kind(message)


class RemoteFunction:
    """Calls the submission's function of this name in the submission process."""

    def __init__(self, module: str, name: str) -> None:
        self.__module__ = module
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        return _get_channel().ask(("call", self.__module__, self.__name__, args, kwargs))

    def __repr__(self) -> str:
        return f"<submission function {self.__module__}.{self.__name__}>"


def _import_remote(module: str) -> dict:
    return _get_channel().ask(("import", module))


def stand_in(module: str, namespace: dict) -> None:
    """Fill a stand-in module's namespace from the submission's real module of that name."""
    for name, (kind, value) in _import_remote(module).items():
        namespace[name] = RemoteFunction(module, name) if kind == "callable" else value

    def __getattr__(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        kind, value = _get_channel().ask(("getattr", module, name))
        return RemoteFunction(module, name) if kind == "callable" else value

    namespace["__getattr__"] = __getattr__


def seed(value: int) -> None:
    """Seed the submission process's global `random` and NumPy generators (what an in-process scorer's
    `random.seed` / `np.random.seed` would have done), so seeded evaluations stay reproducible."""
    _get_channel().ask(("seed", int(value)))


# -- the submission's side ---------------------------------------------------------------------------------------

def _plain(value, depth: int = 0):
    """A copy of value made of plain types only, or TypeError."""
    if depth > MAX_DEPTH:
        raise TypeError("the value is nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, float, complex, str, bytes):
        return value
    if isinstance(value, bool):
        return bool(value)
    if kind in (list, tuple, set, frozenset) or isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(item, depth + 1) for item in value]
        base = next(b for b in (list, tuple, set, frozenset) if isinstance(value, b))
        return base(items)
    if isinstance(value, dict):
        return {_plain(k, depth + 1): _plain(v, depth + 1) for k, v in value.items()}
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.generic):
            return _plain(value.item(), depth + 1)
        if isinstance(value, numpy.ndarray):
            return _plain(value.tolist(), depth + 1)
    for base in (int, float, str, bytes, complex):  # subclasses of plain types become the plain type itself
        if isinstance(value, base):
            return base(value)
    raise TypeError(f"a {kind.__module__}.{kind.__qualname__} cannot leave the submission process; "
                    "return plain data (numbers, strings, lists, tuples, dicts)")


def _describe(module) -> dict:
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    described = {}
    for name in names:
        value = getattr(module, name, None)
        if callable(value) and not isinstance(value, type(sys)):
            described[name] = ("callable", None)
        else:
            try:
                described[name] = ("value", _plain(value))
            except TypeError:
                continue  # modules and objects stay behind; asking for one by name explains why
    return described


def _where(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.endswith("mlgym_submission_proxy.py")]
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {os.path.basename(last.filename)}:{last.lineno})"


def _handle(request):
    op = request[0]
    if op == "import":
        import importlib

        return _describe(importlib.import_module(request[1]))
    if op == "getattr":
        value = getattr(sys.modules[request[1]], request[2])
        return ("callable", None) if callable(value) else ("value", _plain(value))
    if op == "call":
        _, module, name, args, kwargs = request
        return _plain(getattr(sys.modules[module], name)(*args, **kwargs))
    if op == "seed":
        import random

        random.seed(request[1])
        try:
            import numpy
        except ImportError:
            return None
        numpy.random.seed(request[1])
        return None
    raise ValueError(f"unknown request {op!r}")


def serve(read_fd: int, write_fd: int) -> int:
    sys.path.insert(0, os.getcwd())
    while True:
        try:
            request = pickle.loads(_receive(read_fd))
        except EOFError:
            return 0  # the scorer finished
        try:
            answer = ("ok", _handle(request))
        except BaseException as exc:  # noqa: BLE001 - everything the agent's code raises goes back as a message
            answer = ("error", type(exc).__name__, f"{exc}{_where(exc)}")
        try:
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - e.g. a str subclass that cannot be pickled
            payload = pickle.dumps(("error", "TypeError", f"the answer could not be sent: {exc}"))
        _send(write_fd, payload)


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2])))
