"""Output files, written whole or not at all."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plateocr.inputs import printable

if TYPE_CHECKING:
    from plateocr.record import ImageResult


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    The temporary file keeps ``path``'s suffix so that writers that choose a
    format by extension (Keras' ``.h5``, OpenCV's ``.png``) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _final_mode(path))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _final_mode(path: Path) -> int:
    """The replaced file's permissions, or the usual ones for a new file (mkstemp makes 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: a file flushed to disk, then renamed over ``path``.

    Where the file system can (Linux's ``O_TMPFILE``), the file has no name until it is written and
    flushed: it is linked in under a temporary name only to be renamed at once, so even a run killed
    outright (SIGKILL) mid-write leaves nothing behind. Elsewhere a named temporary file (``atomic_path``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if _write_unnamed_then_link(path, data):
        return
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def _write_unnamed_then_link(path: Path, data: bytes) -> bool:
    """``write_bytes_atomic`` through an ``O_TMPFILE`` file; False (nothing written) where there is none."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return False
    try:
        fd = os.open(path.parent, flag | os.O_WRONLY, 0o600)
    except OSError:  # a file system, or a kernel, without unnamed files
        return False
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.fchmod(fd, _final_mode(path))
        tmp = path.parent / f".{path.name}.{os.urandom(4).hex()}.tmp{path.suffix}"
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            # linkat(..., AT_SYMLINK_FOLLOW): a directory fd makes os.link use linkat (plain link() does not
            # follow /proc's link to the open file and fails across "devices").
            os.link(f"/proc/self/fd/{fd}", tmp.name, dst_dir_fd=folder, follow_symlinks=True)
        except OSError:  # no /proc: the caller writes through a named file instead
            return False
        finally:
            os.close(folder)
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return True
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 (``\\n`` line ends) to ``path`` through a temporary file and a rename."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer`` fill a temporary file, then rename it to ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)


def license_results_text(rows: Iterable[tuple[str, str]]) -> str:
    """The original program's ``LicenseResults.txt``: one ``name,reading`` line per image."""
    return "".join(f"{name},{reading}\n" for name, reading in rows)


# Columns of ``--csv``; ``char_probs`` holds the seven probabilities separated by spaces.
CSV_COLUMNS = (
    "name", "file", "reading", "confidence", "char_probs",
    "box_x", "box_y", "box_w", "box_h", "box_source", "seconds", "error", "raw_text", "format",
)  # fmt: skip


def output_name(result: ImageResult) -> str:
    """The image's name in every output: unique across the run (see ``plateocr.inputs.unique_names``)."""
    return result.output_name or result.name


def result_record(result: ImageResult) -> dict[str, Any]:
    """One image's result as plain JSON data.

    The box is in pixels of the image as displayed (EXIF orientation applied), before any resizing.
    """
    box = result.box
    return {
        "name": output_name(result),
        "file": printable(str(result.path)),
        "reading": result.text,
        "confidence": round(float(result.confidence), 4),
        "char_probs": [round(float(p), 4) for p in result.char_probs],
        "box": None if box is None else {"x": box.x, "y": box.y, "w": box.w, "h": box.h},
        "box_source": result.source or None,
        "seconds": round(float(result.seconds), 3),
        "error": result.error or None,
        # What the open-alphabet reader saw, and its format: spanish, foreign or none.
        "raw_text": result.raw_text,
        "format": result.format or None,
        # Set when --min-confidence left the reading empty: what would have been read.
        "uncertain_reading": result.extra.get("uncertain_reading"),
    }


def results_document(results: Sequence[ImageResult], model: Path | str) -> dict[str, Any]:
    """The ``--json`` document: the model used, counts, and one record per image in reading order."""
    return {
        "model": printable(str(model)),
        "images": len(results),
        "failed": sum(1 for r in results if r.error),
        "results": [result_record(r) for r in results],
    }


def results_csv_text(results: Iterable[ImageResult]) -> str:
    """The ``--csv`` table: a header, then one row per image (empty cells for what is unknown)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(result_record(result)) for result in results)
    return out.getvalue()


def csv_row(record: dict[str, Any]) -> list[Any]:
    """One ``--csv`` row (``CSV_COLUMNS``) from an image's :func:`result_record`."""
    box = record["box"] or {}
    return [
        record["name"], record["file"], record["reading"], f"{record['confidence']:.4f}",
        " ".join(f"{p:.4f}" for p in record["char_probs"]),
        box.get("x", ""), box.get("y", ""), box.get("w", ""), box.get("h", ""),
        record["box_source"] or "", f"{record['seconds']:.3f}", record["error"] or "",
        record["raw_text"], record["format"] or "",
    ]  # fmt: skip


def write_results(
    results: Sequence[ImageResult],
    license_results: Path,
    json_path: Path | None = None,
    csv_path: Path | None = None,
    model: Path | str = "",
) -> list[tuple[Path, OSError]]:
    """Write ``LicenseResults.txt`` and the optional JSON and CSV files, each atomically.

    Every file is attempted even when another fails.

    Returns:
        The files that could not be written, with the error.
    """
    rows = [(output_name(r), r.text) for r in results]
    writers: list[tuple[Path, Callable[[Path], None]]] = [
        (license_results, lambda p: write_text_atomic(p, license_results_text(rows)))
    ]
    if json_path is not None:
        writers.append((json_path, lambda p: write_json_atomic(p, results_document(results, model))))
    if csv_path is not None:
        writers.append((csv_path, lambda p: write_text_atomic(p, results_csv_text(results))))
    failures = []
    for path, write in writers:
        try:
            write(path)
        except OSError as exc:
            failures.append((Path(path), exc))
    return failures


def check_writable(path: Path, directory: bool = False) -> None:
    """Fail early, before hours of work, if ``path`` (a file, or a folder when ``directory``) cannot be written.

    Creates missing parent folders.

    Raises:
        OSError: with the reason.
    """
    path = Path(path)
    folder = path if directory else path.parent
    if not directory and path.is_dir():
        raise IsADirectoryError(21, "is a folder", str(path))
    if directory and path.exists() and not path.is_dir():
        raise NotADirectoryError(20, "exists and is not a folder", str(path))
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(13, "folder is not writable", str(folder))
