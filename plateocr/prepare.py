"""Fill ``data/`` with Chars74K and test6Training (from a local mirror or by download) and verify it.

Mirror mode links ``data/chars74k`` and ``data/test6Training`` to the mirror's folders (copying when symlinks
are not possible); download mode fetches the public archives with the standard library and extracts only
what the project uses. Either way the mirror and any folder the user already filled are never written to.
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

import cv2
import numpy as np
from tqdm import tqdm

from config import CLASSES, DATA_DIR, DEFAULT_MIRROR, SPANISH_PLATE
from plateocr import __version__
from plateocr.dataset import CHARS74K_SUBSETS, chars74k_root, sample_folder
from plateocr.errors import DataError, SetupError
from plateocr.imageio import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

CHARS74K_URL = "https://info-ee.surrey.ac.uk/CVSSP/demos/chars74k/EnglishImg.tgz"
TEST6_URL = "https://github.com/ablanco1950/LicensePlate_CNN_MaxFilters/raw/main/test6Training.zip"

CHARS74K = "chars74k"
TEST6 = "test6Training"
DATASETS = (CHARS74K, TEST6)
# BadImag is extra training data: reported when present, not required.
REQUIRED_SUBSETS = ("good",)
CLASS_FOLDERS = frozenset(sample_folder(index) for index in range(len(CLASSES)))

DEFAULT_DECODE_SAMPLE = 3
DEFAULT_TIMEOUT = 60.0
_CHUNK_BYTES = 1 << 20
_LISTED_NAMES = 10

MemberSelector = Callable[[PurePosixPath], PurePosixPath | None]


# --------------------------------------------------------------------------- reports


def _listing(names: Sequence[str]) -> str:
    """``a, b, c`` cut after a few names so one message stays one readable line."""
    shown = ", ".join(names[:_LISTED_NAMES])
    return shown + (f", ... ({len(names) - _LISTED_NAMES} more)" if len(names) > _LISTED_NAMES else "")


@dataclass(frozen=True)
class ClassFolderReport:
    """Image counts of one Chars74K subset (``GoodImg`` or ``BadImag``), class folder by class folder.

    Attributes:
        name: Label used in messages, e.g. ``chars74k GoodImg``.
        path: The subset's ``Bmp`` folder.
        required: Whether a missing subset is a problem.
        found: Whether ``path`` exists.
        counts: PNG files in each of the 36 class folders ``Sample001..Sample036``.
        undecodable: Sampled files OpenCV cannot decode, relative to ``path``.
    """

    name: str
    path: Path
    required: bool
    found: bool
    counts: Mapping[str, int] = field(default_factory=dict)
    undecodable: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Images in all class folders."""
        return sum(self.counts.values())

    @property
    def missing(self) -> tuple[str, ...]:
        """Class folders that are absent or empty, with their character, e.g. ``Sample007 ('6')``."""
        return tuple(
            f"{sample_folder(index)} ({char!r})"
            for index, char in enumerate(CLASSES)
            if self.counts.get(sample_folder(index), 0) == 0
        )

    def problems(self) -> list[str]:
        """What is wrong, one ``path: problem`` message each; empty when the subset is usable."""
        if not self.found:
            return [f"{self.path}: {self.name} folder not found"] if self.required else []
        problems = []
        if self.missing:
            problems.append(
                f"{self.path}: {len(self.missing)} of {len(CLASSES)} class folders missing or empty: "
                + _listing(self.missing)
            )
        if self.undecodable:
            problems.append(f"{self.path}: images OpenCV cannot decode: {_listing(self.undecodable)}")
        return problems

    def summary(self) -> str:
        """One line such as ``chars74k GoodImg: 5795 images in 36 classes``."""
        if not self.found:
            return f"{self.name}: not found" + ("" if self.required else " (optional)")
        present = len(CLASSES) - len(self.missing)
        return f"{self.name}: {self.total} images in {present} classes"


