"""Reading many images: one process, or several worker processes each holding the model once.

Results come back in input order whatever the number of processes; one image's failure
(even an unexpected exception) becomes that image's ``error`` and the batch goes on.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import logging.handlers
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config import RecognizeConfig
from plateocr.cli import quieten_libraries
from plateocr.errors import InputError, PlateOCRError
from plateocr.record import ImageResult
from plateocr.onnxrt import usable_cpus

if TYPE_CHECKING:
    from plateocr.recognize import PlateReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReaderSpec:
    """What a worker process needs to build its own :class:`PlateReader`."""

    model_path: Path
    cfg: RecognizeConfig | None = None

    @classmethod
    def of(cls, reader: PlateReader | ReaderSpec) -> ReaderSpec:
        if isinstance(reader, ReaderSpec):
            return reader
        return cls(reader.model_path, reader.cfg)

    def load(self, threads: int | None = None) -> PlateReader:
        from plateocr.recognize import PlateReader

        return PlateReader(self.model_path, self.cfg, threads)


@dataclass(frozen=True)
class ImageOutputs:
    """Per-image pictures to write while reading (None: not wanted)."""

    annotated_dir: Path | None = None
    crops_dir: Path | None = None

    def __bool__(self) -> bool:
        return self.annotated_dir is not None or self.crops_dir is not None


def read_one(
    reader: PlateReader, path: Path, labels: Path | None, name: str, outputs: ImageOutputs | None = None
) -> ImageResult:
    """Read one image and write its pictures; every problem ends up in ``result.error``."""
    started = time.perf_counter()
    try:
        result = reader.read_image(path, labels)
    except Exception as exc:  # noqa: BLE001 - one image must never end the batch
        log.debug("%s: unexpected error", path, exc_info=True)
        result = failed_result(path, name, describe(exc))
        result.seconds = time.perf_counter() - started
    result.output_name = name
    if outputs:
        write_pictures(result, outputs)
    log.debug("%s -> %s (%.3f s)", path, result.text or "-", result.seconds)
    return result


def write_pictures(result: ImageResult, outputs: ImageOutputs) -> None:
    """The annotated photo and the plate crop of one result; a failure is added to ``result.error``."""
    from plateocr.annotate import save_annotated, save_crop
    from plateocr.imageio import read_image

    try:
        image = read_image(result.path)
    except InputError:
        return  # already the result's error: there is nothing to draw on
    try:
        if outputs.annotated_dir is not None:
            save_annotated(outputs.annotated_dir, image, result, result.output_name)
        if outputs.crops_dir is not None:
            save_crop(outputs.crops_dir, image, result, result.output_name)
    except Exception as exc:  # noqa: BLE001 - a disk or encoder problem must not end the batch
        problem = f"{result.path}: cannot save its pictures ({describe(exc)})"
        result.error = f"{result.error}; {problem}" if result.error else problem


def failed_result(path: Path, name: str, cause: str) -> ImageResult:
    """The result of an image that could not be read at all."""

    return ImageResult(name=Path(path).stem, path=Path(path), error=f"{path}: {cause}", output_name=name)


def describe(exc: BaseException) -> str:
    """A one-line cause for the user: the OS message when there is one, else the exception's."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0][:200]}" if text else exc.__class__.__name__


def recognize_folder(
    reader: PlateReader | ReaderSpec,
    images: list[Path],
    labels: Path | None,
    *,
    names: list[str] | None = None,
    jobs: int = 1,
    outputs: ImageOutputs | None = None,
    on_result: Callable[[ImageResult], None] | None = None,
) -> list[ImageResult]:
    """Read every image, in input order; failures are recorded per image and the batch goes on.

    Args:
        reader: a loaded reader; with ``jobs > 1`` a ``ReaderSpec`` spares the main process the model.
        images: files to read.
        labels: YOLO label folder (``<labels>/<stem>.txt``), or None for the localiser only.
        names: unique output names (default: ``plateocr.inputs.unique_names``).
        jobs: worker processes (see :func:`read_all`).
        outputs: annotated photos and plate crops to write per image.
        on_result: called as each image finishes (progress).

    Raises:
        PlateOCRError: a worker process could not load the model.
    """
    from plateocr.inputs import unique_names

    def finished(result: ImageResult) -> None:
        if result.error:
            log.error("%s", result.error)
        if on_result is not None:
            on_result(result)

    names = unique_names(images) if names is None else names
    return read_all(reader, images, labels, names, jobs, outputs, finished)


