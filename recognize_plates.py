#!/usr/bin/env python3
"""Read Spanish licence plates (NNNNAAA) in photos of cars and write LicenseResults.txt.

Give image files and folders to read them all (JPEG, PNG, BMP, TIFF, WebP; sub-folders
with --recursive); without them the test folder (--images) is read, Spanish-plate file
names only unless --all. Each image's plate box comes from <labels>/<stem>.txt when that
file exists, otherwise from the built-in plate localiser.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shlex
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from config import READERS, RecognizeConfig
from plateocr.cli import (
    EXIT_OK,
    EXIT_SETUP,
    EXIT_SOME_FAILED,
    add_corner_flags,
    add_verbosity,
    corner_model,
    setup_logging,
)
from plateocr.errors import PlateOCRError, SetupError
from plateocr.filters import FILTERS, filter_bank
from plateocr.stream import Engine, RunSummary, is_hit

if TYPE_CHECKING:
    from plateocr.batch import ImageOutputs

log = logging.getLogger("recognize_plates")

# 128 + SIGINT, as shells report a Ctrl-C.
EXIT_INTERRUPTED = 130

EPILOG = """\
outputs:
  Every file is written to a temporary file beside it and renamed, so it is always either the
  previous version or a complete new one; --jsonl instead grows by one flushed line per image,
  and --resume goes on from it. --json/--csv/--parquet hold per image: name, file, reading,
  confidence, per-character probabilities, plate box (pixels of the EXIF-oriented image),
  where the box came from (label or localiser), seconds and error.

video:
  --video FILE_OR_URL reads a file or a stream instead of photos and writes one JSON object per
  passage of a plate (reading voted over its frames, first_seen_s, last_seen_s, frames,
  confidence, box) to --jsonl as each closes; --save-annotated DIR gets each event's best frame.
  A dropped stream is reopened with back-off; Ctrl-C closes and writes the open events (130).

exit codes:
  0    every image was read (video: the file or stream was read to its end)
  1    some images failed (each named on stderr with the cause); all other results are written
       (video: the stream dropped and could not be reopened)
  2    usage or setup error: bad flag, missing input/model, incompatible model, unwritable output;
       or worker processes dying on image after image (--jobs): the outputs then hold the images
       read so far, and the message says how to go on
  130  interrupted (Ctrl-C or SIGTERM): the outputs hold the images read so far, and the message
       says how to go on with --jsonl FILE --resume
