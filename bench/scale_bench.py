#!/usr/bin/env python3
"""Figures for long runs, not assertions: ``--engine ray`` against ``--jobs N`` (throughput, Ray's
start-up, identical outputs), and peak memory of a small run against a 10x larger one (streaming).

Throughput: the folder of ``bench/jobs_bench.py`` (117 test photos with labels + 300 generated photos
without, 417 images), each setting run as a fresh ``recognize_plates.py`` child (start-up included:
Python, TensorFlow and the model in each worker or actor; with Ray also starting a local Ray).

Memory: ``--memory-small`` and ``--memory-large`` copies (hard links) of one small generated photo
(160x120, with a label file), read by the real CLI with ``--jobs 1``; each child's peak RSS comes from
``wait4``. Small photos keep the 10,000-image run short; what a run holds per image (paths, names,
offsets into the JSONL) does not depend on the photo's size.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from jobs_bench import add_folder_arguments, make_folder  # noqa: E402


def run_cli(args: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) and stdout of one ``recognize_plates.py`` child."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("RAY_ADDRESS", None)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, str(ROOT / "recognize_plates.py"), *args], cwd=ROOT, stdout=out,
                                stderr=err, env=env)  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{' '.join(args)}: exit {code}\n{stderr[-3000:]}")
    return seconds, usage.ru_maxrss // 1024, stdout


def readings(json_path: Path) -> list[dict[str, Any]]:
    records = json.loads(json_path.read_text(encoding="utf-8"))["results"]
    for record in records:
        record.pop("seconds")
    return records


def throughput(args: argparse.Namespace, tmp: Path) -> None:
    folder, out = tmp / "images", tmp / "out"
    folder.mkdir()
    out.mkdir()
    count = make_folder(folder, args.images, args.scenes, seed=5)
    print(f"throughput: {count} images, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    settings = {f"--jobs {args.jobs}": ["--jobs", str(args.jobs)],
                f"--engine ray (actors: {args.jobs})": ["--engine", "ray", "--jobs", str(args.jobs)]}  # fmt: skip
    best: dict[str, float] = {}
    startups: list[float] = []
    documents = {}
    for _ in range(args.repeat):
        for label, flags in settings.items():
            json_path = out / f"{len(best)}.json"
            seconds, _, stdout = run_cli([str(folder), "--labels", str(args.labels), "--model", str(args.model),
                                          "--output", str(out / "LR.txt"), "--json", str(json_path), "-q", *flags])
            startup = re.search(r"Ray start-up ([0-9.]+) s", stdout)
            if startup:
                startups.append(float(startup.group(1)))
            documents[label] = readings(json_path)
            best[label] = min(seconds, best.get(label, float("inf")))
            print(f"  {label}: {seconds:.1f} s, {count / seconds:.2f} images/s"
                  + (f" (Ray start-up {startup.group(1)} s)" if startup else ""))  # fmt: skip
    local, ray = best.values()
    print(f"fastest: {' / '.join(f'{k} {v:.1f} s ({count / v:.2f} images/s)' for k, v in best.items())}")
    print(f"Ray / local throughput: x{local / ray:.2f} (target >= 0.90); Ray start-up (ray.init) "
          f"{min(startups):.1f}-{max(startups):.1f} s")  # fmt: skip
    same = len({json.dumps(d) for d in documents.values()}) == 1
    print(f"readings identical (JSON without timings): {'yes' if same else 'NO'}")
    per_core = count / local / args.jobs
    print(f"per-core rate (--jobs {args.jobs}): {per_core:.2f} images/s; 10^6 photos: "
          f"{1e6 / per_core / 3600:.0f} core-hours")  # fmt: skip


def memory(args: argparse.Namespace, tmp: Path) -> None:
    import cv2

    photo = cv2.resize(cv2.imread(str(next(iter(sorted(args.images.glob("*.jpg")))))), (160, 120))
    folder, labels = tmp / "many", tmp / "labels"
    folder.mkdir()
    labels.mkdir()
    cv2.imwrite(str(tmp / "one.jpg"), photo)
    label = "0 0.5 0.6 0.4 0.15\n"
    peaks = {}
    made = 0
    for size in (args.memory_small, args.memory_large):
        for i in range(made, size):
            os.link(tmp / "one.jpg", folder / f"{i:06d}.jpg")
            (labels / f"{i:06d}.txt").write_text(label)
        made = size
        seconds, peak, _ = run_cli([str(folder), "--labels", str(labels), "--model", str(args.model), "--output",
                                    str(tmp / "LR.txt"), "--json", str(tmp / "r.json"), "--csv", str(tmp / "r.csv"),
                                    "--jsonl", str(tmp / "r.jsonl"), "-q"])  # fmt: skip
        peaks[size] = peak
        print(f"memory: {size} images, {seconds:.1f} s, peak RSS {peak} MB")
    small, large = peaks[args.memory_small], peaks[args.memory_large]
    print(f"peak RSS {args.memory_large} vs {args.memory_small} images: {large} MB vs {small} MB "
          f"({100 * (large - small) / small:+.1f} %, target within 10 %)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_folder_arguments(p)  # --jobs: the local run's processes and Ray's actors
    p.add_argument("--memory-small", type=int, default=1000, help="images of the small run (default: 1000)")
    p.add_argument("--memory-large", type=int, default=10000, help="images of the large run (default: 10000)")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: throughput, memory")
    args = p.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    with tempfile.TemporaryDirectory() as tmp:
        if "throughput" not in skip:
            (Path(tmp) / "t").mkdir()
            throughput(args, Path(tmp) / "t")
        if "memory" not in skip:
            (Path(tmp) / "m").mkdir()
            memory(args, Path(tmp) / "m")
    return 0


if __name__ == "__main__":
    sys.exit(main())
