"""The build files agree with the code they install for."""

from __future__ import annotations

import re
from pathlib import Path

from plateocr.synth import FONT_PACKAGES

ROOT = Path(__file__).resolve().parent.parent


def test_makefile_installs_the_fonts_the_generator_uses() -> None:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^FONT_PACKAGES := (.+)$", text, re.M)
    assert match, "Makefile has no FONT_PACKAGES line"
    assert match.group(1).split() == list(FONT_PACKAGES)


def test_readme_opens_with_two_quick_start_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block and text.index("```") < 600, "README must open with the quick start block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.split("#")[0].strip()]
    assert commands == ["make run", "make test"]
    for target in ("run", "test"):
        assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def normalise(package: str) -> str:
    """A distribution name as pip compares them."""
    return re.sub(r"[-_.]+", "-", package).lower()


def pins(name: str) -> dict[str, str]:
    """``package -> version`` of a pinned requirements file (names normalised as pip does)."""
    out = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            package, _, version = line.partition("==")
            assert version, f"{name}: {line!r} is not pinned"
            out[normalise(package)] = version
    return out


def test_reading_requirements_are_the_full_ones_pins_without_tensorflow() -> None:
    read, full = pins("requirements-read.txt"), pins("requirements.txt")
    assert {"onnxruntime", "numpy", "opencv-python-headless", "pillow", "tqdm"} <= set(read)
    assert not {"tensorflow-cpu", "keras", "tf2onnx", "h5py"} & set(read)
    assert {p: full.get(p) for p in read} == read
    # The benchmark's peers share the one ONNX Runtime.
    assert pins("requirements-bench.txt")["onnxruntime"] == read["onnxruntime"]


def test_make_model_also_exports_an_older_model() -> None:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^model:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe and "--export-onnx $(MODEL)" in recipe.group(1) and "test -f $(ONNX)" in recipe.group(1)
