"""Results that stream: one JSON line per image as soon as it is read, resume, and the final outputs
rebuilt in input order from that file, so a run holds a few numbers per image, never its records.

Every run appends each image's record (``plateocr.results.result_record`` plus its ``input``
identity: absolute path, size, modification time) to a JSON Lines file: the user's ``--jsonl``, or
a hidden spool beside ``LicenseResults.txt``. ``LicenseResults.txt``, ``--json``, ``--csv`` and
``--parquet`` are then written, each atomically, by reading the records back in input order.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import tempfile
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from plateocr.errors import PlateOCRError
from plateocr.results import (
    CSV_COLUMNS,
    atomic_path,
    csv_row,
    license_results_text,
    results_document,
)

log = logging.getLogger(__name__)

# The key of a JSONL line that says which file the record is of (absent from --json's records).
INPUT_KEY = "input"
NOT_READ = -1

# Reads the images whose input positions it is given, yielding (position, record) as each finishes.
Engine = Callable[[Sequence[int]], Iterator[tuple[int, dict[str, Any]]]]
Identity = dict[str, Any]


def is_uri(path: str | Path) -> bool:
    """``s3://bucket/key``, ``gs://...``, ``file:///...``: an input that pyarrow's file systems read."""
    return "://" in str(path)


def local_identity(path: Path) -> Identity:
    """What identifies a local image across runs: absolute path, size and modification time (ns)."""
    text = os.fsencode(os.path.abspath(path)).decode("utf-8", "backslashreplace")
    try:
        st = os.stat(path)
    except OSError:
        return {"path": text, "size": None, "mtime_ns": None}
    return {"path": text, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def identity_key(identity: Identity) -> tuple[Any, Any, Any]:
    return identity["path"], identity["size"], identity["mtime_ns"]


class ResultLog:
    """The JSON Lines file: appended and flushed one line per image; valid up to its last complete line.

    Args:
        path: the file.
        resume: keep the records already there (a torn last line is cut off); else start it empty.
    """

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = Path(path)
        self.recorded: dict[tuple[Any, Any, Any], int] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.path.exists():
            self._scan()
            self._fh: IO[bytes] = open(self.path, "r+b")  # noqa: SIM115 - closed by close()
            self._fh.seek(0, os.SEEK_END)
        else:
            self._fh = open(self.path, "wb")  # noqa: SIM115
        self._reader: IO[bytes] | None = None

    def _scan(self) -> None:
        """Index the complete lines by input identity; cut a torn last line (a kill mid-write)."""
        end = 0
        with open(self.path, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    log.warning("%s: ignoring a torn last line (%d bytes); it will be rewritten", self.path, len(line))
                    break
                try:
                    record = json.loads(line)
                    self.recorded[identity_key(record[INPUT_KEY])] = end
                except (ValueError, KeyError, TypeError):
                    log.warning("%s: ignoring line at byte %d: not a result record", self.path, end)
                end += len(line)
        if end != self.path.stat().st_size:
            os.truncate(self.path, end)

    def append(self, record: dict[str, Any], identity: Identity) -> int:
        """Write one image's line and flush it to the OS (it survives the process being killed).

        Returns:
            The line's byte offset.
        """
        offset = self._fh.tell()
        line = json.dumps({**record, INPUT_KEY: identity}, ensure_ascii=False) + "\n"
        self._fh.write(line.encode("utf-8"))
        self._fh.flush()
        return offset

    def read(self, offset: int) -> dict[str, Any]:
        """The record at ``offset``, without its ``input`` identity."""
        if self._reader is None:
            self._fh.flush()
            self._reader = open(self.path, "rb")  # noqa: SIM115
        self._reader.seek(offset)
        record = json.loads(self._reader.readline())
        record.pop(INPUT_KEY, None)
        return record

    def close(self) -> None:
        for fh in (self._fh, self._reader):
            if fh is not None:
                fh.close()


@dataclass
class OutputFiles:
    """Where a run writes: ``license_results`` always, the others when given."""

    license_results: Path
    json: Path | None = None
    csv: Path | None = None
    jsonl: Path | None = None
    parquet: Path | None = None

    def written(self) -> list[Path]:
        return [p for p in (self.license_results, self.json, self.csv, self.jsonl, self.parquet) if p is not None]


@dataclass
class RunSummary:
    """What a streamed run did; the final outputs hold ``done`` images, in input order."""

    images: int
    done: int = 0
    read_now: int = 0
    resumed: int = 0
    failed: int = 0
    hits: int = 0
    seconds: array = field(default_factory=lambda: array("d"))  # per image, in input order
    wall: float = 0.0
    interrupted: bool = False
    failures: list[tuple[Path, OSError]] = field(default_factory=list)
    kept_log: Path | None = None  # the spool kept after an interruption, to resume from
    startup: float = 0.0  # seconds the engine took to start (Ray), for the summary

    @property
    def rate(self) -> float:
        return self.read_now / self.wall if self.wall > 0 else 0.0


def stream_run(
    engine: Engine,
    names: Sequence[str],
    identity: Callable[[int], Identity],
    files: OutputFiles,
    model: Path | str,
    resume: bool = False,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    on_final: Callable[[dict[str, Any]], None] | None = None,
    on_skip: Callable[[int], None] | None = None,
    started: float | None = None,
) -> RunSummary:
    """Read every image not yet recorded, appending each record as it finishes, then write the outputs.

    Args:
        engine: reads the given input positions (local, --jobs or Ray).
        names: each input's unique output name.
        identity: the identity of input ``i`` (path, size, mtime).
        files: the outputs; without ``files.jsonl`` the records go to a hidden spool, removed at the end.
        model: the model path recorded in ``--json``.
        resume: skip the inputs already in ``files.jsonl``.
        on_record: called with each new record (progress); an image's error is logged here, as it happens.
        on_final: called with each record of the final outputs, in input order.
        on_skip: called once with the number of inputs already recorded (progress).
        started: ``time.perf_counter()`` when the run began (default: now), for the summary's rate.

    Raises:
        RunInterrupted: Ctrl-C (KeyboardInterrupt) while reading, after the outputs of what was read so far
            were written; it carries the summary.
        PlateOCRError: the engine could not start (a worker could not load the model): nothing is written.
        RunStopped: the engine failed midway (worker processes kept dying), after the outputs of what
            was read so far were written (the spool kept, as after Ctrl-C); it carries the summary.
    """
    started = time.perf_counter() if started is None else started
    summary = RunSummary(images=len(names))
    spool = files.jsonl is None
    path = files.jsonl or _spool_path(files.license_results)
    result_log = ResultLog(path, resume=resume and not spool)
    stopped: PlateOCRError | None = None
    offsets = array("q", [NOT_READ]) * len(names)
    try:
        if result_log.recorded:
            for i in range(len(names)):
                offsets[i] = result_log.recorded.get(identity_key(identity(i)), NOT_READ)
            summary.resumed = sum(1 for o in offsets if o != NOT_READ)
            result_log.recorded.clear()
            if on_skip is not None:
                on_skip(summary.resumed)
        todo = [i for i in range(len(names)) if offsets[i] == NOT_READ]
        try:
            with contextlib.closing(engine(todo)) as results:
                for i, record in results:
                    offsets[i] = result_log.append(record, identity(i))
                    summary.read_now += 1
                    if record["error"]:
                        log.error("%s", record["error"])
                    if on_record is not None:
                        on_record(record)
        except KeyboardInterrupt:
            summary.interrupted = True
        except PlateOCRError as exc:
            if not summary.read_now:
                raise  # the engine could not start: nothing is written
            stopped = exc  # stopped midway: what was read is written, as after Ctrl-C
        write_final(result_log, offsets, names, files, model, summary, on_final)
        summary.wall = time.perf_counter() - started
    finally:
        result_log.close()
        if spool:
            if (summary.interrupted or stopped is not None) and summary.read_now:
                summary.kept_log = _keep_spool(path, files.license_results)
            else:
                path.unlink(missing_ok=True)
    if summary.interrupted:
        raise RunInterrupted(summary)
    if stopped is not None:
        raise RunStopped(summary, stopped)
    return summary


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run, after the outputs of what was read so far were written."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__()
        self.summary = summary


class RunStopped(PlateOCRError):
    """The engine failed midway (``cause``), after the outputs of what was read so far were written."""

    def __init__(self, summary: RunSummary, cause: PlateOCRError) -> None:
        super().__init__(str(cause))
        self.summary, self.cause = summary, cause


def _spool_path(license_results: Path) -> Path:
    target = Path(license_results)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".jsonl", dir=target.parent)
    os.close(fd)
    return Path(name)


def _keep_spool(spool: Path, license_results: Path) -> Path:
    """After Ctrl-C without --jsonl: keep the records as ``<output>.jsonl`` (unless that exists) to resume from."""
    kept = Path(license_results).with_suffix(".jsonl")
    if kept.exists():
        return spool
    os.replace(spool, kept)
    return kept


def write_final(
    result_log: ResultLog,
    offsets: array,
    names: Sequence[str],
    files: OutputFiles,
    model: Path | str,
    summary: RunSummary,
    on_final: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Write LicenseResults.txt, --csv, --json and --parquet from the log, in input order (recorded images only).

    Each file is one pass over the log; every file is attempted even when another fails (``summary.failures``).
    """
    done = [i for i in range(len(offsets)) if offsets[i] != NOT_READ]
    summary.done = len(done)

    def records() -> Iterator[dict[str, Any]]:
        for i in done:
            record = result_log.read(offsets[i])
            record["name"] = names[i]
            yield record

    for record in records():
        summary.failed += bool(record["error"])
        summary.hits += is_hit(record)
        summary.seconds.append(record["seconds"])
        if on_final is not None:
            on_final(record)
    writers: list[tuple[Path | None, Callable[[Path], None]]] = [
        (files.license_results, lambda p: write_lines(p, license_lines(records()))),
        (files.csv, lambda p: write_lines(p, csv_lines(records()))),
        (files.json, lambda p: write_lines(p, json_document_lines(model, summary, records()))),
        (files.parquet, lambda p: write_parquet(p, records)),
    ]
    for path, write in writers:
        if path is None:
            continue
        try:
            write(path)
        except OSError as exc:
            summary.failures.append((Path(path), exc))


def write_parquet(folder: Path, records: Callable[[], Iterator[dict[str, Any]]]) -> None:
    from plateocr.parquet import write_parquet_dir

    write_parquet_dir(folder, records)


def is_hit(record: dict[str, Any]) -> bool:
    """The reading equals the file's name (the test folder's ground truth), as ``recognize.count_hits``."""
    return bool(record["reading"]) and record["reading"] == Path(record["file"]).stem


def write_lines(path: Path, chunks: Iterable[str]) -> None:
    """Write the text ``chunks`` as UTF-8 to ``path`` through a temporary file, flushed to disk, and a rename."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
        out.writelines(chunks)
        out.flush()
        os.fsync(out.fileno())


def license_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    for record in records:
        yield license_results_text([(record["name"], record["reading"])])


def csv_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The ``--csv`` table row by row (the same text as ``results.results_csv_text``)."""
    buffer = io.StringIO()
    table = csv.writer(buffer, lineterminator="\n")
    table.writerow(CSV_COLUMNS)
    for record in records:
        table.writerow(csv_row(record))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def json_document_lines(model: Path | str, summary: RunSummary, records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """``--json`` record by record: the same text as ``json.dumps(results_document(...), indent=2)``."""
    document = results_document([], model)
    document.update(images=summary.done, failed=summary.failed)
    head, tail = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").split('"results": []', 1)
    yield head + '"results": ['
    separator = "\n"
    for record in records:
        text = json.dumps(record, indent=2, ensure_ascii=False)
        yield separator + "\n".join("    " + line for line in text.splitlines())
        separator = ",\n"
    yield ("\n  ]" if separator == ",\n" else "]") + tail
