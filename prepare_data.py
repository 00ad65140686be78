#!/usr/bin/env python3
"""Fill data/ with Chars74K and test6Training (link a local mirror, or download) and verify it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config import DATA_DIR, DEFAULT_MIRROR
from plateocr.cli import EXIT_OK, EXIT_SETUP, add_verbosity, setup_logging
from plateocr.errors import PlateOCRError
from plateocr.prepare import (
    CHARS74K_URL,
    DEFAULT_DECODE_SAMPLE,
    DEFAULT_TIMEOUT,
    TEST6,
    TEST6_URL,
    DataReport,
    prepare_data,
    verify_data,
)


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--data-dir", type=Path, default=DATA_DIR, metavar="DIR", help="folder to fill (default: %(default)s)"
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--mirror",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"read-only local copy to link from (default: {DEFAULT_MIRROR} when it exists, else download)",
    )
    source.add_argument(
        "--download",
        action="store_true",
        help="download the public archives even if the mirror exists (default: off)",
    )
    for flag, url, what in (("--chars74k-url", CHARS74K_URL, "Chars74K"), ("--test6-url", TEST6_URL, TEST6)):
        p.add_argument(flag, default=url, metavar="URL", help=f"{what} archive (default: %(default)s)")
    p.add_argument("--verify-only", action="store_true", help="only check --data-dir (default: off)")
    p.add_argument(
        "--decode-sample",
        type=_non_negative_int,
        default=DEFAULT_DECODE_SAMPLE,
        metavar="N",
        help="images per class folder to test-decode, 0 for all (default: %(default)s)",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="a download stalled this long fails (default: %(default)s)",
    )
    add_verbosity(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args)
    report: DataReport
    try:
        if args.verify_only:
            report = verify_data(args.data_dir, args.decode_sample)
        else:
            report = prepare_data(
                args.data_dir,
                args.mirror,
                args.download,
                chars74k_url=args.chars74k_url,
                test6_url=args.test6_url,
                decode_sample=args.decode_sample,
                timeout=args.timeout,
            )
    except PlateOCRError as exc:
        print(f"prepare_data: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    for line in report.summary_lines():
        print(line)
    for problem in report.problems:
        print(f"prepare_data: error: {problem}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_SETUP


if __name__ == "__main__":
    sys.exit(main())