"""


def parse_filters(text: str) -> tuple[str, ...]:
    """``--filters``: comma-separated names of ``plateocr.filters.FILTERS``, or ``all``."""
    names = tuple(FILTERS) if text.strip() == "all" else tuple(n.strip() for n in text.split(",") if n.strip())
    try:
        filter_bank(names)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc} (or 'all')") from None
    return names


def input_arg(text: str) -> Path | str:
    """An input: a local path, or a URI (``s3://...``) kept as text (a Path would fold its ``//``)."""
    from plateocr.stream import is_uri

    return text if is_uri(text) else Path(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = RecognizeConfig()
    p = argparse.ArgumentParser(
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("inputs", nargs="*", type=input_arg, metavar="IMAGE_OR_FOLDER",
                   help="images and folders of images to read (every image given, whatever its name); with "
                   "--engine ray also URIs such as s3://bucket/prefix/")
    p.add_argument("-r", "--recursive", action="store_true", help="also read images in sub-folders")
    p.add_argument("--images", type=Path, default=None, metavar="DIR",
                   help=f"folder of car photos read when no inputs are given (default: {d.images})")
    p.add_argument("--all", action="store_true",
                   help="with --images: also read images whose name is not a Spanish plate")
    p.add_argument("--labels", type=Path, default=None, metavar="DIR",
                   help=f"folder of YOLO label files <stem>.txt (default: {d.labels})")
    p.add_argument("--no-labels", action="store_true", help="ignore label files: find every plate in the image")
    p.add_argument("--crops", action="store_true",
                   help="the images are plates already cut out (two-row squares too): read each one whole, first, "
                   f"as well as the boxes found in it (without it, images at least {d.crop_aspect:g} times as wide "
                   f"as tall are read whole first, and images at most {d.crop_size} px long last)")
    p.add_argument("--model", type=Path, default=d.model, metavar="PATH",
                   help="trained Chars74K character model (default: %(default)s)")
    p.add_argument("--plate-model", type=Path, default=d.plate_model, metavar="PATH",
                   help="trained whole-plate reader model (default: %(default)s)")
    add_corner_flags(p, d.corner_model)
    p.add_argument("--reader", choices=READERS, default=d.reader,
                   help="which readers read each plate box: 'chars' (the Chars74K port: filters, segmentation, "
                   "character CNN), 'plate' (the whole-plate reader) or 'both', arbitrated (default: %(default)s)")
    p.add_argument("--output", type=Path, default=d.output, metavar="FILE",
                   help="one 'name,reading' line per image (default: %(default)s)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write every detail as JSON")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write every detail as CSV")
    p.add_argument("--save-annotated", type=Path, metavar="DIR",
                   help="write each photo with its plate box and reading drawn on it (DIR/<name>.png)")
    p.add_argument("--save-crops", type=Path, metavar="DIR", help="write the plate crop that was read (DIR/<name>.png)")
    p.add_argument("--min-confidence", type=float, default=d.min_confidence, metavar="P",
                   help="leave a reading empty when its confidence (the probability that it is right) is below "
                   "P, rather than risk a wrong one; the JSON keeps it as uncertain_reading (default: %(default)s)")
    p.add_argument("--filters", type=parse_filters, default=d.filters, metavar="NAMES",
                   help="comma-separated filter bank applied to each plate view, or 'all' (default: "
                   f"{','.join(d.filters)}; all: {','.join(FILTERS)})")
    p.add_argument("--no-rectify", action="store_true",
                   help="read only the plain plate crop, not also its perspective-rectified view")
    p.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                   help="processes reading images in parallel, each loading the model once; 0: one per CPU "
                   "(default: 1; with --engine ray: Ray actors, default one per CPU of the cluster)")
    p.add_argument("--jsonl", type=Path, metavar="FILE",
                   help="append each image's JSON record to FILE as soon as it is read (JSON Lines); "
                   "with --video: each event as it closes")
    p.add_argument("--resume", action="store_true",
                   help="with --jsonl: skip the images already recorded there (same path, size and mtime)")
    p.add_argument("--parquet", type=Path, metavar="DIR",
                   help="also write the records as Parquet files in DIR (needs requirements-ray.txt)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this machine (--jobs processes); ray: a Ray Data pipeline, on the cluster at "
                   "RAY_ADDRESS or a local Ray (needs requirements-ray.txt; --jobs: actors, 0: one per CPU) "
                   "(default: %(default)s)")
    video = p.add_argument_group("video (instead of photos)")
    video.add_argument("--video", metavar="FILE_OR_URL",
                       help="read a video file or a stream (rtsp://, http://): one event per passage of a plate")
    video.add_argument("--every", type=int, metavar="N", help="read one frame in N (default: about 5 a second)")
    add_verbosity(p)
    args = p.parse_args(argv)
    check_video_args(p, args)
    if args.resume and args.jsonl is None:
        p.error("--resume needs --jsonl FILE (the records to resume from)")
    if args.jobs is not None and args.jobs < 0:
        p.error(f"argument -j/--jobs: must be >= 0, got {args.jobs}")
    if not 0.0 <= args.min_confidence <= 1.0:
        p.error(f"argument --min-confidence: must be in [0, 1], got {args.min_confidence}")
    if args.inputs and args.images is not None:
        p.error("give image files/folders or --images DIR, not both")
    return args


def check_video_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--video excludes photo inputs and the photo runs' options; --every needs it."""
    if args.video is None:
        if args.every is not None:
            p.error("--every goes with --video")
        return
    if args.inputs or args.images is not None:
        p.error("give --video or photos, not both")
    if args.resume or args.parquet is not None or args.engine != "local":
        p.error("--resume, --parquet and --engine go with photos, not --video")
    if args.every is not None and args.every < 1:
        p.error(f"argument --every: must be >= 1, got {args.every}")


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_SETUP
    from plateocr.stream import RunInterrupted, RunStopped

    try:
        setup_logging(args)
        if args.video:
            return run_video(args)
        with sigterm_as_interrupt():
            return run(args)
    except RunInterrupted as stop:
        stopped_midway(stop.summary, "interrupted", argv, args)
        return EXIT_INTERRUPTED
    except RunStopped as stop:
        stopped_midway(stop.summary, f"error: {stop.cause}; stopped", argv, args)
        return EXIT_SETUP
    except KeyboardInterrupt:
        print("recognize_plates: interrupted; results not written, existing files are unchanged", file=sys.stderr)
        return EXIT_INTERRUPTED


def stopped_midway(summary: RunSummary, what: str, argv: list[str] | None, args: argparse.Namespace) -> None:
    """After a run stopped midway (Ctrl-C, or an engine failure) whose outputs hold what was read: its
    report, then ``what`` happened, how far it got, and the command that goes on."""
    report(summary, args)
    print(f"recognize_plates: {what} after {summary.done} of {summary.images} images; "
          f"the outputs hold those. To go on: {resume_command(argv, args, summary.kept_log)}",
          file=sys.stderr)  # fmt: skip


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a container stopped, a job cancelled) ends the run like Ctrl-C: outputs of what was read."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def resume_command(argv: list[str] | None, args: argparse.Namespace, kept: Path | None) -> str:
    """The command line that goes on where an interrupted run stopped."""
    words = list(sys.argv[1:] if argv is None else argv)
    if args.jsonl is None:
        if kept is None:
            return "rerun with --jsonl FILE to be able to resume next time"
        words += ["--jsonl", str(kept)]
    if not args.resume:
        words.append("--resume")
    return " ".join(shlex.quote(w) for w in ["python", "recognize_plates.py", *words])


def run(args: argparse.Namespace) -> int:
    """Read the images and write every output; returns the exit code."""
    from plateocr.batch import ImageOutputs
    from plateocr.inputs import unique_names
    from plateocr.results import check_writable
    from plateocr.stream import OutputFiles, RunStopped, stream_run

    started = time.perf_counter()
    cfg = reader_config(args)
    outputs = ImageOutputs(args.save_annotated, args.save_crops)
    files = OutputFiles(args.output, args.json, args.csv, args.jsonl, args.parquet)
    try:
        images, identity, where = list_inputs(args, cfg)
        labels = label_folder(args, cfg)
        for path, is_dir in output_paths(args):
            check_writable(path, directory=is_dir)
        if args.parquet is not None:
            from plateocr.parquet import import_pyarrow

            import_pyarrow()
        names = unique_names(Path(p) for p in images)
        with engine_for(args, cfg, images, names, labels, outputs or None) as (engine, startup):
            if not images:  # after the engine, so that a missing model is reported first
                raise SetupError(f"{where}: no images to read" + ("" if args.inputs or args.all else " (try --all)"))
            with progress(len(images), args.quiet) as advance:
                summary = stream_run(
                    engine, names, identity, files, args.model, resume=args.resume,
                    on_record=lambda _record: advance(1), on_skip=advance, started=started,
                    on_final=lambda record: log.info(
                        "%s%s -> %s (confidence %.2f, %.3f s)", "ok " if is_hit(record) else "   ", record["name"],
                        record["reading"] or "-", record["confidence"], record["seconds"],
                    ),
                )  # fmt: skip
    except RunStopped:
        raise  # main() reports it, with the command that goes on
    except PlateOCRError as exc:
        print(f"recognize_plates: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except OSError as exc:  # from check_writable: nothing has been read yet
        cannot_write(exc.filename, exc)
        return EXIT_SETUP
    summary.startup = startup
    report(summary, args)
    if summary.failures:
        return EXIT_SETUP
    return EXIT_SOME_FAILED if summary.failed else EXIT_OK


def report(summary: RunSummary, args: argparse.Namespace) -> None:
    """The closing lines on stdout: hits, time per image, and the summary (rate, failures, outputs)."""
    for path, error in summary.failures:
        cannot_write(path, error)
    print(f"Total Hits = {summary.hits} from {summary.done} images readed")
    if summary.seconds:
        times = list(summary.seconds)
        print(f"Seconds per image: median {statistics.median(times):.3f}, total {sum(times):.1f}")
    broken = {f for f, _ in summary.failures}
    written = [str(p) for p in (args.output, args.json, args.csv, args.jsonl, args.parquet) if p and p not in broken]
    resumed = f", {summary.resumed} already in {args.jsonl}" if summary.resumed else ""
    startup = f"; Ray start-up {summary.startup:.1f} s" if summary.startup else ""
    print(f"{summary.read_now} images read in {summary.wall:.1f} s ({summary.rate:.2f} images/s){resumed}{startup}, "
          f"{summary.failed} failed; written: {', '.join(written) or 'nothing'}")  # fmt: skip


def list_inputs(args: argparse.Namespace, cfg: RecognizeConfig) -> tuple[list, Callable[[int], dict], str]:
    """The images to read (paths, or URIs for --engine ray), each one's identity for --resume, and where from.

    Raises:
        SetupError: a missing input, or a URI without --engine ray.
    """
    from plateocr.inputs import collect_inputs
    from plateocr.recognize import list_images
    from plateocr.stream import is_uri, local_identity

    if not args.inputs:
        folder = args.images or cfg.images
        images = list_images(folder, args.all, args.recursive)
        return images, lambda i: local_identity(images[i]), str(folder)
    images: list = []
    remote: dict[str, dict] = {}
    for arg in args.inputs:
        if not is_uri(arg):
            images += [p for p in collect_inputs([arg], args.recursive) if str(p) not in {str(i) for i in images}]
            continue
        if args.engine != "ray":
            raise SetupError(f"{arg}: object-store inputs need --engine ray")
        from plateocr.rayengine import uri_inputs

        found, identities = uri_inputs([str(arg)], args.recursive)
        images += [u for u in found if u not in remote]
        remote.update(identities)
    where = " ".join(str(p) for p in args.inputs)
    return images, lambda i: remote.get(str(images[i])) or local_identity(images[i]), where


@contextlib.contextmanager
def engine_for(
    args: argparse.Namespace, cfg: RecognizeConfig, images: list, names: list[str], labels: Path | None,
    outputs: ImageOutputs | None,
) -> Iterator[tuple[Engine, float]]:  # fmt: skip
    """The engine that reads the images (and Ray's start-up seconds, 0 locally).

    Raises:
        PlateOCRError: the model cannot be loaded (``--jobs 1``), or Ray is missing.
    """
    from plateocr.batch import ReaderSpec, iter_read, usable_cpus
    from plateocr.recognize import PlateReader
    from plateocr.results import result_record

    if args.engine == "ray":
        from plateocr.rayengine import ray_engine, ray_session

        with ray_session(args.verbose) as startup:
            spec = ReaderSpec(args.model, cfg)
            yield ray_engine(spec, [str(p) for p in images], names, labels, outputs, args.jobs or 0), startup
        return
    jobs = 1 if args.jobs is None else args.jobs or usable_cpus()
    reader = PlateReader(args.model, cfg) if jobs == 1 else ReaderSpec(args.model, cfg)

    def read(todo: Sequence[int]) -> Iterator[tuple[int, dict]]:
        for i, result in iter_read(reader, images, labels, names, jobs, outputs, todo):
            yield i, result_record(result)

    yield read, 0.0


def run_video(args: argparse.Namespace) -> int:
    """--video: read the file or stream, write each event as it closes, print the summary."""
    from plateocr.recognize import PlateReader
    from plateocr.results import check_writable
    from plateocr.video import event_writer, read_video

    cfg = reader_config(args)
    try:
        for path, is_dir in ((args.jsonl, False), (args.save_annotated, True)):
            if path is not None:
                check_writable(path, directory=is_dir)
        reader = PlateReader(args.model, cfg)
        with event_writer(args.jsonl, args.save_annotated) as on_event:
            summary = read_video(reader, args.video, on_event, every=args.every)
    except PlateOCRError as exc:
        print(f"recognize_plates: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except OSError as exc:
        cannot_write(exc.filename, exc)
        return EXIT_SETUP
    print(f"Events = {len(summary.events)} from {summary.frames_read} frames read "
          f"(one in {summary.every} of {summary.frames_decoded}, video at {summary.fps:g} fps)")
    for e in summary.events:
        print(f"  {e['reading']}  {e['first_seen_s']:.1f}-{e['last_seen_s']:.1f} s  {e['frames']} frames  "
              f"confidence {e['confidence']:.2f}")
    print(f"Frames read per second: {summary.read_fps:.1f} ({summary.seconds:.1f} s)")
    if args.jsonl is not None:
        print(f"Events written to {args.jsonl}")
    if summary.interrupted:
        print("recognize_plates: interrupted; the open events were closed and written", file=sys.stderr)
        return EXIT_INTERRUPTED
    if summary.lost:
        print(f"recognize_plates: error: {args.video}: the stream dropped and could not be reopened", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def reader_config(args: argparse.Namespace) -> RecognizeConfig:
    """The reading settings the flags give (photos and video alike)."""
    return RecognizeConfig(
        min_confidence=args.min_confidence, filters=args.filters, rectify=not args.no_rectify,
        reader=args.reader, plate_model=args.plate_model, crops=args.crops,
        corner_model=corner_model(args),
    )


def cannot_write(path: object, exc: OSError) -> None:
    print(f"recognize_plates: error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)


def label_folder(args: argparse.Namespace, cfg: RecognizeConfig) -> Path | None:
    """The label folder to use, or None (--no-labels).

    Raises:
        SetupError: a folder given with --labels does not exist.
    """
    if args.no_labels:
        return None
    if args.labels is None:
        return cfg.labels  # may not exist: then every plate is found by the localiser
    if not args.labels.is_dir():
        raise SetupError(f"{args.labels}: label folder not found")
    return args.labels


def output_paths(args: argparse.Namespace) -> list[tuple[Path, bool]]:
    """Every output as (path, is a folder)."""
    files = [(p, False) for p in (args.output, args.json, args.csv, args.jsonl) if p is not None]
    return files + [(p, True) for p in (args.save_annotated, args.save_crops, args.parquet) if p is not None]


@contextlib.contextmanager
def progress(total: int, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A tqdm bar on stderr (only on a terminal, not with --quiet, after a second); yields its ``advance``."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    disable = quiet or not sys.stderr.isatty()
    with tqdm(total=total, unit="image", file=sys.stderr, disable=disable, delay=1.0, leave=False) as bar:
        if disable:
            yield bar.update
            return
        with logging_redirect_tqdm():
            yield bar.update


if __name__ == "__main__":
    sys.exit(main())
