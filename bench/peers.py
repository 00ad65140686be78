#!/usr/bin/env python3
"""Our reader beside two peers (Tesseract, RapidOCR), on the same images, in one table.

::

    .venv/bin/python bench/peers.py --model models/chars74k_cnn.h5 [--limit N] [--details FILE]

Datasets: the test folder's Spanish-named photos (``data/test6Training``, 21 plates) and the
generated set (``data/synthetic_test``, written beforehand by ``bench/testset.py``), and with
``--subsets tilted,two_row,small`` those subsets of it. Each is read with its YOLO labels and without them. Figures, never assertions:

* **hits**: readings equal to the file name (``plateocr.recognize.count_hits``);
* **char acc**: mean over images of :func:`char_accuracy` (per-position matches over 7 for a
  reading of 7 characters, else ``1 - edit distance / 7`` floored at 0; an empty reading scores 0);
* **median s**: median wall seconds per image, from reading the file to the final reading; each
  engine first reads one image untimed (warm-up: model loading, graph tracing, session set-up).

Engines:

* **ours**: ``PlateReader.read_image`` (labels folder, or None: the localiser's candidates).
* **tesseract** (Debian ``tesseract-ocr``): the same filtered crops as ours, i.e. our candidates
  (label box with margin, or the localiser's), ``CharsReader.filtered_variants`` (each view, each
  filter of the bank);
  each variant read with ``--psm 7`` and a whitelist of digits and the 20 plate consonants, all
  variants of an image in one ``tesseract`` process; the reading is the majority of the variants'
  readings that match ``SPANISH_PLATE`` once spaces are removed (as the original program judged it).
  ``OMP_THREAD_LIMIT=1``: OpenMP only slows tesseract down on one-line images.
* **rapidocr** (PyPI ``rapidocr_onnxruntime``, PP-OCR models inside the wheel, no download): without
  labels detection + recognition on the whole photo; with labels recognition only on the label box
  (with our margin), in colour; the reading is :func:`extract_spanish` of its most confident text line
  that holds one, else of all its lines joined.

The CPU is shared with other work: the header prints the core count and the load average.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from plateocr.errors import InputError, SetupError  # noqa: E402
from plateocr.imageio import read_image  # noqa: E402
from plateocr.plates import Box, crop  # noqa: E402
from plateocr.recognize import ImageResult, PlateReader, count_hits, list_images  # noqa: E402

log = logging.getLogger("peers")

SPANISH_SEARCH = re.compile(rf"[0-9]{{4}}[{config.SPANISH_LETTERS}]{{3}}")
# Letters a recogniser commonly returns for a digit; applied to the digit part only.
DIGIT_CONFUSIONS = str.maketrans({"O": "0", "I": "1"})
TESSERACT_WHITELIST = config.DIGITS + config.SPANISH_LETTERS
# What tesseract writes on stderr as it starts each image of a list file.
TESSERACT_PAGE = re.compile(r"^Page (\d+) :", re.MULTILINE)
MODES: dict[str, bool] = {"labels": True, "no labels": False}


# --------------------------------------------------------------------------------------------
# Scoring and reading extraction (pure)
# --------------------------------------------------------------------------------------------


def extract_spanish(text: str) -> str:
    """The first Spanish plate ``NNNNAAA`` in a recogniser's free text, or ``""``.

    Upper-cased, non-alphanumerics removed, then searched as is; failing that, each 7-character
    window is tried with O->0 and I->1 in its four digits (the letters are never changed, so a
    vowel or a Q there rejects the window).
    """
    clean = re.sub(r"[^0-9A-Z]", "", text.upper())
    found = SPANISH_SEARCH.search(clean)
    if found:
        return found.group()
    for start in range(len(clean) - config.PLATE_LENGTH + 1):
        window = clean[start : start + 4].translate(DIGIT_CONFUSIONS) + clean[start + 4 : start + config.PLATE_LENGTH]
        if config.SPANISH_PLATE.match(window):
            return window
    return ""


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions cost 1)."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def char_accuracy(reading: str, truth: str) -> float:
    """Share of the truth's characters read right.

    A reading as long as the truth scores its per-position matches; any other (an empty one
    included) scores ``1 - edit_distance / len(truth)``, floored at 0.
    """
    if len(reading) == len(truth):
        return sum(r == t for r, t in zip(reading, truth)) / len(truth)
    return max(0.0, 1.0 - edit_distance(reading, truth) / len(truth))


def vote_spanish(texts: Iterable[str]) -> str:
    """The most frequent text that is a Spanish plate once spaces are removed (ties: first seen)."""
    valid = [t for t in ("".join(text.split()) for text in texts) if config.SPANISH_PLATE.match(t)]
    return Counter(valid).most_common(1)[0][0] if valid else ""


def best_line_reading(lines: Sequence[tuple[str, float]]) -> str:
    """The plate in the most confident ``(text, score)`` line that holds one, else in all lines joined."""
    for text, _ in sorted(lines, key=lambda line: -line[1]):
        reading = extract_spanish(text)
        if reading:
            return reading
    return extract_spanish("".join(text for text, _ in lines))


# --------------------------------------------------------------------------------------------
# Engines
# --------------------------------------------------------------------------------------------


class Engine(Protocol):
    """Reads one image file (with a labels folder or None) into a plate string (``""``: nothing)."""

    name: str

    def read(self, path: Path, labels: Path | None) -> str: ...


@dataclass
class OurEngine:
    """Our full pipeline."""

    reader: PlateReader
    name: str = "ours"

    def read(self, path: Path, labels: Path | None) -> str:
        return self.reader.read_image(path, labels).text


def filtered_crops(reader: PlateReader, path: Path, labels: Path | None) -> list[np.ndarray]:
    """Every filter variant of every plate candidate ours would read, candidate by candidate."""
    image = read_image(path)
    variants = []
    for cand in [c for c in reader.candidates(image, path, labels) if c.tightens < 0]:
        variants += reader.chars.filtered_variants(crop(image, cand.box))
    return variants


@dataclass
class TesseractEngine:
    """Tesseract on our filtered crops, one process per image, majority vote of Spanish readings."""

    reader: PlateReader
    workdir: Path
    name: str = "tesseract"

    def ocr(self, images: Sequence[np.ndarray]) -> list[str]:
        """One text line per image, from a single ``tesseract`` run over a list file."""
        if not images:
            return []
        paths = []
        for index, image in enumerate(images):
            paths.append(self.workdir / f"v{index:03d}.png")
            cv2.imwrite(str(paths[-1]), image)
        listing = self.workdir / "list.txt"
        listing.write_text("".join(f"{p}\n" for p in paths))
        command = ["tesseract", str(listing), "stdout", "--psm", "7",
                   "-c", f"tessedit_char_whitelist={TESSERACT_WHITELIST}"]
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        pages = done.stdout.split("\f")  # pages are separated by form feeds
        if done.returncode != 0 or len(pages) != len(images):
            # Tesseract 5.3 dies (SIGFPE) on a rare degenerate crop, losing the rest of the list. The
            # last "Page N :" on stderr names the crop it died on: the pages before it are kept, that
            # crop reads as nothing, and the ones after it are read in a new run.
            started = TESSERACT_PAGE.findall(done.stderr)
            crashed = min(int(started[-1]) if started else len(pages) - 1, len(pages), len(images))
            log.warning("tesseract exited %d on variant %d of %d; going on without it",
                        done.returncode, crashed + 1, len(images))
            pages = pages[:crashed] + [""] + self.ocr(images[crashed + 1 :])
        return pages[: len(images)]

    def read(self, path: Path, labels: Path | None) -> str:
        return vote_spanish(self.ocr(filtered_crops(self.reader, path, labels)))


def rapidocr_lines(ocr: Callable[..., tuple[Any, Any]], image: np.ndarray, box: Box | None = None) -> list[tuple[str, float]]:
    """RapidOCR's text lines and scores: detection and recognition on the whole ``image``, or, given a
    plate ``box``, recognition alone of its crop."""
    if box is None:
        result, _ = ocr(image)
        return [(str(text), float(score)) for _, text, score in result or []]
    result, _ = ocr(np.ascontiguousarray(crop(image, box)), use_det=False, use_cls=False, use_rec=True)
    return [(str(text), float(score)) for text, score in result or []]


@dataclass
class RapidEngine:
    """RapidOCR: det+rec on the photo without labels, rec only on the labelled plate crop."""

    reader: PlateReader
    ocr: Callable[..., tuple[Any, Any]]
    name: str = "rapidocr"

    def read(self, path: Path, labels: Path | None) -> str:
        image = read_image(path)
        if labels is None:
            return best_line_reading(rapidocr_lines(self.ocr, image))
        boxes = [cand.box for cand in self.reader.candidates(image, path, labels) if cand.tightens < 0]
        lines = [line for box in boxes for line in rapidocr_lines(self.ocr, image, box)]
        return best_line_reading(lines)


def make_engines(names: Sequence[str], reader: PlateReader, workdir: Path) -> dict[str, Engine | str]:
    """Each requested engine, or the reason it is skipped."""
    engines: dict[str, Engine | str] = {}
    for name in names:
        if name == "ours":
            engines[name] = OurEngine(reader)
        elif name == "tesseract":
            found = shutil.which("tesseract")
            engines[name] = TesseractEngine(reader, workdir) if found else (
                "skipped: tesseract not installed (apt-get install -y tesseract-ocr)")
        elif name == "rapidocr":
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError:
                engines[name] = ("skipped: rapidocr_onnxruntime not installed "
                                 "(pip install --no-deps -r requirements-bench.txt)")
            else:
                engines[name] = RapidEngine(reader, RapidOCR())
    return engines


def engine_versions() -> str:
    """Versions of the peers, for the header."""
    parts = []
    if shutil.which("tesseract"):
        out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=False)
        parts.append((out.stdout or out.stderr).splitlines()[0])
    for package in ("rapidocr_onnxruntime", "onnxruntime"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts) or "no peer installed"


# --------------------------------------------------------------------------------------------
# Running and reporting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """A folder of plate-named images with their YOLO labels."""

    name: str
    images: Path
    labels: Path


@dataclass
class Row:
    """One line of the table: an engine on a dataset in one mode, or why it was skipped."""

    dataset: str
    mode: str
    engine: str
    results: list[ImageResult] = field(default_factory=list)
    skipped: str = ""

    def cells(self) -> list[str]:
        if self.skipped:
            return [self.dataset, self.mode, self.engine, self.skipped, "", ""]
        hits, n = count_hits(self.results), len(self.results)
        accuracy = statistics.mean(char_accuracy(r.text, r.name) for r in self.results)
        median = statistics.median(r.seconds for r in self.results)
        return [self.dataset, self.mode, self.engine, f"{hits}/{n} ({hits / n:.0%})", f"{accuracy:.1%}",
                f"{median:.3f}"]


def run_engine(engine: Engine, files: Sequence[Path], labels: Path | None) -> list[ImageResult]:
    """Read every file, timing each read; one untimed read of the first file warms the engine up."""
    engine.read(files[0], labels)
    results = []
    for path in files:
        started = time.perf_counter()
        try:
            text = engine.read(path, labels)
        except InputError as exc:  # an unreadable image is a miss, as in ours
            log.warning("%s: %s", engine.name, exc)
            text = ""
        results.append(ImageResult(name=path.stem, path=path, text=text, seconds=time.perf_counter() - started))
        log.debug("%s %s -> %r", engine.name, path.stem, text)
    return results


def format_table(rows: Sequence[Row]) -> str:
    """A Markdown table (readable as is in a terminal)."""
    header = ["dataset", "mode", "engine", "exact plates", "char acc", "median s/img"]
    body = [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(cells) for cells in body)])


def write_details(path: Path, rows: Sequence[Row]) -> None:
    """Every reading, one CSV line per dataset, mode, engine and image."""
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "mode", "engine", "image", "reading", "char_acc", "seconds"])
        for row in rows:
            for r in row.results:
                writer.writerow([row.dataset, row.mode, row.engine, r.name, r.text,
                                 f"{char_accuracy(r.text, r.name):.3f}", f"{r.seconds:.4f}"])


def machine_line() -> str:
    """Cores and load average: the CPU is shared, so timings need this context."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"cores: {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}); load average (1, 5, 15 min): {load}"


