"""`mlgym-tui doctor`: what engines are there, can we use them, and what to do when not."""

from __future__ import annotations

import shutil

from mlgym_tui.commands.common import fail


def register(subparsers) -> None:
    parser = subparsers.add_parser("doctor", help="check container engines and the task image")
    parser.add_argument("--cleanup", action="store_true", help="remove containers left behind by crashed runs")
    parser.add_argument("--cluster", action="store_true",
                        help="check every node of a Ray cluster instead: engines, task image, GPUs, mlgym_containers")
    parser.add_argument("--ray-address", default="auto", metavar="ADDRESS",
                        help="the Ray cluster with --cluster (default auto: the one started on this machine)")
    parser.set_defaults(func=run)


def check_engines(config) -> list:
    from mlgym_tui.runtime.detect import EngineStatus, connect_docker, connect_podman
    from mlgym_tui.runtime.errors import EngineUnavailable

    statuses = []
    for name, binary, connector, fix_missing in (
        ("docker", "dockerd", connect_docker, "apt-get install docker.io (or Docker's own packages)"),
        ("podman", "podman", lambda c: connect_podman(c, start_service=True), "apt-get install podman runc"),
    ):
        status = EngineStatus(name=name, found=shutil.which(binary) is not None or shutil.which(name) is not None, reachable=False)
        try:
            engine = connector(config)
        except EngineUnavailable as exc:
            status.problem, status.fix = exc.problem, exc.fix if status.found else fix_missing
            statuses.append((status, None))
            continue
        info = engine.info()
        status.found = True
        status.reachable, status.version, status.host = True, info.version, info.host
        status.image_present = engine.image_exists(config.image)
        if not status.image_present:
            status.problem = f"image {config.image} is missing"
            status.fix = f"mlgym-tui image build --engine {name}"
        statuses.append((status, engine))
    return statuses


def run(args) -> int:
    from rich.console import Console

    from mlgym_tui.config.settings import ConfigError, get_settings

    try:
        settings = get_settings()
    except ConfigError as exc:
        return fail(str(exc))
    config = settings.runtime
    if args.cluster:
        return run_cluster(config.image, args.ray_address)
    console = Console()
    usable = False
    statuses = check_engines(config)
    mark = lambda v: "[green]yes[/]" if v else ("[red]no[/]" if v is not None else "-")  # noqa: E731
    for status, engine in statuses:
        console.print(
            f"[bold]{status.name}[/]  found {mark(status.found)}  reachable {mark(status.reachable)}"
            + (f"  version {status.version}  socket {status.host}" if status.reachable else "")
            + (f"  image {config.image} {mark(status.image_present)}" if status.reachable else ""),
            highlight=False,
        )
        if engine is not None:
            from mlgym_tui.runtime.derived_image import derived_images

            console.print(f"  GPUs: {engine.gpu_support()}", highlight=False)
            for tag, requirements in derived_images(engine):
                console.print(f"  task packages image {tag}: {', '.join(requirements)}", highlight=False,
                              soft_wrap=True)
        if status.problem:
            console.print(f"  [yellow]problem:[/] {status.problem}", highlight=False)
            console.print(f"  [yellow]fix:[/] {status.fix}", highlight=False)
        usable = usable or bool(status.reachable and status.image_present)
    console.print("local runtime: always available with --engine local [yellow](no isolation)[/]")
    for status, engine in statuses:
        if engine is None:
            continue
        leftovers = engine.leftovers()
        if args.cleanup:
            removed = engine.cleanup()
            console.print(f"{status.name}: removed {len(removed)} leftover container(s) {' '.join(removed)}")
        elif leftovers:
            console.print(f"{status.name}: {len(leftovers)} leftover container(s) from crashed runs: run `mlgym-tui doctor --cleanup`")
    if not usable:
        console.print("[red]no usable engine with the task image[/]: follow the fix column above")
        return 1
    return 0


def run_cluster(image: str, address: str) -> int:
    """One row per alive node; exit 1 when any node cannot run episodes, each problem with its fix."""
    from rich.console import Console
    from rich.table import Table

    from mlgym_tui.batch.cluster import cluster_readiness, connect_cluster
    from mlgym_tui.batch.ray_support import RayUnavailable

    try:
        connect_cluster(address)
        nodes = cluster_readiness(image)
    except RayUnavailable as exc:
        return fail(str(exc))
    table = Table(title=f"Ray cluster: {len(nodes)} node(s), task image {image}", title_justify="left")
    for column in ("node", "engines reachable", "task image", "GPUs", "mlgym_containers free/total"):
        table.add_column(column, overflow="fold")
    for ready in nodes:
        node = ready.node
        engines = ", ".join(f"{e.name} {e.version}" for e in ready.engines if e.reachable) or "[red]none[/]"
        images = ", ".join(f"{e.name} {e.image_id[7:19]}" if e.image_present else f"{e.name} [red]missing[/]"
                           for e in ready.engines if e.reachable) or "-"
        gpus = f"ray {node.gpus}; " + ", ".join(f"{e.name} {e.gpus.split(':')[0]}" for e in ready.engines if e.reachable)
        containers = f"{node.containers_free}/{node.containers_total}"
        if ready.error:
            engines = images = "[red]no answer[/]"
        table.add_row(node.label, engines, images, gpus,
                      containers if node.containers_total else f"[red]{containers}[/]")
    console = Console()
    console.print(table)
    unusable = [ready for ready in nodes if not ready.usable]
    for ready in unusable:
        for problem in ready.problems:
            console.print(f"[yellow]node {ready.node.label}:[/] {problem}", highlight=False, soft_wrap=True)
    if unusable:
        console.print(f"[red]{len(unusable)} of {len(nodes)} node(s) cannot run episodes[/]: fix them as said above")
        return 1
    console.print(f"[green]all {len(nodes)} node(s) can run episodes[/]")
    return 0
