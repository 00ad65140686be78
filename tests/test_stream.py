"""Streamed results: the JSONL log, resume (torn lines, no image read twice), the final outputs rebuilt
from the log (the same text as when every result was held in memory), Parquet, and SIGKILL at random
points of a 300-image run followed by ``--resume``."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import PORT_FLAGS, REPO_ROOT
from test_reliability import default_sigint, make_photo

import recognize_plates
from plateocr.batch import DEAD_IN_A_ROW, DIED, ReaderSpec, failed_result
from plateocr.plates import Box
from plateocr.recognize import ImageResult
from plateocr.results import result_record, results_csv_text, results_document
from plateocr.stream import OutputFiles, RunInterrupted, local_identity, stream_run


def fake_result(path: Path, i: int) -> ImageResult:
    """A varied result: read, failed, no box, uncertain."""
    if i % 5 == 3:
        return failed_result(path, path.stem, "not a readable image (ValueError)")
    result = ImageResult(name=path.stem, path=path, text=f"{i:04d}BCD" if i % 4 else "", confidence=0.5 + i / 100,
                         char_probs=(0.9,) * 7, box=None if i % 7 == 6 else Box(i, 2, 30, 10), source="label",
                         seconds=0.01 * i, output_name=path.stem)  # fmt: skip
    if i % 6 == 1:
        result.extra["uncertain_reading"] = "9999ZZZ"
    return result


class FakeEngine:
    """Records which inputs it read; raises KeyboardInterrupt after ``stop_after`` images (Ctrl-C)."""

    def __init__(self, paths: Sequence[Path], stop_after: int | None = None) -> None:
        self.paths, self.stop_after, self.read = paths, stop_after, []

    def __call__(self, todo: Sequence[int]) -> Iterator[tuple[int, dict[str, Any]]]:
        for i in reversed(todo):  # completion order differs from input order
            if self.stop_after is not None and len(self.read) == self.stop_after:
                raise KeyboardInterrupt
            self.read.append(i)
            yield i, result_record(fake_result(self.paths[i], i))


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = [folder / f"img{i:02d}.jpg" for i in range(20)]
    for i, path in enumerate(paths):
        path.write_bytes(bytes(i + 1))
    return paths


def run(paths: list[Path], out: Path, engine: FakeEngine, resume: bool = False, jsonl: bool = True) -> Any:
    files = OutputFiles(out / "LR.txt", out / "r.json", out / "r.csv", out / "r.jsonl" if jsonl else None)
    return stream_run(engine, [p.stem for p in paths], lambda i: local_identity(paths[i]), files, "m.h5", resume)


def outputs(out: Path) -> dict[str, str]:
    return {name: (out / name).read_text(encoding="utf-8") for name in ("LR.txt", "r.json", "r.csv")}


def test_final_outputs_are_the_text_the_in_memory_writers_give(inputs, tmp_path):
    summary = run(inputs, tmp_path, FakeEngine(inputs))
    results = [fake_result(p, i) for i, p in enumerate(inputs)]
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == json.dumps(
        {**results_document(results, "m.h5")}, indent=2, ensure_ascii=False
    ) + "\n"
    assert (tmp_path / "r.csv").read_text(encoding="utf-8") == results_csv_text(results)
    assert (tmp_path / "LR.txt").read_text().splitlines()[:2] == ["img00,", "img01,0001BCD"]
    assert (summary.done, summary.read_now, summary.failed) == (20, 20, 4)
    # One JSONL line per image, in completion order, each the --json record plus the input identity.
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [line["name"] for line in lines] == [p.stem for p in reversed(inputs)]
    assert lines[0]["input"] == local_identity(inputs[-1])
    assert {k: v for k, v in lines[0].items() if k != "input"} == result_record(results[-1])


def test_interrupt_writes_what_was_read_and_resume_reads_only_the_rest(inputs, tmp_path):
    clean = tmp_path / "clean"
    run(inputs, clean, FakeEngine(inputs))
    first = FakeEngine(inputs, stop_after=7)
    with pytest.raises(RunInterrupted) as stop:
        run(inputs, tmp_path, first)
    assert stop.value.summary.done == 7
    partial = (tmp_path / "LR.txt").read_text().splitlines()
    assert [line.split(",")[0] for line in partial] == [p.stem for p in inputs[-7:]]  # input order
    assert json.loads((tmp_path / "r.json").read_text())["images"] == 7

    # A kill in the middle of a line leaves a torn last line: ignored, cut, and the image read again.
    with open(tmp_path / "r.jsonl", "ab") as fh:
        fh.write(b'{"name": "img05", "file": "tor')
    second = FakeEngine(inputs)
    summary = run(inputs, tmp_path, second, resume=True)
    assert sorted(second.read) == list(range(13))  # none of the 7 read again
    assert (summary.resumed, summary.read_now, summary.done) == (7, 13, 20)
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert len(lines) == 20 and len({json.loads(line)["input"]["path"] for line in lines}) == 20
    assert outputs(tmp_path) == outputs(clean)

    # Nothing left to read; a changed file (new mtime) is read again.
    os.utime(inputs[0], ns=(1, 1))
    third = FakeEngine(inputs)
    run(inputs, tmp_path, third, resume=True)
    assert third.read == [0]
    assert outputs(tmp_path) == outputs(clean)


def test_without_jsonl_the_spool_is_removed_or_kept_to_resume_from(inputs, tmp_path):
    run(inputs, tmp_path, FakeEngine(inputs), jsonl=False)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["LR.txt", "r.csv", "r.json"]
    with pytest.raises(RunInterrupted) as stop:
        run(inputs, tmp_path, FakeEngine(inputs, stop_after=3), jsonl=False)
    assert stop.value.summary.kept_log == tmp_path / "LR.jsonl"
    assert len((tmp_path / "LR.jsonl").read_text().splitlines()) == 3


def test_parquet_rows_are_the_json_records(inputs, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    files = OutputFiles(tmp_path / "LR.txt", tmp_path / "r.json", parquet=tmp_path / "pq")
    (tmp_path / "pq").mkdir()
    (tmp_path / "pq" / "part-00007.parquet").write_bytes(b"stale part of an earlier run")
    stream_run(FakeEngine(inputs), [p.stem for p in inputs], lambda i: local_identity(inputs[i]), files, "m.h5")
    assert [p.name for p in (tmp_path / "pq").iterdir()] == ["part-00000.parquet"]
    table = pq.read_table(tmp_path / "pq")
    assert table.to_pylist() == json.loads((tmp_path / "r.json").read_text())["results"]
    assert str(table.schema.field("error").type) == "string" and "struct" in str(table.schema.field("box").type)


def test_resume_needs_jsonl(capsys):
    assert recognize_plates.main(["x.jpg", "--resume"]) == 2
    assert "--resume needs --jsonl" in capsys.readouterr().err


# ---------------------------------------------------------------- SIGKILL at random points, then --resume

IMAGES = 300


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("kill")
    images, labels = root / "images", root / "labels"
    images.mkdir()
    labels.mkdir()
    photo = make_photo()
    (images / "0000.jpg").write_bytes(photo.jpeg)
    for i in range(IMAGES):
        if i:
            os.link(images / "0000.jpg", images / f"{i:04d}.jpg")
        (labels / f"{i:04d}.txt").write_text(photo.label)
    (images / "0150.jpg").unlink()
    (images / "0150.jpg").write_bytes(photo.jpeg[:500])  # one failure in the middle
    return images, labels


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def without_timings(out: Path) -> tuple[str, dict[str, Any]]:
    document = json.loads((out / "r.json").read_text(encoding="utf-8"))
    for record in document["results"]:
        record.pop("seconds")
    return (out / "LR.txt").read_text(encoding="utf-8"), document


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_gives_the_clean_outputs(big_folder, tiny_model, tmp_path):
    images, labels = big_folder
    seed = time.time_ns() % 10_000
    rng = random.Random(seed)
    common = [str(images), "--labels", str(labels), "--model", str(tiny_model)]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    clean_argv = [*common, "--output", str(clean / "LR.txt"), "--json", str(clean / "r.json"), "-q"]
    assert recognize_plates.main(clean_argv) == 1
    jsonl = killed / "r.jsonl"
    argv = [*common, "--output", str(killed / "LR.txt"), "--json", str(killed / "r.json"), "--jsonl", str(jsonl),
            "--resume", "-q"]  # fmt: skip
    # Three kills: each once the log holds a random number of lines (or at once, in start-up, when it
    # already holds them); the second run reads with two worker processes.
    targets = sorted(rng.sample(range(IMAGES - 20), 3))
    for attempt, target in enumerate(targets):
        jobs = "2" if attempt == 1 else "1"
        proc = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "recognize_plates.py"), *argv, "--jobs", jobs], cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=default_sigint,
        )  # fmt: skip
        deadline = time.monotonic() + 180
        if line_count(jsonl) >= target:
            time.sleep(rng.uniform(0, 3))
        while line_count(jsonl) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, f"seed {seed}: the run ended before kill {attempt}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert line_count(jsonl) < IMAGES, f"seed {seed}"
    assert recognize_plates.main(argv) == 1
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    paths = [r["input"]["path"] for r in records]
    assert len(paths) == IMAGES, f"seed {seed}: {len(paths) - len(set(paths))} read twice"  # none read twice...
    assert len(set(paths)) == IMAGES, f"seed {seed}"  # ...and none lost
    assert without_timings(killed) == without_timings(clean), f"seed {seed}"


@pytest.mark.slow
def test_ctrl_c_then_the_printed_command_finishes_the_run(big_folder, tiny_model, tmp_path, capsys):
    """Ctrl-C without --jsonl: the outputs hold what was read, the records are kept, and the command
    printed on stderr goes on from there."""
    images, labels = big_folder
    out = tmp_path / "out"
    argv = [str(images), "--labels", str(labels), "--model", str(tiny_model), "--output", str(out / "LR.txt"), "-q"]
    proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "recognize_plates.py"), *argv], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, start_new_session=True, preexec_fn=default_sigint,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while not list(out.glob(".LR.txt.*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.05)
    spool = next(out.glob(".LR.txt.*.jsonl"))
    while line_count(spool) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    stderr = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == 130, stderr
    done = len((out / "LR.txt").read_text().splitlines())
    assert done >= 5 and f"interrupted after {done} of {IMAGES} images" in stderr
    command = re.search(r"To go on: python recognize_plates\.py (.*)", stderr).group(1).split()
    assert command[-3:] == ["--jsonl", str(out / "LR.jsonl"), "--resume"]
    capsys.readouterr()
    assert recognize_plates.main(command) == 1
    assert f"{IMAGES - done} images read" in capsys.readouterr().out
    assert len((out / "LR.txt").read_text().splitlines()) == IMAGES


# ---------------------------------------------------------------- a worker process killed (--jobs)


@pytest.fixture
def twelve_photos(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    photo = make_photo()
    for i in range(12):
        (folder / f"{i:04d}.jpg").write_bytes(photo.jpeg)
    return folder


def run_with_dying_workers(monkeypatch, model: Path, images: Path, out: Path, die: tuple[str, ...]) -> int:
    """``recognize_plates.py --jobs 2`` (no labels, the port at threshold 0) with workers killed on ``die``."""
    from dying_reader import DyingSpec

    monkeypatch.setattr(ReaderSpec, "of", classmethod(lambda cls, reader: DyingSpec(reader.model_path, reader.cfg, die)))
    argv = [str(images), "--no-labels", "--model", str(model), *PORT_FLAGS, "--output", str(out / "LR.txt"),
            "--json", str(out / "r.json"), "--jobs", "2", "-q"]  # fmt: skip
    return recognize_plates.main(argv)


def test_a_worker_killed_on_one_image_fails_only_that_image(twelve_photos, tiny_model, tmp_path, monkeypatch, capsys):
    """The pool a killed worker breaks is started again and the images in flight read again one at a time:
    only the image that kills a worker alone fails (it once ended the run with a traceback, and without
    --jsonl lost every record)."""
    clean = tmp_path / "clean"
    argv = [str(twelve_photos), "--no-labels", "--model", str(tiny_model), *PORT_FLAGS,
            "--output", str(clean / "LR.txt"), "--json", str(clean / "r.json"), "-q"]  # fmt: skip
    assert recognize_plates.main(argv) == 0
    assert run_with_dying_workers(monkeypatch, tiny_model, twelve_photos, tmp_path, ("0005",)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "a worker process died" in err
    records = {r["name"]: r for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    expected = {r["name"]: r for r in json.loads((clean / "r.json").read_text())["results"]}
    assert sorted(records) == sorted(expected)
    assert records["0005"]["error"] == f"{twelve_photos / '0005.jpg'}: {DIED}"
    for name in expected:
        if name != "0005":
            assert {k: v for k, v in records[name].items() if k != "seconds"} == {
                k: v for k, v in expected[name].items() if k != "seconds"}, name


def test_workers_killed_on_every_image_stop_the_run_and_keep_what_was_read(
    twelve_photos, tiny_model, tmp_path, monkeypatch, capsys
):
    assert run_with_dying_workers(monkeypatch, tiny_model, twelve_photos, tmp_path, ("all",)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"worker processes died on {DEAD_IN_A_ROW} images in a row" in err
    failed = (tmp_path / "LR.txt").read_text().splitlines()
    assert len(failed) == DEAD_IN_A_ROW - 1 and f"stopped after {len(failed)} of 12 images" in err
    command = re.search(r"To go on: python recognize_plates\.py (.*)", err).group(1).split()
    assert command[-3:] == ["--jsonl", str(tmp_path / "LR.jsonl"), "--resume"]
    monkeypatch.undo()  # the workers live again: the printed command reads the rest
    capsys.readouterr()
    assert recognize_plates.main(command) == 1  # the images recorded as failed stay failed
    assert f"{12 - len(failed)} images read" in capsys.readouterr().out
    assert len((tmp_path / "LR.txt").read_text().splitlines()) == 12
