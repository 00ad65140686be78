"""``--parquet DIR``: the same records as ``--json``'s ``results``, one row each, in input order.

pyarrow is an optional dependency (``requirements-ray.txt``). The folder gets ``part-00000.parquet``,
``part-00001.parquet``, ... of at most ``ROWS_PER_FILE`` rows each; every part is written to a
temporary file and renamed, and parts left from an earlier, longer run are removed.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from plateocr.errors import SetupError
from plateocr.results import atomic_path

ROWS_PER_FILE = 1_000_000
ROWS_PER_GROUP = 10_000
PART = re.compile(r"part-\d{5}\.parquet")
REQUIREMENTS = "requirements-ray.txt"


def import_pyarrow() -> Any:
    """pyarrow, or a setup error that says how to install it."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise SetupError(f"--parquet needs pyarrow: pip install -r {REQUIREMENTS} ({exc})") from exc
    return pyarrow


def write_parquet_dir(folder: Path, records: Callable[[], Iterator[dict[str, Any]]]) -> None:
    """Write ``records()`` (called twice: once for the schema, once for the rows) as Parquet parts in ``folder``.

    The schema is inferred from every record, so a column that is null in one batch (``box`` when no plate
    was found) keeps its type in every part.
    """
    pa = import_pyarrow()
    import pyarrow.parquet as pq

    schema = None
    for batch in _batches(records(), ROWS_PER_GROUP):
        found = pa.Table.from_pylist(batch).schema
        schema = found if schema is None else pa.unify_schemas([schema, found], promote_options="permissive")
    if schema is not None:  # a column null in every record (no image failed: ``error``) is text when it is not
        schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema])
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = records()
    parts = 0
    while True:
        groups = _batches(itertools.islice(rows, ROWS_PER_FILE), ROWS_PER_GROUP)
        first = next(groups, None)
        if first is None and parts > 0:
            break
        with atomic_path(folder / f"part-{parts:05d}.parquet") as tmp:
            table_schema = schema if schema is not None else pa.schema([])
            with pq.ParquetWriter(tmp, table_schema) as writer:
                for batch in itertools.chain([first] if first else [], groups):
                    writer.write_table(pa.Table.from_pylist(batch, schema=table_schema))
        parts += 1
        if first is None:
            break
    for stale in folder.iterdir():
        if PART.fullmatch(stale.name) and int(stale.name[5:10]) >= parts:
            os.unlink(stale)


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch
