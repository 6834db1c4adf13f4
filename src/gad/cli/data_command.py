"""``gad data ...``: commands that create, convert, list or check datasets.

gad data quickstart [--root data/quickstart]           generate the quickstart dataset
gad data list                                          the datasets gad reads, their readers and converters
gad data prepare NAME --src RAW --dst ROOT             convert a raw download (KolektorSDD, AITEX, ELPV, ...)
gad data check NAME --root ROOT [--option KEY=VALUE]   counts per category and split, or the problems
"""

from __future__ import annotations

import sys

import yaml
from jsonargparse import ArgumentParser, Namespace

from gad.cli.errors import one_line_errors
from gad.data.quickstart import generate_quickstart
from gad.data.registry import DATASETS
from gad.data.sources.check import check_source
from gad.errors import ConfigError


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="gad data", description="Create, convert, list or check datasets.")
    commands = parser.add_subcommands(dest="command")
    quickstart = ArgumentParser(description="Generate the quickstart dataset (MVTec AD layout).")
    quickstart.add_function_arguments(generate_quickstart)
    commands.add_subcommand("quickstart", quickstart, help="Generate the quickstart dataset (MVTec AD layout).")

    commands.add_subcommand("list", ArgumentParser(description="List the datasets."), help="List the datasets.")

    prepare = ArgumentParser(description="Convert a raw download into a folder gad reads (never modifying it).")
    prepare.add_argument("name", choices=sorted(s.name for s in DATASETS if s.downloaded), help="the dataset")
    prepare.add_argument("--src", required=True, help="the raw download (read only)")
    prepare.add_argument("--dst", required=True, help="a new folder for the converted dataset")
    prepare.add_argument("--seed", type=int, default=42, help="seed of the normal split (InCTRL: 42)")
    prepare.add_argument("--test_fraction", type=float, default=0.25, help="normal images to test (InCTRL: 0.25)")
    prepare.add_argument("--progress", type=bool, default=True, help="show a progress bar")
    commands.add_subcommand("prepare", prepare, help="Convert a raw download (KolektorSDD, AITEX, ELPV, ...).")

    check = ArgumentParser(description="Read a dataset and print its counts per category and split, or the problems.")
    check.add_argument("name", choices=sorted(DATASETS.names()), help="the dataset (its reader)")
    check.add_argument("--root", required=True, help="the dataset folder")
    check.add_argument("--categories", type=list[str] | None, default=None, help="only these categories")
    check.add_argument(
        "--option", nargs="*", default=[], help="other reader arguments as KEY=VALUE (e.g. protocol=multi_class)"
    )
    check.add_argument("--open_files", type=bool, default=True, help="open every image and mask header")
    check.add_argument("--progress", type=bool, default=True, help="show a progress bar")
    commands.add_subcommand("check", check, help="Print counts per category and split, or the problems.")
    return parser


def data_main(argv: list[str]) -> None:
    config = _parser().parse_args(argv)
    with one_line_errors("gad data"):
        _run(config)


def _run(config: Namespace) -> None:
    if config.command == "quickstart":
        root = generate_quickstart(**config.quickstart.as_dict())
        print(f"gad data quickstart: dataset written to {root}")
    elif config.command == "list":
        _list()
    elif config.command == "prepare":
        _prepare(config.prepare)
    elif config.command == "check":
        _check(config.check)


def _list() -> None:
    for spec in DATASETS:
        how = f"gad data prepare {spec.name}" if spec.converter is not None else "read as downloaded"
        print(f"{spec.name:13s} {spec.reader_path:35s} {how:30s} {spec.doc}")


def _prepare(args: Namespace) -> None:
    spec = DATASETS[args.name]
    if spec.converter is None:
        print(
            f"gad data prepare: {args.name} needs no conversion; read it where it is with {spec.reader_path} "
            f"(check it: gad data check {args.name} --root {args.src})"
        )
        return
    converter = spec.converter(seed=args.seed, test_fraction=args.test_fraction, progress=args.progress)
    result = converter.prepare(args.src, args.dst)
    print(f"gad data prepare: {result.summary()}")
    print(
        f"Read it with {spec.reader_path}(root={result.root}); "
        f"check it: gad data check {args.name} --root {result.root}"
    )


def _parse_options(options: list[str]) -> dict:
    parsed = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option takes KEY=VALUE, got {option!r}")
        parsed[key.strip()] = yaml.safe_load(value)
    return parsed


def _check(args: Namespace) -> None:
    source_class = DATASETS[args.name].reader
    try:
        source = source_class(root=args.root, categories=args.categories, **_parse_options(args.option))
    except TypeError as err:
        raise ConfigError(f"{source_class.__name__} does not take these options: {err}") from err
    report = check_source(source, open_files=args.open_files, progress=args.progress)
    print(f"gad data check {args.name}: {source.root} ({type(source).__name__}, masks: {source.has_masks})")
    print(report.table())
    if report.missing_test:
        print(
            f"No test split in {', '.join(report.missing_test)} ({next(iter(report.missing_test.values()))}): "
            "normal images only, usable as an auxiliary (training) set, not as a validation or target set."
        )
    for hint in report.hints:
        print(hint)
    if report.resized_masks:
        print(
            f"{report.resized_masks} masks differ in size from their images (same aspect ratio): they are resized "
            "with nearest neighbour when read."
        )
    if report.soft_masks:
        shares = sorted(report.soft_masks.items(), key=lambda item: -item[1])
        print(
            f"{len(shares)} masks are not binary (anti-aliased or blurred): between "
            f"{shares[-1][1]:.1%} and {shares[0][1]:.1%} of their non-zero pixels lie between 0 and full scale. "
            "They are binarised at half of full scale (>= 128 for 8 bits); the most affected:"
        )
        for path, share in shares[:5]:
            print(f"  {path}: {share:.1%} intermediate values")
    if report.problems:
        print(f"{len(report.problems)} problems:")
        for problem in report.problems[:50]:
            print(f"  {problem}")
        if len(report.problems) > 50:
            print(f"  ... and {len(report.problems) - 50} more")
        sys.exit(1)
    print("OK")
