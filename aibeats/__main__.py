"""Command line: `python -m aibeats inspect FILE...`, `python -m aibeats status [SNAKEMAKE ARGS...]`,
`python -m aibeats review [--port N] [SNAKEMAKE ARGS...]` and `python -m aibeats check-config FILE...`."""

import argparse
import sys
from pathlib import Path

from aibeats.errors import AiBeatsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aibeats", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="print how a generated file was made")
    inspect.add_argument("files", nargs="+", type=Path)
    status = commands.add_parser(
        "status", help="per stage: what exists, what is missing, what a rerun would regenerate and why")
    status.epilog = "Other arguments go to snakemake, e.g. --profile profiles/demo or --configfile my.yaml."
    review = commands.add_parser(
        "review", help="serve the review page on 127.0.0.1, with Re-roll and Keep behind every item")
    review.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    review.epilog = status.epilog
    check = commands.add_parser(
        "check-config", help="check config files as a run would read them (config.yaml first), naming the file "
                             "and line of a YAML error")
    check.add_argument("files", nargs="*", type=Path)
    args, snakemake_args = parser.parse_known_args(argv)
    if snakemake_args and args.command not in ("status", "review"):
        parser.error(f"unrecognized arguments: {' '.join(snakemake_args)}")

    try:
        if args.command == "inspect":
            from aibeats.provenance import format_recipe, read_recipe

            print("\n\n".join(format_recipe(path, read_recipe(path)) for path in args.files))
        elif args.command == "check-config":
            print(check_config_files(args.files))
        elif args.command == "status":
            from aibeats.status import project_status

            print(project_status(snakemake_args))
        else:
            from aibeats.review_server import serve_review

            serve_review(snakemake_args, args.port)
    except AiBeatsError as error:
        print(f"aibeats: {error}", file=sys.stderr)
        return 1
    return 0


def check_config_files(files: list[Path]) -> str:
    from aibeats.config import merged_config, validate_config

    repository = Path(__file__).resolve().parent.parent
    paths = [Path("config.yaml") if Path("config.yaml").exists() else repository / "config.yaml", *files]
    validate_config(merged_config(paths), repository / "schemas" / "config.schema.yaml")
    return f"ok: {', '.join(str(path) for path in paths)}"


if __name__ == "__main__":
    sys.exit(main())
