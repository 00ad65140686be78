#!/usr/bin/env python3
"""The HTTP service and the video reader: latency, throughput, reliability, video frames per second.

Figures, not assertions. Starts ``serve_plates.py`` on the loopback as a user would (a child
process, with an API key) and measures, end to end through HTTP:

- start-up (model loaded and warmed) and the first request's latency;
- latency p50/p95 of a 416 px test photo and of a 12-megapixel photo (4000x3000, generated), no box;
- requests per second at concurrency 1 and 4 (416 px photos, keep-alive connections);
- a 200-request reliability mix (good photos, garbage, truncated files, huge headers, wrong
  keys): server errors (5xx other than the 503 of a full queue), tracebacks in the log, and
  whether every good photo's record equals the CLI's (``recognize_plates.py --no-labels --json``);

then reads videos in-process with ``plateocr.video``: a lossless 416 px video of the Spanish
test photos (each held one second: events against plates, duplicates, misses) and a 720p mp4
of the same photos (frames read per second).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import SPANISH_PLATE  # noqa: E402
from plateocr.devtools import Answer, connect, multipart, request, send, start_service  # noqa: E402

KEY = "bench-key"
IGNORED = ("name", "file", "seconds")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def post_photo(conn: Any, data: bytes, name: str | None = None, key: str = KEY) -> Answer:
    headers = {"X-API-Key": key}
    if name is not None:
        data, headers["Content-Type"] = multipart({}, name, data)
    return send(conn, "POST", "/v1/read", data, headers)


def timed_reads(url: str, bodies: list[bytes]) -> tuple[list[float], list[float]]:
    """Seconds of each request, one after the other on one keep-alive connection; and the reading's own
    seconds as the service measured them (decoding and reading, no HTTP)."""
    conn, times, inside = connect(url), [], []
    for body in bodies:
        started = time.perf_counter()
        answer = post_photo(conn, body)
        times.append(time.perf_counter() - started)
        assert answer.status == 200, answer.body
        inside.append(answer.json()["results"][0]["seconds"])
    conn.close()
    return times, inside


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latency_line(label: str, times: list[float], inside: list[float]) -> str:
    return (f"{label} ({len(times)} requests): p50 {percentile(times, 0.5):.3f} s, p95 {percentile(times, 0.95):.3f} s "
            f"(reading alone, as the service timed it: p50 {percentile(inside, 0.5):.3f} s)")  # fmt: skip


def throughput(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, Counter[int]]:
    """Requests per second with ``concurrency`` clients sharing ``bodies``; and the statuses."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    chunks = [bodies[i::concurrency] for i in range(concurrency)]

    def client(chunk: list[bytes]) -> None:
        conn = connect(url)
        for body in chunk:
            status = post_photo(conn, body).status
            with lock:
                statuses[status] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(bodies) / (time.perf_counter() - started), statuses


