"""What every front end starts beside an episode before it runs: its control endpoint (so any viewer can attach)
and its notifications (settings `notify`). One call, one close, the same for the TUI, `run` and a batch."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mlgym_tui.control.server import ControlServer
from mlgym_tui.episode.controller import Controller
from mlgym_tui.episode.notify import Notifier

log = logging.getLogger(__name__)


class EpisodeServices:
    def __init__(self, server: ControlServer | None, notifier: Notifier | None) -> None:
        self.server = server
        self.notifier = notifier

    @property
    def address(self) -> str | None:
        return self.server.address if self.server is not None else None

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
        if self.notifier is not None:
            await self.notifier.aclose()


async def serve_episode(controller: Controller, *, listen: str | None = None, token: str | None = None,
                        bell: Callable[[], Any] | None = None, settings: Any = None,
                        grace_s: float = 10.0) -> EpisodeServices:
    """Start the endpoint and the notifier of an episode not started yet. A ListenError (the --listen address
    cannot be used) propagates: the person asked for that address. A run without a run directory is not served."""
    if settings is None:
        from mlgym_tui.config.settings import get_settings

        settings = get_settings()
    server = None
    if controller.run_dir is not None:
        server = await ControlServer(controller, listen=listen, token=token, grace_s=grace_s).start()
    notifier = Notifier(controller, settings.notify, bell=bell)
    return EpisodeServices(server, notifier)
