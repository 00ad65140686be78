"""The data step: mirror linking, download and safe extraction, verification, and the CLI."""

from __future__ import annotations

import io
import logging
import shutil
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np
import pytest

import prepare_data as cli
from config import DEFAULT_MIRROR
from plateocr.errors import DataError, SetupError
from plateocr.prepare import (
    CHARS74K,
    TEST6,
    prepare_data,
    select_chars74k,
    select_test6,
    verify_data,
)

GOOD_PER_CLASS = 2
BAD_PER_CLASS = 1
CLASS_COUNT = 36
# Two Spanish plate names (four digits, three consonants) and one foreign one.
PLATES = ("1234BCD", "5678XYZ", "AB123CD")
PNG = cv2.imencode(".png", np.full((8, 8), 200, np.uint8))[1].tobytes()
JPEG = cv2.imencode(".jpg", np.zeros((16, 24, 3), np.uint8))[1].tobytes()


# --------------------------------------------------------------------------- building inputs


def write_chars74k(root: Path, extra_folders: bool = False) -> None:
    """A tiny Chars74K tree below ``root`` (``English/Img/...``), optionally with folders to be skipped."""
    img = root / "English" / "Img"
    subsets = {"GoodImg": GOOD_PER_CLASS, "BadImag": BAD_PER_CLASS}
    classes = range(1, CLASS_COUNT + 1 + (2 if extra_folders else 0))
    for subset, per_class in subsets.items():
        for number in classes:
            folder = img / subset / "Bmp" / f"Sample{number:03d}"
            folder.mkdir(parents=True)
            for k in range(1, per_class + 1):
                (folder / f"img{number:03d}-{k:05d}.png").write_bytes(PNG)
    if extra_folders:
        masks = img / "GoodImg" / "Msk" / "Sample001"
        masks.mkdir(parents=True)
        (masks / "img001-00001.png").write_bytes(PNG)


def write_test6(root: Path) -> None:
    """Three plate photos with YOLO labels below ``root`` (``images/``, ``labels/``)."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir(parents=True)
    for plate in PLATES:
        (root / "images" / f"{plate}.jpg").write_bytes(JPEG)
        (root / "labels" / f"{plate}.txt").write_text("0 0.5 0.5 0.3 0.1\n")


@pytest.fixture()
def mirror(tmp_path: Path) -> Path:
    root = tmp_path / "mirror"
    write_chars74k(root / CHARS74K)
    write_test6(root / TEST6)
    return root


def snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    """Every path below ``root`` with its mtime and size, to prove a folder was not written to."""
    return {p.relative_to(root): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}


def assert_fake_counts(data_dir: Path) -> None:
    report = verify_data(data_dir)
    assert report.problems == []
    assert report.good.total == GOOD_PER_CLASS * CLASS_COUNT
    assert report.bad.total == BAD_PER_CLASS * CLASS_COUNT
    assert (report.test6.images, report.test6.labels, report.test6.spanish) == (3, 3, 2)


def leftovers(data_dir: Path) -> list[str]:
    """Hidden scratch folders or partial files a failed run would leave behind."""
    return [p.name for p in data_dir.iterdir() if p.name.startswith(".") or p.name.endswith(".part")]


def make_tgz(path: Path, source: Path, extra: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source / "English", arcname="English")
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path, source: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for file in sorted(source.rglob("*")):
            if file.is_file():
                zipped.write(file, f"{TEST6}/{file.relative_to(source).as_posix()}")
        for name, data in (extra or {}).items():
            zipped.writestr(zipfile.ZipInfo(name), data)
    return path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A local HTTP server on 127.0.0.1 serving the folder it returns, with its base URL."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture()
def archives(tmp_path: Path, server: tuple[Path, str]) -> dict[str, str]:
    """EnglishImg.tgz (with lowercase classes and masks) and test6Training.zip (with macOS junk), served."""
    www, base = server
    source = tmp_path / "archive-source"
    write_chars74k(source / "chars", extra_folders=True)
    write_test6(source / "test6")
    make_tgz(www / "EnglishImg.tgz", source / "chars")
    junk = {f"__MACOSX/{TEST6}/images/._{PLATES[0]}.jpg": b"junk", f"{TEST6}/README.roboflow.txt": b"x"}
    make_zip(www / "test6Training.zip", source / "test6", junk)
    return {"chars74k_url": f"{base}/EnglishImg.tgz", "test6_url": f"{base}/test6Training.zip"}


@pytest.fixture()
def restore_logging() -> Iterator[None]:
    """The CLI reconfigures the root logger; give pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# --------------------------------------------------------------------------- mirror mode


