"""Output files are written whole or not at all; the results file keeps the original format."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from plateocr.results import atomic_path, license_results_text, write_json_atomic, write_text_atomic, write_with


class WriterFailed(RuntimeError):
    pass


def test_write_text_atomic_creates_the_file_with_the_full_content(tmp_path):
    target = tmp_path / "sub" / "dir" / "LicenseResults.txt"  # parents are created
    text = "".join(f"{i:04d}BCD,{i:04d}BCD\n" for i in range(2000))
    write_text_atomic(target, text)
    assert target.read_bytes() == text.encode("utf-8")
    assert sorted(p.name for p in target.parent.iterdir()) == ["LicenseResults.txt"]


def test_write_text_atomic_replaces_an_existing_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old content that is longer than the new one\n")
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_written_file_gets_the_usual_permissions(tmp_path):
    target = tmp_path / "LicenseResults.txt"
    write_text_atomic(target, "1234BCD,1234BCD\n")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_failing_writer_leaves_the_old_file_untouched_and_no_temp_file(tmp_path):
    target = tmp_path / "LicenseResults.txt"
    target.write_text("1234BCD,1234BCD\n")
    before = target.read_bytes()

    def writer(path: Path) -> None:
        with open(path, "w") as fh:
            fh.write("5678FGH,56")  # half a line, then the writer dies
            fh.flush()
        raise WriterFailed("disk on fire")

    with pytest.raises(WriterFailed):
        write_with(target, writer)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["LicenseResults.txt"]


def test_failing_block_creates_nothing_when_there_was_no_file(tmp_path):
    target = tmp_path / "model.h5"
    with pytest.raises(WriterFailed):
        with atomic_path(target) as tmp:
            assert tmp.parent == target.parent and tmp != target
            assert tmp.suffix == ".h5"  # writers that pick a format by extension still work
            tmp.write_bytes(b"partial")
            raise WriterFailed
    assert list(tmp_path.iterdir()) == []


def test_json_is_written_atomically_and_round_trips(tmp_path):
    data = {"classes": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "val_accuracy": 0.5, "name": "año"}
    target = tmp_path / "m.json"
    write_json_atomic(target, data)
    assert json.loads(target.read_text(encoding="utf-8")) == data


def test_license_results_text_is_one_name_comma_reading_line_per_image():
    rows = [("1234BCD", "1234BCD"), ("5678FGH", ""), ("0001XYZ", "0007XYZ")]
    assert license_results_text(rows) == "1234BCD,1234BCD\n5678FGH,\n0001XYZ,0007XYZ\n"
    assert license_results_text([]) == ""
    assert license_results_text(iter(rows[:1])) == "1234BCD,1234BCD\n"  # any iterable
