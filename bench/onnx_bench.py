#!/usr/bin/env python3
"""Reading on ONNX Runtime against the Keras path it replaced: start-up, time per image, readings, install size.

Figures, not assertions (issue 13's targets in brackets):

1. Process start to the first reading of one 416 px photo with its label [<= 1.0 s], split into
   interpreter start, imports, model load and the read; each run is a fresh child process, and
   ``--read-python`` adds the same run in a reading-only venv (``requirements-read.txt``).
2. Milliseconds per image, with labels [<= 15 ms] and without, split into image decoding, plate
   boxes (label file or localiser), filters (views, filter bank, segmentation, character crops),
   preprocessing, the model, and the vote; ONNX Runtime and the Keras path side by side.
3. Same readings: every image read by both runtimes, readings and confidences compared (4 decimals).
4. Install size: a reading-only venv against the full one (``du -sm``).

::

    .venv/bin/python bench/onnx_bench.py --model models/chars74k_cnn.h5 --read-python /tmp/readvenv/bin/python

The Keras path is today's pipeline with the model swapped back (``plateocr.onnxrt.KerasModel``:
the ``.h5`` through one traced TensorFlow call, as reading ran before), so only the runtime differs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import DATA_DIR, RecognizeConfig  # noqa: E402

RUNTIMES = ("onnx", "keras")
# A named list of photos and their label folder (None: the localiser finds the plates).
ImageSet = tuple[str, list[Path], Path | None]

# The child of a start-up run: times from its first statement; the parent adds the interpreter's start.
STARTUP_CHILD = """
import time
started = time.time()
import json, sys
sys.path.insert(0, sys.argv[1])
runtime, model, photo, labels = sys.argv[2:6]
import plateocr.charreader as charreader
import plateocr.recognize as recognize
from config import RecognizeConfig
if runtime == "keras":  # the path before ONNX Runtime: TensorFlow imported, the .h5 loaded by Keras
    from pathlib import Path
    from plateocr.onnxrt import KerasModel
    from plateocr.tfimport import import_tensorflow_quietly
    import_tensorflow_quietly()
    import keras
    charreader.OnnxModel = lambda path, threads=None: KerasModel(Path(path).with_suffix(".h5"))
imported = time.time()
reader = recognize.PlateReader(model, RecognizeConfig(reader="chars"))
loaded = time.time()
result = reader.read_image(photo, labels)
read = time.time()
print(json.dumps({"started": started, "imported": imported, "loaded": loaded, "read": read,
                  "text": result.text, "tf": "tensorflow" in sys.modules}))
