"""``--engine ray``: the same per-image reading (``plateocr.batch.read_one``) as a Ray Data pipeline.

inputs (local paths or pyarrow/fsspec URIs) -> ``read_binary_files`` -> ``map_batches`` with
:class:`RayReader` actors (each loads the model once, inside the actor, with TensorFlow and OpenCV
capped to the actor's CPUs) -> one record per image back to the driver, which appends it to the
JSONL and writes every other output as the local engine does.

Without ``RAY_ADDRESS`` a local Ray is started (and stopped at the end); with it, ``ray.init()``
joins that cluster. Ray is optional: ``pip install -r requirements-ray.txt``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from plateocr.batch import ImageOutputs, ReaderSpec, describe, failed_result, load_capped, read_one
from plateocr.errors import PlateOCRError, SetupError
from plateocr.inputs import is_image_name, printable
from plateocr.results import result_record
from plateocr.stream import Identity, is_uri

log = logging.getLogger(__name__)

REQUIREMENTS = "requirements-ray.txt"
ROOT = Path(__file__).resolve().parent.parent
# Images per map_batches call: small, so that the actors share the work evenly to the end.
BATCH_SIZE = 4
CPUS_PER_ACTOR = 1
# Reader actors served by one concurrent read task (reading bytes is cheap next to reading plates).
READERS_PER_READ_TASK = 4


class RunError(PlateOCRError):
    """The distributed run itself failed (not one image): exit 2, after the outputs of what was read were written."""


def import_ray() -> Any:
    """Ray with Ray Data, or a setup error naming the requirements file."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise SetupError(f"--engine ray needs Ray: pip install -r {REQUIREMENTS} ({exc})") from exc
    return ray


@contextlib.contextmanager
def ray_session(verbose: bool = False) -> Iterator[float]:
    """Ray for the run: the one already initialised, the cluster at ``RAY_ADDRESS``, or a new local one
    (stopped on exit). Yields the start-up seconds."""
    ray = import_ray()
    started = time.perf_counter()
    owned = not ray.is_initialized()
    if owned:
        level = logging.INFO if verbose else logging.ERROR
        if not os.environ.get("RAY_ADDRESS"):
            # A local Ray's workers inherit this environment: they import this project from here (a cluster's
            # image must hold it, README). Not a runtime_env, whose workers could not be the prestarted ones.
            path = os.environ.get("PYTHONPATH", "")
            os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), path) if p)
        if not verbose:  # Ray's C++ core logs its own notices to stderr
            os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        ray.init(include_dashboard=False, log_to_driver=verbose, logging_level=level)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours counts images
    logging.getLogger("ray.data").setLevel(logging.INFO if verbose else logging.ERROR)
    try:
        yield time.perf_counter() - started
    finally:
        if owned:
            ray.shutdown()


class RayReader:
    """A Ray Data actor: the model loaded once, in the actor, then ``read_one`` on each image of a batch."""

    def __init__(
        self, spec: ReaderSpec, labels: Path | None, outputs: ImageOutputs | None, renamed: dict[str, str], cpus: float
    ) -> None:
        from plateocr.cli import quieten_libraries

        quieten_libraries(logging.WARNING)
        self.labels, self.outputs, self.renamed = labels, outputs, renamed
        self.tmp = tempfile.mkdtemp(prefix="plateocr-ray-")
        self.error = ""
        try:
            self.reader = load_capped(spec, max(1, int(cpus)))
        except PlateOCRError as exc:
            self.error = str(exc)  # returned with the first batch: the driver reports it

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        records: list[str] = []
        for path, data in zip(batch["path"], batch["bytes"], strict=True):
            name = self.renamed.get(str(path)) or printable(Path(str(path)).stem)
            records.append("" if self.error else json.dumps(self.read(str(path), data, name)))
        return {"path": list(batch["path"]), "record": records, "fatal": [self.error] * len(records)}

    def read(self, path: str, data: bytes, name: str) -> dict[str, Any]:
        """One image: from its own path when this node sees it, else from the bytes Ray read (``path`` is
        then Ray's ``bucket/key``; the driver puts the input's URI in ``file``)."""
        if os.path.exists(path):
            return result_record(read_one(self.reader, Path(path), self.labels, name, self.outputs))
        # An object-store input: the same reading on a local copy with the same name (labels match by stem).
        local = Path(self.tmp) / Path(path).name
        local.write_bytes(bytes(data))
        try:
            result = read_one(self.reader, local, self.labels, name, self.outputs)
        finally:
            local.unlink(missing_ok=True)
        record = result_record(result)
        if record["error"]:
            record["error"] = record["error"].replace(str(local), path)
        return record

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "tmp", ""), ignore_errors=True)


