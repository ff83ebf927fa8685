"""`mlgym-tui image build`: build the task image with an engine."""

from __future__ import annotations

from mlgym_tui.commands.common import add_engine_option, fail


def register(subparsers) -> None:
    parser = subparsers.add_parser("image", help="build the task image")
    actions = parser.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="build the task image from dockerfiles/")
    add_engine_option(build)
    build.add_argument("--tag", default=None, help="image name (default: the runtime setting)")
    build.set_defaults(func=run)


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
