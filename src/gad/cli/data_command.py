"""``gad data ...``: commands that create or check datasets."""

from __future__ import annotations

from jsonargparse import ArgumentParser

from gad.data.quickstart import generate_quickstart


def data_main(argv: list[str]) -> None:
    parser = ArgumentParser(prog="gad data", description="Create or check datasets.")
    commands = parser.add_subcommands(dest="command")
    quickstart = ArgumentParser(description="Generate the quickstart dataset (MVTec AD layout).")
    quickstart.add_function_arguments(generate_quickstart)
    commands.add_subcommand("quickstart", quickstart, help="Generate the quickstart dataset (MVTec AD layout).")
    config = parser.parse_args(argv)
    if config.command == "quickstart":
        root = generate_quickstart(**config.quickstart.as_dict())
        print(f"gad data quickstart: dataset written to {root}")
