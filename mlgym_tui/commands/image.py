"""`mlgym-tui image build`: build the task image with an engine."""

from __future__ import annotations

from mlgym_tui.commands.common import add_engine_option, fail


def register(subparsers) -> None:
    parser = subparsers.add_parser("image", help="build the task image; download wheels for task packages")
    actions = parser.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="build the task image from dockerfiles/")
    add_engine_option(build)
    build.add_argument("--tag", default=None, help="image name (default: the runtime setting)")
    build.set_defaults(func=run)
    wheels = actions.add_parser("wheels", help="download a task's packages as wheels, for builds with no index")
    wheels.add_argument("requirements", help="a requirements file (a task's requirements_path)")
    wheels.add_argument("--dest", required=True, help="the wheel folder (then set runtime.wheels_dir to it)")
    wheels.set_defaults(func=download_wheels)


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