"""


def startup(python: str, runtime: str, model: Path, photo: Path, labels: Path) -> dict[str, Any]:
    """One fresh process to its first reading; phases in seconds."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    begun = time.time()
    proc = subprocess.run(
        [python, "-c", STARTUP_CHILD, str(ROOT), runtime, str(model), str(photo), str(labels)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        sys.exit(f"start-up run ({runtime}, {python}) failed:\n{proc.stderr}")
    t = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "interpreter": t["started"] - begun,
        "imports": t["imported"] - t["started"],
        "model load": t["loaded"] - t["imported"],
        "first read": t["read"] - t["loaded"],
        "total": t["read"] - begun,
        "text": t["text"],
        "tf": t["tf"],
    }


def print_startup(args: argparse.Namespace, photo: Path) -> None:
    print(f"1. Process start -> first reading of {photo.name} with its label (fastest of {args.repeat}; target <= 1.0 s)")
    runs = [("full venv, ONNX Runtime", sys.executable, "onnx"), ("full venv, Keras (before)", sys.executable, "keras")]
    if args.read_python:
        runs.insert(0, ("reading-only venv, ONNX Runtime", args.read_python, "onnx"))
    phases = ("interpreter", "imports", "model load", "first read", "total")
    print(f"   {'':34s}" + "".join(f"{p:>12s}" for p in phases) + "  reading  TF imported")
    for name, python, runtime in runs:
        best = min((startup(python, runtime, args.model, photo, args.labels) for _ in range(args.repeat)),
                   key=lambda r: r["total"])
        print(f"   {name:34s}" + "".join(f"{best[p]:>11.2f}s" for p in phases)
              + f"  {best['text'] or '-':7s}  {'yes' if best['tf'] else 'no'}")


STAGES = ("decode image", "plate boxes", "filters", "preprocess", "model", "vote", "total", "CPU total")


def timed_read(reader: Any, path: Path, labels: Path | None) -> tuple[dict[str, float], tuple[str, float], int]:
    """One image through the reader's own steps, each timed; returns (seconds per stage, reading, crops)."""
    from plateocr.decode import decode_plate
    from plateocr.imageio import read_image
    from plateocr.preprocess import preprocess_batch
    from plateocr.charreader import best_candidate
    from plateocr.plates import crop

    times: dict[str, float] = {}
    cpu, clock = time.process_time(), time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[stage] = now - clock
        clock = now

    image = read_image(path)
    lap("decode image")
    candidates = reader.candidates(image, path, labels)
    lap("plate boxes")
    batch = reader.chars.plate_crops([crop(image, c.box) for c in candidates])
    lap("filters")
    x = preprocess_batch(batch.crops, reader.chars.preprocess)
    lap("preprocess")
    probs = reader.chars.predict(x)
    lap("model")
    priors = iter(batch.priors)
    decoded = [[decode_plate(probs[s:e], next(priors)) for s, e in spans] for spans in batch.spans]
    reading, _ = best_candidate(decoded, [c.prior for c in candidates], [c.tightens for c in candidates])
    lap("vote")
    times["total"] = sum(times.values())
    times["CPU total"] = time.process_time() - cpu  # every thread of the process: less swayed by a busy machine
    return times, (reading.text, round(reading.confidence, 4)), len(batch.crops)


def readers(model: Path, threads: int | None) -> dict[str, Any]:
    from plateocr.onnxrt import KerasModel
    from plateocr.recognize import PlateReader

    chars = RecognizeConfig(reader="chars")
    onnx, keras = PlateReader(model, chars, threads=threads), PlateReader(model, chars)
    keras.chars.model = KerasModel(model)
    return {"onnx": onnx, "keras": keras}


def per_image(
    loaded: dict[str, Any], images: list[Path], labels: Path | None, repeat: int
) -> tuple[dict[str, dict[str, float]], dict[str, list[tuple[str, float]]], float]:
    """Median ms per stage over the images (fastest of ``repeat`` passes each), readings, mean crops.

    The runtimes take turns on each image, so that a change in the machine's load hits both alike.
    """
    best: dict[str, list[dict[str, float]]] = {r: [] for r in loaded}
    readings: dict[str, list[tuple[str, float]]] = {r: [] for r in loaded}
    crops: list[int] = []
    for reader in loaded.values():
        timed_read(reader, images[0], labels)  # warm-up: first-call set-up is not per-image work
    for path in images:
        passes: dict[str, list[tuple[dict[str, float], tuple[str, float], int]]] = {r: [] for r in loaded}
        for _ in range(repeat):
            for runtime, reader in loaded.items():
                passes[runtime].append(timed_read(reader, path, labels))
        for runtime, runs in passes.items():
            best[runtime].append(min((p[0] for p in runs), key=lambda t: t["total"]))
            readings[runtime].append(runs[0][1])
        crops.append(runs[0][2])
    stages = {r: {s: 1000 * statistics.median(t[s] for t in best[r]) for s in STAGES} for r in loaded}
    return stages, readings, statistics.mean(crops)


def print_per_image(loaded: dict[str, Any], sets: list[ImageSet], repeat: int) -> None:
    print(f"\n2. Milliseconds per image (median over the images; each the fastest of {repeat}; target with labels <= 15)")
    print(f"   {'set':34s}{'runtime':>8s}" + "".join(f"{s:>13s}" for s in STAGES) + "   crops")
    for name, images, labels in sets:
        stages, _, crops = per_image(loaded, images, labels, repeat)
        for runtime in RUNTIMES:
            print(f"   {name:34s}{runtime:>8s}" + "".join(f"{stages[runtime][s]:>13.1f}" for s in STAGES)
                  + f"   {crops:5.0f}")
        print(f"   {'':34s}{'model share: ONNX / Keras':>26s} {stages['onnx']['model'] / stages['keras']['model']:.2f}"
              f"   (of the total: {stages['onnx']['model'] / stages['onnx']['total']:.0%} vs "
              f"{stages['keras']['model'] / stages['keras']['total']:.0%})")


def compare_readings(loaded: dict[str, Any], sets: list[ImageSet]) -> None:
    """Every image of every set through both runtimes' full ``read_image``; differences printed."""
    print("\n3. Same readings (text and confidence to 4 decimals, ONNX Runtime vs Keras)")
    for name, images, labels in sets:
        got = {r: [loaded[r].read_image(p, labels) for p in images] for r in RUNTIMES}
        keys = {r: [(x.text, round(x.confidence, 4), tuple(round(c, 4) for c in x.char_probs)) for x in got[r]]
                for r in RUNTIMES}
        differ = [(p.name, a, b) for p, a, b in zip(images, keys["onnx"], keys["keras"], strict=True) if a != b]
        hits = sum(1 for p, (text, *_) in zip(images, keys["onnx"], strict=True) if text == p.stem)
        print(f"   {name:34s} {len(images) - len(differ)}/{len(images)} identical, ONNX hits {hits}")
        for item in differ[:5]:
            print(f"      differs: {item}")


def megabytes(path: Path) -> int:
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def print_sizes(read_python: str | None) -> None:
    print("\n4. Install size (du -sm)")
    full = Path(sys.prefix).resolve()
    site = next(full.glob("lib/python3*/site-packages"))
    heavy = sum(megabytes(p) for n in ("tensorflow", "keras", "tf2onnx", "onnx", "h5py") for p in site.glob(n) if p.is_dir())
    print(f"   full venv ({full}): {megabytes(full)} MB, of which tensorflow, keras, tf2onnx, onnx, h5py {heavy} MB")
    if read_python:
        prefix = Path(subprocess.run([read_python, "-c", "import sys; print(sys.prefix)"], capture_output=True,
                                     text=True, check=True).stdout.strip())
        print(f"   reading-only venv ({prefix}, requirements-read.txt): {megabytes(prefix)} MB")


def image_sets(args: argparse.Namespace) -> tuple[list[ImageSet], list[ImageSet]]:
    """The sets to time (the Spanish test photos) and the sets to compare readings on (every photo)."""
    from plateocr.recognize import list_images

    timed, compared = [], []
    for kind, images in (("Spanish", list_images(args.images, False)), ("all", list_images(args.images, True))):
        sets = timed if kind == "Spanish" else compared
        sets.append((f"test6Training, {len(images)} {kind}, labels", images, args.labels))
        sets.append((f"test6Training, {len(images)} {kind}, no labels", images, None))
    if args.synthetic and (args.synthetic / "images").is_dir():
        generated = list_images(args.synthetic / "images", include_all=True)[: args.synthetic_count]
        compared.append((f"generated set, {len(generated)}, labels", generated, args.synthetic / "labels"))
        compared.append((f"generated set, {len(generated)}, no labels", generated, None))
    return timed, compared


def main(argv: list[str] | None = None) -> int:
    rc = RecognizeConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=rc.model, help="trained model, .h5 with its .onnx (%(default)s)")
    p.add_argument("--images", type=Path, default=rc.images, help="test photos (%(default)s)")
    p.add_argument("--labels", type=Path, default=rc.labels, help="their labels (%(default)s)")
    p.add_argument("--synthetic", type=Path, default=DATA_DIR / "synthetic_test",
                   help="generated test set (bench/testset.py), compared too when present (%(default)s)")
    p.add_argument("--synthetic-count", type=int, default=200, help="at most this many generated photos")
    p.add_argument("--read-python", help="python of a reading-only venv (requirements-read.txt): start-up and size")
    p.add_argument("--repeat", type=int, default=3, help="runs of each timing; the fastest counts")
    p.add_argument("--threads", type=int, help="ONNX Runtime's intra-op threads (default: every usable CPU)")
    p.add_argument("--skip", default="", help="comma-separated sections to skip: startup,per-image,readings,size")
    args = p.parse_args(argv)
    skip = set(args.skip.split(","))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, model {args.model}")

    timed, compared = image_sets(args)
    sections: list[tuple[str, Callable[[], None]]] = [
        ("startup", lambda: print_startup(args, timed[0][1][0])),
        ("per-image", lambda: print_per_image(readers(args.model, args.threads), timed, args.repeat)),
        ("readings", lambda: compare_readings(readers(args.model, args.threads), compared)),
        ("size", lambda: print_sizes(args.read_python)),
    ]
    for name, run in sections:
        if name not in skip:
            run()
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
