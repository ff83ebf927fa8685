"""Moving an image from one engine to another with no registry: the engine's save stream out, its load API in.

Both ends stream: the save is read in chunks and the load is sent as a chunked request body, so neither end ever
holds the whole image (task images are over a gigabyte).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import docker
import docker.errors

from mlgym_tui.runtime.errors import ImageMissing, RuntimeProblem

CHUNK_BYTES = 32 << 20
"""Bytes per chunk handed on: big enough that per-chunk overheads vanish, small enough to keep memory bounded."""
TRANSFER_TIMEOUT = 3600.0
"""Seconds an engine may take to answer during a save or a load (the engine's usual 60 s is too short for a load
of a large image, which answers only once every layer is written)."""


def _client(engine) -> docker.DockerClient:
    host = getattr(engine, "host", None)
    if not host:
        raise RuntimeProblem(f"the {engine.name} runtime has no images to move", "choose --engine docker or podman")
    return docker.DockerClient(base_url=host, timeout=TRANSFER_TIMEOUT)


def image_id(engine, tag: str) -> str | None:
    """The engine's id of `tag` (sha256:...), or None when it does not have it."""
    try:
        return engine.client.images.get(tag).id
    except docker.errors.ImageNotFound:
        return None


def save_chunks(engine, tag: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The image as a `docker save` archive, in chunks of chunk_bytes (the last one shorter)."""
    client = _client(engine)
    try:
        try:
            stream = client.api.get_image(tag, chunk_size=1 << 20)
        except docker.errors.ImageNotFound:
            raise ImageMissing(f"{engine.name} has no image {tag}", f"mlgym-tui image build --engine {engine.name}") from None
        buffer = bytearray()
        for piece in stream:
            buffer += piece
            if len(buffer) >= chunk_bytes:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)
    finally:
        client.close()


def load_chunks(engine, chunks: Iterable[bytes]) -> list[str]:
    """Load a saved archive streamed as chunks into the engine; the names it reports loaded ("Loaded image: ...")."""
    client = _client(engine)
    loaded = []
    try:
        for item in client.api.load_image(iter(chunks)):
            problem = item.get("error") or (item.get("message") if "stream" not in item else None)
            if problem:
                raise RuntimeProblem(f"{engine.name} could not load the image: {str(problem).strip()[:300]}",
                                     f"check the disk space and logs of {engine.name} on that node")
            text = (item.get("stream") or "").strip()
            if text.startswith("Loaded image"):
                loaded.append(text.split(":", 1)[1].strip())
    except docker.errors.APIError as exc:
        raise RuntimeProblem(f"{engine.name} could not load the image: {exc.explanation or exc}"[:300],
                             f"check the disk space and logs of {engine.name} on that node") from None
    finally:
        client.close()
    if not loaded:
        raise RuntimeProblem(f"{engine.name} loaded nothing from the archive", "is the archive an image saved by an engine?")
    return loaded
