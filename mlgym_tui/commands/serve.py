"""`mlgym-tui serve`: the whole app (task browser, live episodes, replay) in a web browser through textual-serve,
which starts one app process per browser tab. Loopback by default; any other address needs a token, checked on
every request (the `?token=` of the first load, then a cookie)."""

from __future__ import annotations

import errno
import ipaddress
import os
import secrets
import shlex
import socket
import sys
from pathlib import Path

from mlgym_tui.commands.common import fail

TOKEN_FILE = "serve-token"


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="serve the app in a web browser (each tab runs its own app)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; any non-loopback address needs a token)")
    parser.add_argument("--port", default="8000", help="TCP port (default 8000)")
    parser.add_argument("--token", help="token the browser must present (?token=... on first load); generated and "
                                        "written to <config dir>/serve-token when a non-loopback host has none")
    parser.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    """Only addresses that are loopback by themselves count: a name other than localhost may resolve anywhere."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def save_token(token: str) -> Path:
    """Write the token readable by its owner only (the file may exist with wider rights from an older copy)."""
    from mlgym_tui.config.paths import config_dir

    path = config_dir() / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    return path


def bind_problem(host: str, port: int, error: OSError) -> str:
    """The one-line reason a listening socket could not be had, with what to do instead."""
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use: choose another with --port, or stop what holds it"
    if error.errno == errno.EACCES:
        return f"port {port} needs privileges on this machine: choose a port above 1023 with --port"
    if isinstance(error, socket.gaierror) or error.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return f"--host {host} is not an address of this machine: use 127.0.0.1, 0.0.0.0 or one of its addresses"
    return f"cannot listen on {host}:{port} ({error.strerror or error}): choose another --host or --port"


def check_bind(host: str, port: int) -> None:
    """Bind and release every address the server would bind, as aiohttp does (reuse on), to fail with one line
    before anything starts; the server's own bind is still checked (something may take the port in between)."""
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                              flags=socket.AI_PASSIVE):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)


def browser_url(host: str, port: int, token: str | None) -> str:
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host  # a wildcard is no address to open
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def refusal(request, token: str | None, loopback: bool, cookie: str) -> str | None:
    """Why this request is refused (None: let it through). The token comes as ?token= on the first load, then as
    the cookie that load set."""
    if loopback and not is_loopback(request.url.host or ""):
        # a page from elsewhere whose name was pointed at 127.0.0.1 (DNS rebinding) carries its own name here
        return f"this server answers to loopback names only, not {request.host!r}: open it as 127.0.0.1 or localhost"
    origin = request.headers.get("Origin")
    if request.path == "/ws" and origin and origin.split("://", 1)[-1] != request.host:
        return f"a page of {origin} may not open this app: open it from the URL mlgym-tui serve printed"
    if token is None:
        return None
    given = request.query.get("token") or request.cookies.get(cookie) or ""
    if not secrets.compare_digest(given.encode(), token.encode()):
        return ("this mlgym-tui server needs its token: open the URL `mlgym-tui serve` printed (it ends in "
                "?token=...), or read the token from its serve-token file")
    return None


def guarded_server(command: str, host: str, port: int, token: str | None):
    """textual-serve's Server with every request checked by `refusal`, the page's websocket address taken from the
    address the browser used, and one line printed at start instead of its banner."""
    from aiohttp import web
    from textual_serve.server import Server

    loopback = is_loopback(host)
    cookie = f"mlgym_tui_token_{port}"  # one per port: two servers on one machine keep their own

    @web.middleware
    async def guard(request, handler):
        reason = refusal(request, token, loopback, cookie)
        if reason is not None:
            raise web.HTTPForbidden(text=f"403 Forbidden: {reason}\n")
        response = await handler(request)
        if token is not None and "token" in request.query and not response.prepared:
            response.set_cookie(cookie, token, httponly=True, samesite="Strict")
        return response

    class GuardedServer(Server):
        async def _make_app(self):
            app = await super()._make_app()
            app.middlewares.append(guard)
            return app

        async def handle_index(self, request):
            # The page opens its websocket at public_url: make that the address this browser reached, so a
            # wildcard host works from other machines and the token cookie (set for this name) goes along.
            # (set and read with no await between: no other request can come in between)
            self.public_url = f"{request.scheme}://{request.host}"
            return await super().handle_index(request)

        async def on_startup(self, app) -> None:
            print("each browser tab runs its own app; Ctrl+C stops the server", flush=True)

    return GuardedServer(command, host=host, port=port, title="mlgym-tui")


def run(args) -> int:
    try:
        port = int(args.port)
    except ValueError:
        return fail(f"--port {args.port!r} is not a number: give a TCP port such as 8000", 2)
    if not 1 <= port <= 65535:
        return fail(f"--port {port} is out of range: give a TCP port between 1 and 65535, such as 8000", 2)
    host, token = args.host, args.token
    if token is not None and not token.strip():
        return fail("--token is empty: give a non-empty token, or leave --token out", 2)
    try:
        check_bind(host, port)
    except OSError as error:
        return fail(bind_problem(host, port, error), 2)
    generated = None
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
        generated = save_token(token)

    # the bare command, run by this interpreter: the tab's app is this checkout's, whatever PATH says
    command = shlex.join([sys.executable, "-m", "mlgym_tui.cli"])
    url = browser_url(host, port, token)
    print(f"mlgym-tui in a browser: {url}", flush=True)
    if generated is not None:
        print(f"(no --token for a non-loopback host: this one was generated and written to {generated})", flush=True)
    server = guarded_server(command, host, port, token)
    try:
        server.serve()
    except OSError as error:
        return fail(bind_problem(host, port, error), 2)
    return 0