@dataclass(frozen=True)
class PlateSetReport:
    """What the test6Training folder holds.

    Attributes:
        path: The ``test6Training`` folder.
        images: Image files in ``images/``.
        labels: ``.txt`` files in ``labels/``.
        spanish: Images whose name (without extension) matches ``config.SPANISH_PLATE``.
        unlabelled: Image names without a label file of the same stem.
        undecodable: Sampled images OpenCV cannot decode.
        missing_dirs: Which of ``images/`` and ``labels/`` do not exist.
    """

    path: Path
    images: int = 0
    labels: int = 0
    spanish: int = 0
    unlabelled: tuple[str, ...] = ()
    undecodable: tuple[str, ...] = ()
    missing_dirs: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        """What is wrong, one ``path: problem`` message each; empty when the folder is usable."""
        problems = [f"{self.path / folder}: folder not found" for folder in self.missing_dirs]
        if "images" not in self.missing_dirs and self.images == 0:
            problems.append(f"{self.path / 'images'}: no images")
        if self.undecodable:
            images = self.path / "images"
            problems.append(f"{images}: images OpenCV cannot decode: {_listing(self.undecodable)}")
        return problems

    def summary(self) -> str:
        """One line such as ``test6Training: 117 images, 117 labels, 21 Spanish plates``."""
        line = f"{TEST6}: {self.images} images, {self.labels} labels, {self.spanish} Spanish plates"
        return line + (f" ({len(self.unlabelled)} images without a label)" if self.unlabelled else "")


@dataclass(frozen=True)
class DataReport:
    """Verification of a prepared data folder: both Chars74K subsets and test6Training."""

    data_dir: Path
    good: ClassFolderReport
    bad: ClassFolderReport
    test6: PlateSetReport

    @property
    def problems(self) -> list[str]:
        """Every problem found, each naming the path concerned."""
        return self.good.problems() + self.bad.problems() + self.test6.problems()

    @property
    def ok(self) -> bool:
        """True when the folder can be used for training and recognition."""
        return not self.problems

    def summary_lines(self) -> list[str]:
        """Per-dataset totals, one line each."""
        return [self.good.summary(), self.bad.summary(), self.test6.summary()]

    def require_ok(self) -> None:
        """Raise if anything is missing.

        Raises:
            DataError: listing every problem.
        """
        if not self.ok:
            raise DataError("; ".join(self.problems))


# --------------------------------------------------------------------------- verification


def _sample(files: list[Path], count: int) -> list[Path]:
    """``count`` files spread evenly over ``files`` (first one included); all of them when ``count <= 0``."""
    if count <= 0 or count >= len(files):
        return files
    step = (len(files) - 1) / max(count - 1, 1)
    return [files[round(i * step)] for i in range(count)]