def test_mirror_is_linked_and_never_written(tmp_path: Path, mirror: Path) -> None:
    before = snapshot(mirror)
    data = tmp_path / "data"
    report = prepare_data(data, mirror=mirror)
    assert report.ok, report.problems
    for name in (CHARS74K, TEST6):
        assert (data / name).is_symlink()
        assert (data / name).resolve() == (mirror / name).resolve()
    assert_fake_counts(data)
    assert snapshot(mirror) == before


def test_second_run_leaves_links_alone(tmp_path: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    prepare_data(data, mirror=mirror)

    def must_not_relink(*args: object, **kwargs: object) -> None:
        raise AssertionError("an existing correct link was recreated")

    monkeypatch.setattr(Path, "symlink_to", must_not_relink)
    monkeypatch.setattr(Path, "unlink", must_not_relink)
    report = prepare_data(data, mirror=mirror)
    assert report.ok
    assert all((data / name).is_symlink() for name in (CHARS74K, TEST6))


def test_default_mirror_is_used_when_none_given(tmp_path: Path, mirror: Path) -> None:
    data = tmp_path / "data"
    assert prepare_data(data, default_mirror=mirror).ok
    assert (data / CHARS74K).resolve() == (mirror / CHARS74K).resolve()


def test_link_to_elsewhere_is_replaced(tmp_path: Path, mirror: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / TEST6).symlink_to(tmp_path / "gone", target_is_directory=True)
    assert prepare_data(data, mirror=mirror).ok
    assert (data / TEST6).resolve() == (mirror / TEST6).resolve()


def test_complete_real_folder_is_kept(tmp_path: Path, mirror: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(mirror / TEST6, data / TEST6)
    assert prepare_data(data, mirror=mirror).ok
    assert not (data / TEST6).is_symlink()
    assert (data / CHARS74K).is_symlink()


def test_incomplete_real_folder_is_refused_not_deleted(tmp_path: Path, mirror: Path) -> None:
    data = tmp_path / "data"
    (data / TEST6 / "images").mkdir(parents=True)
    with pytest.raises(DataError, match="incomplete"):
        prepare_data(data, mirror=mirror)
    assert (data / TEST6 / "images").is_dir()


def test_copies_when_symlinks_fail(tmp_path: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("symlinks not supported")

    monkeypatch.setattr(Path, "symlink_to", refuse)
    data = tmp_path / "data"
    assert prepare_data(data, mirror=mirror).ok
    assert (data / CHARS74K).is_dir() and not (data / CHARS74K).is_symlink()
    assert_fake_counts(data)
    assert leftovers(data) == []


def test_missing_mirror_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="nowhere"):
        prepare_data(tmp_path / "data", mirror=tmp_path / "nowhere")


def test_mirror_without_a_dataset_is_a_data_error(tmp_path: Path, mirror: Path) -> None:
    shutil.rmtree(mirror / TEST6)
    with pytest.raises(DataError, match=TEST6):
        prepare_data(tmp_path / "data", mirror=mirror)


def test_mirror_and_download_together_are_refused(tmp_path: Path, mirror: Path) -> None:
    with pytest.raises(SetupError):
        prepare_data(tmp_path / "data", mirror=mirror, download=True)


# --------------------------------------------------------------------------- verification


@pytest.mark.parametrize("how", ["removed", "emptied"])
def test_missing_class_is_reported(mirror: Path, how: str) -> None:
    folder = mirror / CHARS74K / "English" / "Img" / "GoodImg" / "Bmp" / "Sample007"
    shutil.rmtree(folder)
    if how == "emptied":
        folder.mkdir()
    report = verify_data(mirror)
    assert not report.ok
    assert report.good.missing == ("Sample007 ('6')",)
    assert report.good.summary() == f"chars74k GoodImg: {GOOD_PER_CLASS * 35} images in 35 classes"
    assert any("Sample007" in p and str(folder.parent) in p for p in report.problems)
    with pytest.raises(DataError, match="Sample007"):
        report.require_ok()


def test_corrupt_png_is_reported(mirror: Path) -> None:
    broken = mirror / CHARS74K / "English" / "Img" / "GoodImg" / "Bmp" / "Sample020" / "img020-00001.png"
    broken.write_bytes(b"not a png at all")
    report = verify_data(mirror, decode_sample=1)
    assert report.good.undecodable == ("Sample020/img020-00001.png",)
    assert not report.ok
    assert "Sample020/img020-00001.png" in " ".join(report.problems)


def test_corrupt_plate_photo_is_reported(mirror: Path) -> None:
    (mirror / TEST6 / "images" / f"{PLATES[1]}.jpg").write_bytes(b"")
    assert verify_data(mirror).test6.undecodable == (f"{PLATES[1]}.jpg",)


def test_bad_subset_is_optional(mirror: Path) -> None:
    shutil.rmtree(mirror / CHARS74K / "English" / "Img" / "BadImag")
    report = verify_data(mirror)
    assert report.ok
    assert report.bad.summary() == "chars74k BadImag: not found (optional)"


def test_missing_labels_and_unlabelled_images(mirror: Path) -> None:
    (mirror / TEST6 / "labels" / f"{PLATES[0]}.txt").unlink()
    report = verify_data(mirror)
    assert report.ok, "an image without a label is reported, not fatal"
    assert report.test6.unlabelled == (f"{PLATES[0]}.jpg",)
    shutil.rmtree(mirror / TEST6 / "labels")
    assert any(p.endswith("labels: folder not found") for p in verify_data(mirror).problems)


def test_empty_folder_reports_every_dataset(tmp_path: Path) -> None:
    problems = " | ".join(verify_data(tmp_path).problems)
    assert "GoodImg folder not found" in problems
    assert f"{tmp_path / TEST6 / 'images'}: folder not found" in problems


# --------------------------------------------------------------------------- download mode


@pytest.mark.parametrize(
    ("member", "kept"),
    [
        ("English/Img/GoodImg/Bmp/Sample001/a.png", "English/Img/GoodImg/Bmp/Sample001/a.png"),
        ("EnglishImg/English/Img/BadImag/Bmp/Sample036/a.png", "English/Img/BadImag/Bmp/Sample036/a.png"),
        ("English/Img/GoodImg/Bmp/Sample037/img037-00001.png", None),
        ("English/Img/GoodImg/Msk/Sample001/img001-00001.png", None),
        ("English/Img/GoodImg/Bmp/Sample001/list.txt", None),
    ],
)
def test_select_chars74k(member: str, kept: str | None) -> None:
    result = select_chars74k(PurePosixPath(member))
    assert (result.as_posix() if result else None) == kept


def test_select_test6_finds_images_and_labels_in_any_top_folder() -> None:
    assert select_test6(PurePosixPath("export/test/images/1.jpg")) == PurePosixPath("images/1.jpg")
    assert select_test6(PurePosixPath("labels/1234BCD.txt")) == PurePosixPath("labels/1234BCD.txt")
    assert select_test6(PurePosixPath("test6Training/data.yaml")) is None


def test_download_builds_a_verifying_layout(
    tmp_path: Path, archives: dict[str, str], server: tuple[Path, str]
) -> None:
    data = tmp_path / "data"
    # No mirror given and the default one absent: the step downloads.
    report = prepare_data(data, default_mirror=tmp_path / "no-mirror", **archives)
    assert report.ok, report.problems
    assert_fake_counts(data)
    good = data / CHARS74K / "English" / "Img" / "GoodImg"
    assert sorted(p.name for p in (good / "Bmp").iterdir())[-1] == "Sample036"
    assert not (good / "Msk").exists()
    assert sorted(p.name for p in (data / TEST6).iterdir()) == ["images", "labels"]
    assert not any(p.name.startswith("._") for p in (data / TEST6 / "images").iterdir())
    assert leftovers(data) == []
    # Complete folders are not downloaded again: the second run works with the archives gone.
    for archive in server[0].iterdir():
        archive.unlink()
    assert prepare_data(data, download=True, **archives).ok


@pytest.mark.parametrize("kind", ["tgz", "zip"])
@pytest.mark.parametrize("evil", ["../evil.txt", "/tmp/evil.txt"])
def test_unsafe_member_is_rejected(
    tmp_path: Path, archives: dict[str, str], server: tuple[Path, str], kind: str, evil: str
) -> None:
    www = server[0]
    source = tmp_path / "archive-source"
    if kind == "tgz":
        make_tgz(www / "EnglishImg.tgz", source / "chars", extra={evil: b"gotcha"})
    else:
        make_zip(www / "test6Training.zip", source / "test6", extra={evil: b"gotcha"})
    data = tmp_path / "sub" / "data"
    with pytest.raises(DataError, match="unsafe archive member") as caught:
        prepare_data(data, download=True, **archives)
    assert archives["chars74k_url" if kind == "tgz" else "test6_url"] in str(caught.value)
    assert not (data / (CHARS74K if kind == "tgz" else TEST6)).exists()
    assert not (tmp_path / "sub" / "evil.txt").exists() and not (data / "evil.txt").exists()
    assert leftovers(data) == []


def test_http_404_names_the_url(tmp_path: Path, server: tuple[Path, str]) -> None:
    url = f"{server[1]}/missing/EnglishImg.tgz"
    data = tmp_path / "data"
    with pytest.raises(DataError, match="404") as caught:
        prepare_data(data, download=True, chars74k_url=url)
    assert url in str(caught.value)
    assert leftovers(data) == []


def test_a_web_page_instead_of_an_archive_is_refused(tmp_path: Path, server: tuple[Path, str]) -> None:
    (server[0] / "page.html").write_text("<html>moved</html>")
    with pytest.raises(DataError, match="neither a zip nor a tar"):
        prepare_data(tmp_path / "data", download=True, chars74k_url=f"{server[1]}/page.html")


# --------------------------------------------------------------------------- CLI


@pytest.mark.usefixtures("restore_logging")
def test_cli_mirror_then_verify_only(
    tmp_path: Path, mirror: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    assert cli.main(["--data-dir", data, "--mirror", str(mirror), "-q"]) == 0
    out = capsys.readouterr().out
    assert f"chars74k GoodImg: {GOOD_PER_CLASS * CLASS_COUNT} images in 36 classes" in out
    assert "test6Training: 3 images, 3 labels, 2 Spanish plates" in out
    assert cli.main(["--data-dir", data, "--verify-only", "-q"]) == 0


@pytest.mark.usefixtures("restore_logging")
def test_cli_download(tmp_path: Path, archives: dict[str, str]) -> None:
    argv = ["--data-dir", str(tmp_path / "data"), "--download", "-q"]
    argv += ["--chars74k-url", archives["chars74k_url"], "--test6-url", archives["test6_url"]]
    assert cli.main(argv) == 0


@pytest.mark.usefixtures("restore_logging")
def test_cli_verify_only_on_empty_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--data-dir", str(tmp_path), "--verify-only", "-q"]) == 2
    err = capsys.readouterr().err
    assert f"prepare_data: error: {tmp_path / CHARS74K}" in err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir()), "--verify-only must not create anything"


@pytest.mark.usefixtures("restore_logging")
def test_cli_missing_mirror_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert cli.main(["--data-dir", str(tmp_path / "data"), "--mirror", str(missing), "-q"]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "not found" in err and "Traceback" not in err


@pytest.mark.usefixtures("restore_logging")
def test_cli_incomplete_mirror_exits_2(
    tmp_path: Path, mirror: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(mirror / CHARS74K / "English" / "Img" / "GoodImg" / "Bmp" / "Sample011")
    assert cli.main(["--data-dir", str(tmp_path / "data"), "--mirror", str(mirror), "-q"]) == 2
    assert "Sample011 ('A')" in capsys.readouterr().err


def test_cli_rejects_mirror_with_download(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.parse_args(["--mirror", str(tmp_path), "--download"])
    assert caught.value.code == 2


# --------------------------------------------------------------------------- the real data


@pytest.mark.slow
def test_real_mirror_counts(tmp_path: Path) -> None:
    if not DEFAULT_MIRROR.is_dir():
        pytest.skip(f"no mirror at {DEFAULT_MIRROR}")
    report = prepare_data(tmp_path / "data", mirror=DEFAULT_MIRROR)
    assert report.ok, report.problems
    assert (report.good.total, len(report.good.missing)) == (5795, 0)
    assert report.bad.total == 3358
    assert (report.test6.images, report.test6.labels, report.test6.spanish) == (117, 117, 21)
    assert report.summary_lines() == [
        "chars74k GoodImg: 5795 images in 36 classes",
        "chars74k BadImag: 3358 images in 36 classes",
        "test6Training: 117 images, 117 labels, 21 Spanish plates",
    ]