def ray_key(path: str) -> str:
    """The path as Ray Data reports it in ``read_binary_files``' ``path`` column."""
    if is_uri(path):
        import pyarrow.fs

        return pyarrow.fs.FileSystem.from_uri(path)[1]
    return path


def ray_engine(
    spec: ReaderSpec,
    paths: Sequence[str],
    names: Sequence[str],
    labels: Path | None,
    outputs: ImageOutputs | None,
    actors: int,
) -> Any:
    """An engine for ``plateocr.stream.stream_run``: reads the given input positions on Ray actors."""

    def read(todo: Sequence[int]) -> Iterator[tuple[int, dict[str, Any]]]:
        if not todo:
            return
        ray = import_ray()
        from ray.data import ActorPoolStrategy

        index = {ray_key(paths[i]): i for i in todo}
        # Names are stems unless two images share one: only those exceptions travel to the actors.
        renamed = {ray_key(paths[i]): names[i] for i in todo if names[i] != Path(paths[i]).stem}
        size = actors or max(1, int(ray.cluster_resources().get("CPU", 1) // CPUS_PER_ACTOR))
        # Reading bytes takes no CPU slot from the actors (else they starve the reads on a full node), and few
        # read tasks run at once: each needs a Python worker of its own, whose start costs a core-second.
        files = ray.data.read_binary_files(
            [paths[i] for i in todo], include_paths=True, ignore_missing_paths=True, num_cpus=0,
            concurrency=max(1, size // READERS_PER_READ_TASK),
        )  # fmt: skip
        readings = files.map_batches(
            RayReader,
            fn_constructor_kwargs={
                "spec": spec, "labels": labels, "outputs": outputs, "renamed": renamed, "cpus": CPUS_PER_ACTOR,
            },  # fmt: skip
            batch_size=BATCH_SIZE,
            compute=ActorPoolStrategy(size=min(size, len(todo))),
            num_cpus=CPUS_PER_ACTOR,
        )
        seen: set[int] = set()
        try:
            for row in readings.iter_rows():
                if row["fatal"]:
                    raise SetupError(row["fatal"])
                i = index[row["path"]]
                seen.add(i)
                record = json.loads(row["record"])
                if is_uri(paths[i]):
                    record["file"] = printable(paths[i])  # the input as given, not Ray's bucket/key
                yield i, record
        except (PlateOCRError, KeyboardInterrupt, GeneratorExit):
            raise
        except Exception as exc:  # noqa: BLE001 - Ray's own failure (a lost node, a file it cannot open)
            # stream_run writes the outputs of what was read, and the CLI prints the command that goes on.
            raise RunError(f"the Ray pipeline failed after {len(seen)} images: {describe(exc)}") from exc
        for i in todo:  # never dropped: an input Ray could not list or open is a failed row
            if i not in seen:
                yield i, result_record(failed_result(Path(paths[i]), names[i], "Ray could not read this file"))

    return read


def uri_inputs(uris: Sequence[str], recursive: bool) -> tuple[list[str], dict[str, Identity]]:
    """Expand URI inputs with pyarrow's file systems: files as given, prefixes into their images (sorted).

    Returns:
        The image URIs and each one's identity (URI, size, modification time).

    Raises:
        SetupError: a URI cannot be listed.
    """
    import_ray()
    import pyarrow.fs as pafs


    found: list[str] = []
    identities: dict[str, Identity] = {}
    for uri in uris:
        try:
            fs, root = pafs.FileSystem.from_uri(uri)
            info = fs.get_file_info(root)
            if info.type == pafs.FileType.Directory:
                infos = fs.get_file_info(pafs.FileSelector(root, recursive=recursive))
                infos = sorted((i for i in infos if i.type == pafs.FileType.File and is_image_name(Path(i.path))),
                               key=lambda i: i.path)  # fmt: skip
            elif info.type == pafs.FileType.File:
                infos = [info]
            else:
                raise SetupError(f"{uri}: no such file or folder")
        except (OSError, ValueError) as exc:
            raise SetupError(f"{uri}: cannot list ({exc})") from exc
        scheme = uri.split("://", 1)[0]
        for item in infos:
            full = f"{scheme}://{item.path}" if scheme != "file" else f"file://{item.path}"
            if full not in identities:
                found.append(full)
                identities[full] = {"path": full, "size": item.size, "mtime_ns": item.mtime_ns}
    return found, identities
