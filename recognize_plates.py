#!/usr/bin/env python3
"""Read Spanish licence plates (NNNNAAA) in photos of cars and write LicenseResults.txt.

Exit codes: 0 every image read, 1 some images failed (the others' results are
still written), 2 usage or setup error (bad flag, missing model or folder).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
from pathlib import Path

from config import RecognizeConfig
from plateocr.cli import EXIT_OK, EXIT_SETUP, EXIT_SOME_FAILED, add_verbosity, setup_logging
from plateocr.errors import PlateOCRError

log = logging.getLogger("recognize_plates")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = RecognizeConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, default=d.images, help="folder of car photos (default: %(default)s)")
    p.add_argument("--labels", type=Path, default=d.labels, help="folder of YOLO label files (default: %(default)s)")
    p.add_argument("--model", type=Path, default=d.model, help="trained .h5 model (default: %(default)s)")
    p.add_argument("--output", type=Path, default=d.output, help="results file (default: %(default)s)")
    p.add_argument("--all", action="store_true", help="also read images whose name is not a Spanish plate")
    p.add_argument("--no-labels", action="store_true", help="ignore label files: find every plate in the image")
    add_verbosity(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args)
    from plateocr.recognize import PlateReader, count_hits, list_images, recognize_folder
    from plateocr.results import license_results_text, write_text_atomic

    try:
        images = list_images(args.images, args.all)
        reader = PlateReader(args.model)
    except PlateOCRError as exc:
        print(f"recognize_plates: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    results = recognize_folder(reader, images, None if args.no_labels else args.labels)
    try:
        write_text_atomic(args.output, license_results_text((r.name, r.text) for r in results))
    except OSError as exc:
        print(f"recognize_plates: error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_SETUP
    for r in results:
        mark = "ok " if r.text == r.name else "   "
        log.info("%s%s -> %s (confidence %.2f, %.3f s)", mark, r.name, r.text or "-", r.confidence, r.seconds)
    print(f"Total Hits = {count_hits(results)} from {len(results)} images readed")
    if results:
        times = [r.seconds for r in results]
        print(f"Seconds per image: median {statistics.median(times):.3f}, total {sum(times):.1f}")
    print(f"Results written to {args.output}")
    return EXIT_SOME_FAILED if any(r.error for r in results) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
