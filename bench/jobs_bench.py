#!/usr/bin/env python3
"""``recognize_plates.py --jobs 1`` against ``--jobs N`` on one folder: wall time and identical outputs.

Figures, not assertions. Each run is a fresh child process, so the times include what a user
waits for: Python start-up, imports and model loading (once per worker with ``--jobs N``); the
CPU seconds (the child and its workers) show the work itself, which a busy machine does not inflate.
By default the folder is the 117 test photos (``--all``, labelled) plus ``--scenes`` synthetic
photos read without labels (the localiser's path); ``--scenes 0`` times the test photos alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import RecognizeConfig  # noqa: E402


def make_folder(folder: Path, test_images: Path, scenes: int, seed: int) -> int:
    """Link the test photos into ``folder`` and add ``scenes`` synthetic ones; returns the image count."""
    import cv2
    import numpy as np

    from plateocr.inputs import folder_images
    from plateocr.synth import make_scene

    count = 0
    if test_images.is_dir():
        for path in folder_images(test_images):
            os.symlink(path.resolve(), folder / path.name)
            count += 1
    rng = np.random.default_rng(seed)
    for i in range(scenes):
        scene = make_scene(rng, canvas_size=(480, 640))
        # A name that is not a plate keeps the synthetic photos apart from the test photos' hits.
        cv2.imwrite(str(folder / f"scene{i:04d}_{scene.text}.jpg"), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        count += 1
    return count


def run(folder: Path, labels: Path, model: Path, jobs: int, out: Path) -> tuple[float, float, dict[str, Any]]:
    """Wall and CPU seconds of one ``recognize_plates.py`` child (its workers included) and its JSON
    output without the timings. CPU time is the work done, which a busy machine does not inflate."""
    json_path = out / f"jobs{jobs}.json"
    cmd = [
        sys.executable, str(ROOT / "recognize_plates.py"), str(folder), "--labels", str(labels),
        "--model", str(model), "--output", str(out / f"jobs{jobs}.txt"), "--json", str(json_path),
        "--jobs", str(jobs), "-q",
    ]  # fmt: skip
    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        sys.exit(f"jobs {jobs}: exit {proc.returncode}\n{proc.stderr}")
    document = json.loads(json_path.read_text(encoding="utf-8"))
    for record in document["results"]:
        record.pop("seconds")
    document["license_results"] = (out / f"jobs{jobs}.txt").read_text(encoding="utf-8")
    return seconds, cpu, document


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The records that differ between two JSON documents (same images, same order)."""
    return [(x, y) for x, y in zip(a["results"], b["results"], strict=True) if x != y]


def add_folder_arguments(p: argparse.ArgumentParser) -> None:
    """The model, the folder's make-up (``make_folder``), the parallel setting and the repeats."""
    rc = RecognizeConfig()
    p.add_argument("--model", type=Path, default=rc.model, help="trained model (default: %(default)s)")
    p.add_argument("--images", type=Path, default=rc.images, help="test photos (default: %(default)s)")
    p.add_argument("--labels", type=Path, default=rc.labels, help="their labels (default: %(default)s)")
    p.add_argument("--scenes", type=int, default=300, help="synthetic photos added (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="the parallel run's --jobs (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=1, help="runs of each setting; the fastest counts")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_folder_arguments(p)
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "images", Path(tmp) / "out"
        folder.mkdir()
        out.mkdir()
        count = make_folder(folder, args.images, args.scenes, seed=5)
        print(f"{count} images ({count - args.scenes} test photos, {args.scenes} synthetic), "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
        times: dict[int, float] = {}
        documents: dict[int, dict[str, Any]] = {}
        for _ in range(args.repeat):
            for jobs in (1, args.jobs):
                seconds, cpu, documents[jobs] = run(folder, args.labels, args.model, jobs, out)
                times[jobs] = min(seconds, times.get(jobs, float("inf")))
                print(f"--jobs {jobs}: {seconds:.1f} s (CPU {cpu:.1f} s)")
        identical = documents[1] == documents[args.jobs]
        for one, many in differences(documents[1], documents[args.jobs])[:5]:
            print(f"  differs: {one}\n       vs: {many}")
        print(f"speed-up --jobs {args.jobs} over --jobs 1: x{times[1] / times[args.jobs]:.2f} "
              f"({times[1]:.1f} s -> {times[args.jobs]:.1f} s)")
        print(f"outputs identical (LicenseResults.txt and JSON without timings): {'yes' if identical else 'NO'}")
        shutil.rmtree(folder)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