def twelve_megapixels(folder: Path) -> bytes:
    """A generated 4000x3000 car scene as JPEG (quality 90)."""
    import cv2
    import numpy as np

    from plateocr.synth import make_scene

    scene = make_scene(np.random.default_rng(12), canvas_size=(3000, 4000), plate_width=600.0, strength=0.3)
    ok, data = cv2.imencode(".jpg", scene.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    (folder / f"{scene.text}_12mp.jpg").write_bytes(data.tobytes())
    return data.tobytes()


def cli_records(model: Path, photos: list[Path], folder: Path) -> dict[str, dict[str, Any]]:
    out = folder / "cli.json"
    argv = [sys.executable, str(ROOT / "recognize_plates.py"), *map(str, photos), "--no-labels", "--model", str(model),
            "--output", str(folder / "cli.txt"), "--json", str(out), "-q"]  # fmt: skip
    subprocess.run(argv, check=True, cwd=ROOT)
    return {r["name"]: r for r in json.loads(out.read_text(encoding="utf-8"))["results"]}


def reliability_mix(url: str, photos: list[Path], count: int, seed: int) -> tuple[Counter[str], dict[str, dict[str, Any]]]:
    """``count`` requests of mixed kinds; returns statuses per kind and the good photos' records by name."""
    rng = random.Random(seed)
    statuses: Counter[str] = Counter()
    records: dict[str, dict[str, Any]] = {}
    good = [(p.stem, p.read_bytes()) for p in photos]

    def garbage() -> Answer:
        return request(url, body=rng.randbytes(rng.randint(1, 50_000)), headers={"X-API-Key": KEY})

    def truncated() -> Answer:
        _, data = rng.choice(good)
        return request(url, body=data[: rng.randint(1, len(data) - 1)], headers={"X-API-Key": KEY})

    def huge_header() -> Answer:
        _, data = rng.choice(good)
        return request(url, body=data, headers={"X-API-Key": KEY, "X-Pad": "p" * rng.randint(40_000, 200_000)})

    def wrong_key() -> Answer:
        _, data = rng.choice(good)
        return request(url, body=data, headers={"X-API-Key": rng.choice(["", "nope", KEY + "x"])})

    kinds: dict[str, Callable[[], Answer]] = {
        "garbage": garbage, "truncated": truncated, "huge header": huge_header, "wrong key": wrong_key,
    }  # fmt: skip
    for i in range(count):
        kind = "good" if i % 2 == 0 else rng.choice(list(kinds))
        if kind == "good":
            name, data = good[(i // 2) % len(good)]
            body, ctype = multipart({}, f"{name}.jpg", data)
            answer = request(url, body=body, headers={"X-API-Key": KEY, "Content-Type": ctype})
            if answer.status == 200:
                records[name] = answer.json()["results"][0]
        else:
            try:
                answer = kinds[kind]()
            except OSError as exc:  # the server closed a connection it refused: not an answer
                statuses[f"{kind}: {exc.__class__.__name__}"] += 1
                continue
        statuses[f"{kind}: {answer.status}"] += 1
    return statuses, records


def bench_service(args: argparse.Namespace, photos: list[Path], work: Path) -> None:
    started = time.perf_counter()
    service = start_service(args.model, "--api-key", KEY, log_path=work / "serve.log")
    print(f"start-up (process start to serving, model loaded and warm): {time.perf_counter() - started:.1f} s")
    try:
        small = [p.read_bytes() for p in photos]
        first, first_inside = timed_reads(service.url, small[:1])
        print(f"first request after start: {first[0]:.3f} s (416 px; reading alone {first_inside[0]:.3f} s)")
        big = twelve_megapixels(work)
        for label, bodies in (
            ("416 px, no box", [small[i % len(small)] for i in range(args.requests)]),
            (f"12 MP ({len(big) / 1e6:.1f} MB JPEG), no box", [big] * args.big_requests),
        ):
            cpu = cpu_seconds(service.process.pid)
            print(latency_line(label, *timed_reads(service.url, bodies)))
            # Load-independent: what one request costs the service in CPU (its threads may use both cores).
            print(f"  service CPU per request: {(cpu_seconds(service.process.pid) - cpu) / len(bodies):.3f} s")
        for concurrency in (1, 4):
            rps, statuses = throughput(service.url, [small[i % len(small)] for i in range(args.requests)], concurrency)
            print(f"concurrency {concurrency}: {rps:.2f} requests/s (statuses {dict(statuses)})")
        statuses, records = reliability_mix(service.url, photos, args.mix, args.seed)
        server_errors = sum(n for k, n in statuses.items() if k.split(": ")[1].startswith("5") and not k.endswith("503"))
        print(f"reliability mix ({args.mix} requests): {dict(sorted(statuses.items()))}")
        expected = cli_records(args.model, photos, work)
        same = sum(
            {k: v for k, v in records[n].items() if k not in IGNORED} == {k: v for k, v in expected[n].items() if k not in IGNORED}
            for n in records
        )
        print(f"  server errors (5xx but 503): {server_errors}; good photos whose record equals the CLI's: {same} of {len(records)}")
        alive = request(service.url, method="GET", path="/healthz").json()
        print(f"  still serving: {alive['status']}, {alive['requests_served']} requests served")
    finally:
        code = service.stop()
        log = service.log()
        print(f"  service stopped with exit code {code}; tracebacks in its log: {log.count('Traceback')}")


def bench_video(args: argparse.Namespace, photos: list[Path], work: Path) -> None:
    import cv2

    from plateocr.recognize import PlateReader
    from plateocr.video import read_video, slideshow, write_video

    reader = PlateReader(args.model)
    images = [cv2.imread(str(p)) for p in photos]
    names = [p.stem for p in photos]
    lossless = work / "plates_416.avi"
    write_video(lossless, slideshow(images, (416, 416), fps=5.0), fps=5.0, fourcc="FFV1")
    summary = read_video(reader, str(lossless), lambda e, s: None, every=1)
    readings = [e["reading"] for e in summary.events]
    seen = Counter(readings)
    print(f"video of the {len(names)} Spanish test photos (416 px, lossless, 1 s each, every frame read): "
          f"{len(summary.events)} events, {sum(r in names for r in readings)} equal a plate, "
          f"{sum(n - 1 for r, n in seen.items() if n > 1)} duplicates, {len(set(names) - set(readings))} plates missed")  # fmt: skip
    wrong = [(n, r) for n, r in zip(names, readings, strict=False) if n != r]
    if wrong or len(readings) != len(names):
        print(f"  events in order: {readings}")
    upscaled = [cv2.resize(i, (720, 720), interpolation=cv2.INTER_CUBIC) for i in images]
    hd = work / "plates_720p.mp4"
    write_video(hd, slideshow(upscaled, (1280, 720), fps=25.0), fps=25.0, fourcc="mp4v")
    summary = read_video(reader, str(hd), lambda e, s: None)
    readings = [e["reading"] for e in summary.events]
    print(f"720p mp4 (25 fps, {summary.frames_decoded} frames, one in {summary.every} read): "
          f"{summary.read_fps:.2f} frames read/s, {summary.frames_decoded / summary.seconds:.1f} frames decoded/s, "
          f"{summary.frames_decoded / 25.0 / summary.seconds:.2f}x real time; {len(summary.events)} events, "
          f"{sum(r in names for r in readings)} equal a plate")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ROOT / "models" / "chars74k_cnn.h5")
    p.add_argument("--images", type=Path, default=ROOT / "data" / "test6Training" / "images")
    p.add_argument("--requests", type=int, default=60, help="416 px requests per latency/throughput figure")
    p.add_argument("--big-requests", type=int, default=15, help="12 MP requests")
    p.add_argument("--mix", type=int, default=200, help="requests in the reliability mix")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--skip-video", action="store_true")
    p.add_argument("--skip-service", action="store_true")
    args = p.parse_args(argv)
    photos = sorted(q for q in args.images.glob("*.jpg") if SPANISH_PLATE.match(q.stem))
    # Timings move with the machine's load: say what it was.
    print("load average at start: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="serve_bench.") as tmp:
        if not args.skip_service:
            bench_service(args, photos, Path(tmp))
        if not args.skip_video:
            bench_video(args, photos, Path(tmp))
    print("load average at end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
