"""``--engine ray`` on a local Ray with 2 CPUs: the same readings as ``--jobs 1``, failures as rows,
Parquet, and the set-up errors. One Ray session for the module (Ray takes seconds to start)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from test_recognize_cli import GOOD, write_photo
from test_reliability import make_photo, wrong_class_count_model

import recognize_plates


def test_engine_ray_without_ray_installed_exits_2_naming_the_requirements(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    (tmp_path / "a.jpg").write_bytes(make_photo().jpeg)
    code = recognize_plates.main([str(tmp_path / "a.jpg"), "--engine", "ray", "--output", str(tmp_path / "o.txt")])
    assert code == 2
    assert "requirements-ray.txt" in capsys.readouterr().err
    assert not (tmp_path / "o.txt").exists()


@pytest.fixture(scope="module")
def local_ray() -> Any:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, rendered_plate_module) -> tuple[Path, Path]:
    """Labelled photos, one without a label (the localiser), a broken file, and two images sharing a stem."""
    root = tmp_path_factory.mktemp("ray")
    images, labels = root / "images", root / "labels"
    (images / "a").mkdir(parents=True)
    (images / "b").mkdir()
    labels.mkdir()
    for text in (GOOD, "1234BCD", "5678FGH", "9012JKL"):
        write_photo(images, labels, text, rendered_plate_module(text)[0])
    write_photo(images, None, "7777MMM", rendered_plate_module("7777MMM")[0])
    (images / "broken.jpg").write_bytes(make_photo().jpeg[:300])
    (labels / "broken.txt").write_text("0 0.5 0.5 0.2 0.1\n")
    for sub in ("a", "b"):
        write_photo(images / sub, labels, "3333NNN", rendered_plate_module("3333NNN")[0])
    return images, labels


@pytest.fixture(scope="module")
def rendered_plate_module():
    from conftest import draw_plate

    return draw_plate


def readings(out: Path) -> tuple[str, list[dict[str, Any]]]:
    records = json.loads((out / "r.json").read_text(encoding="utf-8"))["results"]
    for record in records:
        record.pop("seconds")
    return (out / "LR.txt").read_text(encoding="utf-8"), records


@pytest.mark.slow
def test_engine_ray_reads_as_jobs_1(local_ray, photos, tiny_model, tmp_path, capsys):
    images, labels = photos
    common = [str(images), "-r", "--labels", str(labels), "--model", str(tiny_model), "-q"]

    def outputs(out: Path) -> list[str]:
        return ["--output", str(out / "LR.txt"), "--json", str(out / "r.json"), "--jsonl", str(out / "r.jsonl"),
                "--parquet", str(out / "pq"), "--save-crops", str(out / "crops")]  # fmt: skip

    local, distributed = tmp_path / "local", tmp_path / "ray"
    assert recognize_plates.main([*common, *outputs(local), "--jobs", "1"]) == 1
    capsys.readouterr()
    assert recognize_plates.main([*common, *outputs(distributed), "--engine", "ray", "--jobs", "2"]) == 1
    printed = capsys.readouterr()
    assert readings(distributed) == readings(local)
    records = readings(distributed)[1]
    assert len(records) == 8 and sum(1 for r in records if r["error"]) == 1  # the broken file is a row
    assert "broken.jpg" in printed.err
    assert {r["name"] for r in records} >= {"a/3333NNN.jpg", "b/3333NNN.jpg"}
    assert sorted(p.name for p in (distributed / "crops").iterdir()) == sorted(
        p.name for p in (local / "crops").iterdir()
    )
    assert len((distributed / "r.jsonl").read_text().splitlines()) == 8
    pq = pytest.importorskip("pyarrow.parquet")
    rows = pq.read_table(distributed / "pq").to_pylist()
    assert [r["name"] for r in rows] == [r["name"] for r in records]
    assert "8 images read in" in printed.out and "Ray start-up" in printed.out and "1 failed" in printed.out

    # Resume under Ray: nothing left to read.
    assert recognize_plates.main([*common, *outputs(distributed), "--engine", "ray", "--resume"]) == 1
    assert "0 images read" in capsys.readouterr().out
    assert readings(distributed) == readings(local)


@pytest.mark.slow
def test_engine_ray_with_a_model_the_actors_cannot_load_exits_2(local_ray, photos, tmp_path, capsys):
    images, labels = photos
    model = wrong_class_count_model(tmp_path / "ten.h5")
    argv = [str(images / "a"), "--model", str(model), "--engine", "ray", "--output", str(tmp_path / "o"), "-q"]
    assert recognize_plates.main(argv) == 2
    assert "model predicts 10 classes" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_an_object_store_input_is_read_from_its_bytes_as_from_a_file(tiny_model, tmp_path):
    """What an actor does with an image its node cannot see (``s3://...``): the same reading, from a local copy."""
    import cv2

    from plateocr.batch import ReaderSpec, read_one
    from plateocr.rayengine import RayReader
    from plateocr.recognize import PlateReader
    from plateocr.results import result_record

    threads = cv2.getNumThreads()
    try:
        actor = RayReader(ReaderSpec(tiny_model), labels=None, outputs=None, renamed={}, cpus=1)
    finally:
        cv2.setNumThreads(threads)
    photo = make_photo()
    batch = {"path": ["bucket/cars/2745BCD.jpg", "bucket/cars/bad.jpg"], "bytes": [photo.jpeg, b"junk"]}
    rows = actor(batch)
    assert rows["path"] == batch["path"] and rows["fatal"] == ["", ""]
    good, bad = (json.loads(r) for r in rows["record"])
    (tmp_path / "2745BCD.jpg").write_bytes(photo.jpeg)
    local = result_record(read_one(PlateReader(tiny_model), tmp_path / "2745BCD.jpg", None, "2745BCD"))
    assert {**good, "seconds": 0, "file": ""} == {**local, "seconds": 0, "file": ""}
    assert bad["error"] == "bucket/cars/bad.jpg: not a readable image (UnidentifiedImageError)"
    assert list(Path(actor.tmp).iterdir()) == []