def read_all(
    reader: PlateReader | ReaderSpec,
    images: Sequence[Path],
    labels: Path | None,
    names: Sequence[str],
    jobs: int = 1,
    outputs: ImageOutputs | None = None,
    on_result: Callable[[ImageResult], None] | None = None,
) -> list[ImageResult]:
    """Read ``images`` in ``jobs`` processes; results in input order.

    Args:
        reader: a loaded reader, or (for ``jobs > 1``, where the main process needs no model) a spec.
        images: the files, in reading order.
        labels: YOLO label folder, or None to use the localiser only.
        names: each image's unique output name.
        jobs: processes to use; more than one starts 'spawn' workers that each load the model once.
        outputs: pictures to write per image.
        on_result: called in the main process as each image finishes (in completion order).

    Raises:
        PlateOCRError: a worker could not load the model.
    """
    results: list[ImageResult | None] = [None] * len(images)
    for index, result in iter_read(reader, images, labels, names, jobs, outputs):
        results[index] = result
        if on_result is not None:
            on_result(result)
    return [r for r in results if r is not None]


def iter_read(
    reader: PlateReader | ReaderSpec,
    images: Sequence[Path],
    labels: Path | None,
    names: Sequence[str],
    jobs: int = 1,
    outputs: ImageOutputs | None = None,
    indices: Iterable[int] | None = None,
) -> Iterator[tuple[int, ImageResult]]:
    """Read ``images[i]`` for each i of ``indices`` (default: all), yielding ``(i, result)`` as each
    finishes (completion order): nothing is kept, so a run of any length holds a few images at a time.

    Arguments as :func:`read_all`. Closing the generator early (Ctrl-C) drops the images not started.

    Raises:
        PlateOCRError: a worker could not load the model; ``WorkersDying``: worker processes died on
            DEAD_IN_A_ROW images in a row (one that dies now and then only fails the image it was reading).
    """
    if len(names) != len(images):
        raise ValueError("one name per image is needed")
    todo = list(range(len(images))) if indices is None else list(indices)
    jobs = max(1, min(jobs, len(todo)))
    if jobs == 1:
        loaded = reader.load() if isinstance(reader, ReaderSpec) and todo else reader
        for i in todo:
            yield i, read_one(loaded, images[i], labels, names[i], outputs)  # type: ignore[arg-type]
        return
    yield from _read_in_workers(ReaderSpec.of(reader), images, labels, names, todo, jobs, outputs)


# Images queued per worker process: enough to keep every worker busy, few enough to stay small.
IN_FLIGHT_PER_JOB = 4
# A worker process that dies (killed by the system for memory, a crash in a native library) breaks the
# whole pool: a fresh one is started and the images that were in flight are read again one at a time, so
# only the image that kills a worker alone is recorded as failed. After this many such images in a row
# the run stops (WorkersDying): a worker that dies on every image is a broken set-up, not bad images.
DEAD_IN_A_ROW = 3
DIED = "the worker process reading it died (killed, e.g. out of memory, or crashed); the other images go on"


class WorkersDying(PlateOCRError):
    """Worker processes died on DEAD_IN_A_ROW images in a row, each read alone."""