def benchmark_datasets(test6: Path, synthetic: Path, subsets: str = "") -> list[Dataset]:
    """test6's photos, the generated set, then each of the comma-separated ``subsets`` of the generated set."""
    names = [name.strip() for name in subsets.split(",") if name.strip()]
    return [Dataset("test6Training", test6 / "images", test6 / "labels"),
            Dataset("generated", synthetic / "images", synthetic / "labels")] + [
        Dataset(f"generated {name}", synthetic / name / "images", synthetic / name / "labels") for name in names
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print the table; exit 0, or 2 on a setup error (missing model or images)."""
    rc = config.RecognizeConfig()
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=rc.model, help="our trained model (read only)")
    parser.add_argument("--test6", type=Path, default=rc.images.parent, help="test folder (images/, labels/)")
    parser.add_argument("--synthetic", type=Path, default=config.DATA_DIR / "synthetic_test",
                        help="generated test set (images/, labels/), written by bench/testset.py")
    parser.add_argument("--subsets", default="",
                        help="comma-separated subsets of the generated set also read (tilted, two_row, small: "
                             "bench/testset.py --subsets all), each a dataset of its own")
    parser.add_argument("--engines", default="ours,tesseract,rapidocr", help="comma-separated engines")
    parser.add_argument("--modes", default="labels,no labels", help="comma-separated: labels, no labels")
    parser.add_argument("--limit", type=int, default=0, help="first N images of each dataset (0: all)")
    parser.add_argument("--details", type=Path, help="write every reading to this CSV")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every reading")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s", force=True)
    logging.getLogger("plateocr").setLevel(logging.ERROR)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    engine_names = [e.strip() for e in args.engines.split(",") if e.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [e for e in engine_names if e not in ("ours", "tesseract", "rapidocr")] + [m for m in modes if m not in MODES]
    if bad:
        parser.error(f"unknown engine or mode: {', '.join(bad)}")

    print(machine_line())
    print(f"peers: {engine_versions()}")
    datasets = benchmark_datasets(args.test6, args.synthetic, args.subsets)
    try:
        files = {d.name: list_images(d.images, include_all=False)[: args.limit or None] for d in datasets}
        reader = PlateReader(args.model, rc)
    except SetupError as exc:
        hint = "" if all(d.images.is_dir() for d in datasets[1:]) else " (write it with bench/testset.py --subsets all)"
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        engines = make_engines(engine_names, reader, Path(tmp))
        for dataset in datasets:
            for mode in modes:
                labels = dataset.labels if MODES[mode] else None
                for name, engine in engines.items():
                    row = Row(dataset.name, mode, name)
                    if isinstance(engine, str):
                        row.skipped = engine
                    else:
                        started = time.perf_counter()
                        row.results = run_engine(engine, files[dataset.name], labels)
                        log.info("%s, %s, %s: %s (%.0f s)", dataset.name, mode, name, row.cells()[3],
                                 time.perf_counter() - started)
                    rows.append(row)
    print()
    print(format_table(rows))
    print(f"\n{machine_line()} (at the end)")
    if args.details:
        write_details(args.details, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
