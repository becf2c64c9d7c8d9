"""Convert a raw data set to the canonical layout (docs/data.md).

    python -m artrec.data.convert <format> --src DIR --out DIR [format options]

Formats come from :data:`ADAPTERS`; ``python -m artrec.data.convert <format> --help``
lists each one's options. Images are referenced in place (absolute paths), so the result
loads with ``load_dataset(out, allow_absolute_images=True)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from artrec.data.adapters import ConversionReport, omniart, ugallery, wikiart
from artrec.errors import ArtrecError


@dataclass(frozen=True)
class Adapter:
    """One source format: its converter and its command-line options."""

    convert: Callable[..., ConversionReport]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    help: str


ADAPTERS: dict[str, Adapter] = {
    "ugallery": Adapter(
        ugallery.convert,
        ugallery.add_arguments,
        "UGallery: original export (valid_artworks/valid_sales.csv) or hashed public release",
    ),
    "omniart": Adapter(
        omniart.convert,
        omniart.add_arguments,
        "OmniArt metadata CSV: cleaned artist/type/year labels and a 70/20/10 split",
    ),
    "wikiart": Adapter(
        wikiart.convert,
        wikiart.add_arguments,
        "WikiArt style folders or ArtGAN CSV lists: artist/genre/style labels",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser: one sub-command per registered format."""
    parser = argparse.ArgumentParser(
        prog="artrec-convert", description="Convert a raw data set to the canonical layout."
    )
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, adapter in ADAPTERS.items():
        sub = formats.add_parser(name, help=adapter.help, description=adapter.help)
        sub.add_argument("--src", type=Path, required=True, help="the raw data set's folder")
        sub.add_argument("--out", type=Path, required=True, help="where to write items.csv ...")
        adapter.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: convert, print the report; exit code 2 on bad input."""
    options = vars(build_parser().parse_args(argv))
    name, src, out = options.pop("format"), options.pop("src"), options.pop("out")
    try:
        report = ADAPTERS[name].convert(src, out, **options)
    except ArtrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    print(
        f"Images are referenced in place: load with "
        f"artrec.data.load_dataset({str(report.out)!r}, allow_absolute_images=True) "
        "or dataset.allow_absolute_images=true."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