def _decodes(path: Path) -> bool:
    """Whether OpenCV can decode the image file at ``path``."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
        return data.size > 0 and cv2.imdecode(data, cv2.IMREAD_UNCHANGED) is not None
    except (OSError, cv2.error):
        return False


def _undecodable(files: list[Path], count: int, base: Path) -> list[str]:
    """Names (relative to ``base``) of the sampled files that do not decode."""
    return [file.relative_to(base).as_posix() for file in _sample(files, count) if not _decodes(file)]


def verify_chars74k_subset(
    data_dir: Path, subset: str = "good", decode_sample: int = DEFAULT_DECODE_SAMPLE
) -> ClassFolderReport:
    """Count the PNGs of each class folder of one Chars74K subset and test-decode a few of each.

    Args:
        data_dir: The prepared data folder (holding ``chars74k/``).
        subset: ``good`` (GoodImg) or ``bad`` (BadImag).
        decode_sample: Images a class folder to decode; 0 decodes all.
    """
    root = chars74k_root(Path(data_dir), subset)
    name = f"{CHARS74K} {CHARS74K_SUBSETS[subset]}"
    required = subset in REQUIRED_SUBSETS
    if not root.is_dir():
        return ClassFolderReport(name, root, required, found=False)
    counts: dict[str, int] = {}
    undecodable: list[str] = []
    for index in range(len(CLASSES)):
        folder = root / sample_folder(index)
        files = sorted(folder.glob("*.png"))
        counts[folder.name] = len(files)
        undecodable += _undecodable(files, decode_sample, root)
    return ClassFolderReport(name, root, required, True, counts, tuple(undecodable))


def verify_test6(data_dir: Path, decode_sample: int = DEFAULT_DECODE_SAMPLE) -> PlateSetReport:
    """Count test6Training images, labels and Spanish plate names and test-decode a few images.

    Args:
        data_dir: The prepared data folder (holding ``test6Training/``).
        decode_sample: Images to decode; 0 decodes all.
    """
    root = Path(data_dir) / TEST6
    images_dir, labels_dir = root / "images", root / "labels"
    missing_dirs = tuple(folder.name for folder in (images_dir, labels_dir) if not folder.is_dir())
    # The same files the recogniser will read.
    images = sorted(p for p in images_dir.glob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    label_stems = {p.stem for p in labels_dir.glob("*.txt")}
    return PlateSetReport(
        path=root,
        images=len(images),
        labels=len(label_stems),
        spanish=sum(1 for p in images if SPANISH_PLATE.match(p.stem)),
        unlabelled=tuple(p.name for p in images if p.stem not in label_stems),
        undecodable=tuple(_undecodable(images, decode_sample, images_dir)),
        missing_dirs=missing_dirs,
    )


def verify_data(data_dir: Path = DATA_DIR, decode_sample: int = DEFAULT_DECODE_SAMPLE) -> DataReport:
    """Check a prepared data folder without changing it.

    Args:
        data_dir: Folder holding ``chars74k/`` and ``test6Training/`` (the mirror itself also qualifies).
        decode_sample: Images per class folder (and of test6Training) to decode; 0 decodes all.

    Returns:
        The report; ``report.ok`` is False and ``report.problems`` says why when something is missing.
    """
    data_dir = Path(data_dir)
    return DataReport(
        data_dir=data_dir,
        good=verify_chars74k_subset(data_dir, "good", decode_sample),
        bad=verify_chars74k_subset(data_dir, "bad", decode_sample),
        test6=verify_test6(data_dir, decode_sample),
    )


def _chars74k_problems(data_dir: Path, decode_sample: int) -> list[str]:
    """Problems of ``data_dir/chars74k`` (both subsets)."""
    reports = (verify_chars74k_subset(data_dir, subset, decode_sample) for subset in CHARS74K_SUBSETS)
    return [problem for report in reports for problem in report.problems()]


def _test6_problems(data_dir: Path, decode_sample: int) -> list[str]:
    """Problems of ``data_dir/test6Training``."""
    return verify_test6(data_dir, decode_sample).problems()


_DATASET_PROBLEMS: dict[str, Callable[[Path, int], list[str]]] = {
    CHARS74K: _chars74k_problems,
    TEST6: _test6_problems,
}


# --------------------------------------------------------------------------- download and extraction


def download_file(url: str, dest: Path, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Stream ``url`` to ``dest`` through a ``.part`` file renamed at the end, so ``dest`` is never partial.

    Raises:
        DataError: naming the URL, when the server or the network fails or the body is cut short.
    """
    part = dest.with_name(dest.name + ".part")
    request = urllib.request.Request(url, headers={"User-Agent": f"plateocr/{__version__}"})
    log.info("downloading %s", url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, part.open("wb") as out:
            expected = int(response.headers.get("Content-Length") or 0)
            with tqdm(total=expected or None, unit="B", unit_scale=True, desc=dest.name, disable=None) as bar:
                while chunk := response.read(_CHUNK_BYTES):
                    out.write(chunk)
                    bar.update(len(chunk))
        received = part.stat().st_size
        if expected and received != expected:
            raise DataError(f"download of {url} cut short: {received} of {expected} bytes")
        os.replace(part, dest)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # HTTPError and URLError are OSErrors; ValueError is a malformed URL.
        raise DataError(f"download of {url} failed: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    return dest


def _safe_member_path(source: str, name: str) -> PurePosixPath:
    """The member's path, refusing absolute paths and ``..`` parts that could write outside the target."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and path.parts[0].endswith(":")):
        raise DataError(f"{source}: unsafe archive member {name!r} (absolute or '..'); nothing installed")
    return path


def _archive_files(
    archive: Path, source: str
) -> Iterator[tuple[PurePosixPath, Callable[[], IO[bytes] | None]]]:
    """Yield ``(path, opener)`` for each regular file of a zip or tar archive, checking every member's name.

    Raises:
        DataError: the archive is neither zip nor tar, or has an unsafe member.
    """
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                path = _safe_member_path(source, info.filename)
                if not info.is_dir():
                    yield path, partial(zipped.open, info)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tarred:
            for member in tarred:
                path = _safe_member_path(source, member.name)
                # Links and devices are skipped: the datasets are plain files.
                if member.isfile():
                    yield path, partial(tarred.extractfile, member)
    else:
        raise DataError(f"{source}: neither a zip nor a tar archive")


def _is_junk(path: PurePosixPath) -> bool:
    """macOS resource forks (``__MACOSX/``, ``._name``) that zip tools add beside the real files."""
    return path.name.startswith("._") or any(part == "__MACOSX" for part in path.parts)


def extract_archive(archive: Path, dest: Path, select: MemberSelector, source: str | None = None) -> int:
    """Extract the files ``select`` keeps, at the relative path it returns, below ``dest``.

    Args:
        archive: A zip or tar (optionally compressed) file.
        dest: Output folder, created as needed.
        select: Maps a member path to its path below ``dest``, or to None to skip it.
        source: How error messages name the archive (e.g. its URL); default its path.

    Returns:
        How many files were written.

    Raises:
        DataError: the archive is unreadable or holds an unsafe member (absolute or with ``..``).
    """
    source = source or str(archive)
    written = 0
    try:
        for member, opener in _archive_files(archive, source):
            relative = None if _is_junk(member) else select(member)
            if relative is None:
                continue
            source = opener()
            if source is None:
                continue
            out = dest.joinpath(*relative.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            with source, out.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            written += 1
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise DataError(f"{source}: cannot extract: {exc}") from exc
    log.info("extracted %d files from %s", written, source)
    return written


def select_chars74k(member: PurePosixPath) -> PurePosixPath | None:
    """Keep ``.../{GoodImg,BadImag}/Bmp/Sample001..036/*.png`` as ``English/Img/...``.

    The lowercase classes (Sample037..062) and the ``Msk`` masks are skipped: the project never uses them.
    """
    parts = member.parts
    if (
        len(parts) >= 4
        and parts[-4] in CHARS74K_SUBSETS.values()
        and parts[-3] == "Bmp"
        and parts[-2] in CLASS_FOLDERS
        and member.suffix.lower() == ".png"
    ):
        return PurePosixPath("English", "Img", *parts[-4:])
    return None


def select_test6(member: PurePosixPath) -> PurePosixPath | None:
    """Keep files directly inside any ``images/`` or ``labels/`` folder, whatever folder holds those."""
    if len(member.parts) >= 2 and member.parent.name in ("images", "labels"):
        return PurePosixPath(member.parent.name, member.name)
    return None


# --------------------------------------------------------------------------- installing a dataset folder


@contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A scratch folder beside ``target``; its ``target.name`` subfolder becomes ``target`` on success.

    Building beside the target and renaming at the end means an interrupted run leaves no half dataset
    where the next run would take it for a finished one.
    """
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield work
        os.replace(work / target.name, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _copy_tree(source: Path, dest: Path) -> None:
    """Copy file contents only: the mirror's read-only modes must not make the copy undeletable."""
    for folder, _subfolders, files in os.walk(source, followlinks=True):
        out = dest / Path(folder).relative_to(source)
        out.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copyfile(Path(folder) / name, out / name)


def _link_or_copy(source: Path, target: Path) -> None:
    """Symlink ``target`` to ``source``; copy when the filesystem refuses symlinks."""
    try:
        target.symlink_to(source, target_is_directory=True)
        log.info("linked %s -> %s", target, source)
        return
    except OSError as exc:
        log.warning("cannot symlink %s (%s); copying %s instead", target, exc, source)
    with _staging(target) as work:
        _copy_tree(source, work / target.name)
    log.info("copied %s to %s", source, target)


def _download_and_extract(url: str, select: MemberSelector, timeout: float, target: Path) -> None:
    """Download the archive at ``url`` and extract the files ``select`` keeps into ``target``."""
    with _staging(target) as work:
        archive = download_file(url, work / "archive", timeout=timeout)
        if extract_archive(archive, work / target.name, select, source=url) == 0:
            raise DataError(f"{url}: the archive holds no {target.name} files in the expected layout")


def _ensure_dataset(
    data_dir: Path, name: str, install: Callable[[Path], None], link_to: Path | None, decode_sample: int
) -> None:
    """Make ``data_dir/name`` hold the dataset, leaving alone what is already right.

    A symlink is ours to replace; a real folder is the user's: kept when it verifies, never deleted.
    """
    target = data_dir / name
    if target.is_symlink():
        if link_to is not None and target.resolve() == link_to.resolve():
            log.info("%s: already linked to %s", target, link_to)
            return
        if link_to is None and target.exists() and not _DATASET_PROBLEMS[name](data_dir, decode_sample):
            log.info("%s: already present and complete", target)
            return
        log.info("%s: replacing the link to %s", target, os.readlink(target))
        target.unlink()
    elif target.exists():
        if not target.is_dir():
            raise DataError(f"{target}: exists but is not a folder; move it away and rerun")
        problems = _DATASET_PROBLEMS[name](data_dir, decode_sample)
        if problems:
            raise DataError(f"{target}: exists but is incomplete ({problems[0]}); move it away and rerun")
        log.info("%s: already present and complete", target)
        return
    try:
        install(target)
    except OSError as exc:
        raise DataError(f"{target}: cannot install {name}: {exc}") from exc


def _mirror_sources(mirror: Path, data_dir: Path) -> dict[str, Path]:
    """The mirror's dataset folders, checked to exist and not to contain ``data_dir``."""
    root = Path(mirror).resolve()
    if not root.is_dir():
        raise SetupError(f"{mirror}: mirror folder not found")
    resolved_data = data_dir.resolve()
    if resolved_data == root or root in resolved_data.parents:
        raise SetupError(f"{data_dir}: data folder lies inside the read-only mirror {mirror}")
    missing = [name for name in DATASETS if not (root / name).is_dir()]
    if missing:
        raise DataError(f"{mirror}: mirror has no {' or '.join(name + '/' for name in missing)} folder")
    return {name: root / name for name in DATASETS}


def prepare_data(
    data_dir: Path = DATA_DIR,
    mirror: Path | None = None,
    download: bool = False,
    *,
    chars74k_url: str = CHARS74K_URL,
    test6_url: str = TEST6_URL,
    default_mirror: Path = DEFAULT_MIRROR,
    decode_sample: int = DEFAULT_DECODE_SAMPLE,
    timeout: float = DEFAULT_TIMEOUT,
) -> DataReport:
    """Fill ``data_dir`` with ``chars74k/`` and ``test6Training/``, then verify it.

    Idempotent: what is already in place (a link to the mirror, a complete folder) is left alone.

    Args:
        data_dir: Folder to fill; created if needed.
        mirror: Read-only folder with the same layout to link from. None: ``default_mirror`` when it exists,
            otherwise download.
        download: Download the public archives even if ``default_mirror`` exists.
        chars74k_url: Where to get Chars74K ``EnglishImg.tgz``.
        test6_url: Where to get ``test6Training.zip``.
        default_mirror: Mirror used when neither ``mirror`` nor ``download`` is given.
        decode_sample: Images per class folder to test-decode; 0 decodes all.
        timeout: Seconds a download may stall before it fails.

    Returns:
        The verification report of ``data_dir``; check ``report.ok``.

    Raises:
        SetupError: ``mirror`` and ``download`` both given, the mirror is missing, or ``data_dir`` is in it.
        DataError: the mirror lacks a dataset, a download or archive fails, or a folder already in
            ``data_dir`` is incomplete (it is never deleted).
    """
    if mirror is not None and download:
        raise SetupError("choose either a mirror or download, not both")
    if mirror is None and not download and default_mirror.is_dir():
        mirror = default_mirror
    data_dir = Path(data_dir)
    installers: dict[str, Callable[[Path], None]]
    links: dict[str, Path] = {}
    if mirror is not None:
        links = _mirror_sources(mirror, data_dir)
        installers = {name: partial(_link_or_copy, source) for name, source in links.items()}
        log.info("filling %s from the mirror %s", data_dir, mirror)
    else:
        installers = {
            CHARS74K: partial(_download_and_extract, chars74k_url, select_chars74k, timeout),
            TEST6: partial(_download_and_extract, test6_url, select_test6, timeout),
        }
        log.info("filling %s by download", data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SetupError(f"{data_dir}: cannot create the data folder: {exc}") from exc
    for name, install in installers.items():
        _ensure_dataset(data_dir, name, install, links.get(name), decode_sample)
    return verify_data(data_dir, decode_sample)
