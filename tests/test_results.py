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


@pytest.mark.parametrize("unnamed", [True, False])
def test_bytes_are_written_whole_with_no_named_file_while_they_are_written(tmp_path, monkeypatch, unnamed):
    # A run killed outright (SIGKILL, as tests/test_reliability.py does) must leave no temporary file: where
    # Linux gives unnamed files (O_TMPFILE) the file being written has no name until it is whole and on disk.
    import os

    from plateocr import results

    target = tmp_path / "0002.png"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    seen_while_writing: list[list[str]] = []
    fsync = os.fsync

    def watching_fsync(fd: int) -> None:
        seen_while_writing.append(sorted(p.name for p in tmp_path.iterdir()))
        fsync(fd)

    monkeypatch.setattr(results.os, "fsync", watching_fsync)
    if not unnamed:  # a file system without unnamed files: a named temporary file, renamed
        monkeypatch.delattr(results.os, "O_TMPFILE", raising=False)
    data = bytes(range(256)) * 1000
    results.write_bytes_atomic(target, data)
    assert target.read_bytes() == data and target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["0002.png"]
    if unnamed and hasattr(os, "O_TMPFILE"):
        assert seen_while_writing == [["0002.png"]]
    else:
        assert len(seen_while_writing) == 1 and len(seen_while_writing[0]) == 2  # the named temporary file
    results.write_bytes_atomic(tmp_path / "new" / "a.json", b"{}")  # a new folder, a new file
    assert (tmp_path / "new" / "a.json").read_bytes() == b"{}"
