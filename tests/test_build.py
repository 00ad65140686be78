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
