"""`mlgym-tui image build`: build the task image with an engine."""

from __future__ import annotations

from mlgym_tui.commands.common import add_engine_option, fail


def register(subparsers) -> None:
    parser = subparsers.add_parser("image", help="build the task image; download wheels for task packages; push images to a Ray cluster")
    actions = parser.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="build the task image from dockerfiles/")
    add_engine_option(build)
    build.add_argument("--tag", default=None, help="image name (default: the runtime setting)")
    build.set_defaults(func=run)
    wheels = actions.add_parser("wheels", help="download a task's packages as wheels, for builds with no index")
    wheels.add_argument("requirements", help="a requirements file (a task's requirements_path)")
    wheels.add_argument("--dest", required=True, help="the wheel folder (then set runtime.wheels_dir to it)")
    wheels.set_defaults(func=download_wheels)
    push = actions.add_parser("push-to-cluster", help="load the task image into every node of a Ray cluster, "
                                                      "streamed through Ray (no registry)")
    add_engine_option(push)
    push.add_argument("--ray-address", default="auto", metavar="ADDRESS",
                      help="the Ray cluster (default auto: the one started on this machine)")
    push.add_argument("--image", action="append", default=None, metavar="TAG",
                      help="an image to push (repeatable; default: the runtime setting's task image)")
    push.add_argument("--task-packages", action="store_true",
                      help="also push every task-packages image this machine's engine has built")
    push.add_argument("--force", action="store_true", help="load even on nodes that have the same image id")
    push.set_defaults(func=push_to_cluster)


def download_wheels(args) -> int:
    """pip download on this machine, for the task image's Python (CPython 3.11 on x86-64 Linux)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    requirements = Path(args.requirements)
    if not requirements.is_file():
        return fail(f"{requirements} is not a file; pass a requirements file", 2)
    pip = [sys.executable, "-m", "pip"]
    if subprocess.run([*pip, "--version"], capture_output=True).returncode != 0:
        found = shutil.which("pip3") or shutil.which("pip")
        if found is None:
            return fail("no pip on this machine to download with; install it (python3 -m ensurepip) and retry")
        pip = [found]
    Path(args.dest).mkdir(parents=True, exist_ok=True)
    command = [*pip, "download", "--disable-pip-version-check", "-r", str(requirements), "-d", args.dest,
               "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
               "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64", "--platform", "any"]
    done = subprocess.run(command)
    if done.returncode != 0:
        return fail(f"pip download failed (exit {done.returncode}); see its message above")
    print(f"wheels for {requirements} are in {args.dest}; set runtime.wheels_dir: {Path(args.dest).resolve()}")
    return 0


def run(args) -> int:
    from mlgym_tui.config.runtime import RuntimeConfig
    from mlgym_tui.runtime.detect import connect
    from mlgym_tui.runtime.errors import RuntimeProblem
    from mlgym_tui.runtime.image import build_image

    config = RuntimeConfig()
    engine_name = args.engine or config.engine
    if engine_name == "local":
        return fail("the local runtime uses no image; choose --engine docker or podman")
    tag = args.tag or config.image
    try:
        engine = connect(engine_name, config)
        print(f"building {tag} with {engine.name} ({engine.info().host})")
        build_image(engine, tag)
    except RuntimeProblem as exc:
        return fail(str(exc))
    print(f"built {tag} with {engine.name}")
    return 0


def push_to_cluster(args) -> int:
    """Every tag, from this machine's engine into the same engine (by name) of every node."""
    import resource

    from mlgym_tui.batch.cluster import connect_cluster
    from mlgym_tui.batch.cluster_images import push_image
    from mlgym_tui.batch.ray_support import RayUnavailable
    from mlgym_tui.config.settings import ConfigError, get_settings
    from mlgym_tui.runtime.derived_image import derived_images
    from mlgym_tui.runtime.detect import connect as connect_engine
    from mlgym_tui.runtime.errors import RuntimeProblem

    try:
        config = get_settings().runtime
    except ConfigError as exc:
        return fail(str(exc))
    engine_name = args.engine or config.engine
    if engine_name == "local":
        return fail("the local runtime uses no image; choose --engine docker or podman")
    ok = True
    try:
        connect_cluster(args.ray_address)
        source = connect_engine(engine_name, config)
        tags = list(dict.fromkeys(args.image or [config.image]))
        if args.task_packages:
            tags += [tag for tag, _ in derived_images(source) if tag not in tags]
        for tag in tags:
            report = push_image(source, engine_name, tag, force=args.force, on_line=print)
            for result in report.results:
                what = {"loaded": f"loaded {result.image_id[7:19]}", "skipped": f"skipped: {result.detail}",
                        "failed": f"FAILED: {result.detail}"}[result.status]
                print(f"  node {result.node.label}: {tag} {what}")
            if report.bytes_sent:
                megabytes = report.bytes_sent / 1e6
                print(f"  sent {megabytes:.0f} MB in {report.seconds:.1f} s ({megabytes / max(report.seconds, 1e-6):.0f} MB/s)")
            ok = ok and report.ok
    except (RayUnavailable, RuntimeProblem) as exc:
        return fail(str(exc))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MB")
    if not ok:
        return fail("the image is missing on some nodes: see FAILED above")
    return 0