def _read_in_workers(
    spec: ReaderSpec,
    images: Sequence[Path],
    labels: Path | None,
    names: Sequence[str],
    todo: Sequence[int],
    jobs: int,
    outputs: ImageOutputs | None,
) -> Iterator[tuple[int, ImageResult]]:

    ctx = multiprocessing.get_context("spawn")
    # Each worker gets its share of the CPUs, so N workers never run N x all-cores threads.
    threads = max(1, usable_cpus() // jobs)
    # Workers log through this queue, so their messages share the main process's handlers (and progress bar).
    queue: Any = ctx.Queue()
    listener = logging.handlers.QueueListener(queue, _MainProcessHandler(), respect_handler_level=False)
    listener.start()

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(spec, threads, queue, logging.getLogger().getEffectiveLevel()),
        )

    executor = new_pool()
    pending: dict[Future[tuple[int, ImageResult]], int] = {}
    waiting = iter(todo)
    suspects: list[int] = []  # in flight when a worker died: read again one at a time, in input order
    alone: int | None = None  # the suspect being read alone
    dead_in_a_row = 0

    def submit(count: int) -> None:
        nonlocal alone
        with sigint_ignored():  # workers started by a submit inherit "ignore Ctrl-C"
            if suspects:
                if not pending:
                    alone = suspects.pop(0)
                    pending[executor.submit(_worker_read, alone, images[alone], labels, names[alone], outputs)] = alone
                return
            alone = None
            for i in itertools.islice(waiting, count):
                pending[executor.submit(_worker_read, i, images[i], labels, names[i], outputs)] = i

    try:
        submit(jobs * IN_FLIGHT_PER_JOB)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                index = pending.pop(future)
                try:
                    _, result = future.result()
                except PlateOCRError:
                    raise
                except BrokenProcessPool:
                    broken = True
                    if index != alone:
                        suspects.append(index)
                        continue
                    dead_in_a_row += 1
                    if dead_in_a_row >= DEAD_IN_A_ROW:
                        raise WorkersDying(
                            f"worker processes died on {dead_in_a_row} images in a row, each read alone "
                            f"(the last: {images[index]}); is the machine out of memory?"
                        ) from None
                    result = failed_result(images[index], names[index], DIED)
                except Exception as exc:  # noqa: BLE001 - an unpicklable result, an unexpected error
                    result = failed_result(images[index], names[index], f"worker process failed ({describe(exc)})")
                else:
                    dead_in_a_row = 0
                yield index, result
            if broken:
                # The images still in flight failed with the pool: each is read again, alone, in a fresh pool.
                suspects.extend(pending.values())
                suspects.sort()
                pending.clear()
                executor.shutdown(wait=True, cancel_futures=True)
                log.warning("a worker process died; reading the %d images in flight again, alone", len(suspects))
                executor = new_pool()
            submit(jobs * IN_FLIGHT_PER_JOB - len(pending))
    finally:
        # On an error or Ctrl-C: drop the queued images, let running ones finish (workers ignore SIGINT).
        executor.shutdown(wait=True, cancel_futures=True)
        listener.stop()
        queue.close()


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in the block (only possible in the main thread), so that children started
    meanwhile ignore it from their first instruction: a terminal's Ctrl-C reaches the whole
    process group, and only the main process should act on it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _MainProcessHandler(logging.Handler):
    """Hands records from the workers to the main process's loggers (and so to its handlers)."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


_WORKER: dict[str, Any] = {}


def _init_worker(spec: ReaderSpec, threads: int, queue: Any, level: int) -> None:
    """Runs once in each worker: quiet logging through the queue, thread limits, the model loaded once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(queue)]
    root.setLevel(level)
    quieten_libraries(level)
    try:
        _WORKER["reader"] = load_capped(spec, threads)
    except PlateOCRError as exc:
        _WORKER["error"] = exc  # raised by the first task, so the main process reports it


def load_capped(spec: ReaderSpec, threads: int) -> PlateReader:
    """In a worker (process or Ray actor): cap OpenCV's and ONNX Runtime's threads to ``threads``, then
    load the models (ONNX Runtime sessions, made here in the worker, never inherited through a fork).

    Raises:
        PlateOCRError: a model cannot be loaded.
    """
    import cv2

    cv2.setNumThreads(threads)
    return spec.load(threads)


def _worker_read(
    index: int, path: Path, labels: Path | None, name: str, outputs: ImageOutputs | None
) -> tuple[int, ImageResult]:
    if "error" in _WORKER:
        raise _WORKER["error"]
    return index, read_one(_WORKER["reader"], path, labels, name, outputs)
