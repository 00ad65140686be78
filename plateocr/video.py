"""Plates in a video file or a camera stream: every Nth frame read, each plate followed into one event.

Files (mp4, avi, ...) and streams (``rtsp://``, ``http://``) share one path: OpenCV's
``VideoCapture``. A plate seen in consecutive read frames, with readings that differ in at
most a few positions, is one passage: an **event**, closed when the plate has not been seen
for ``gap_seconds``. Its reading is voted over its frames (each frame's reading weighs its
confidence); its box and picture are those of its most confident frame with that reading.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np

from config import VideoConfig
from plateocr.errors import SetupError

if TYPE_CHECKING:
    from plateocr.record import ImageResult
    from plateocr.recognize import PlateReader

log = logging.getLogger(__name__)

# Used when a file or stream does not tell its frame rate.
DEFAULT_FPS = 25.0


class Capture(Protocol):
    """What is used of ``cv2.VideoCapture`` (tests give a fake)."""

    def isOpened(self) -> bool: ...  # noqa: N802 - OpenCV's names
    def grab(self) -> bool: ...
    def retrieve(self) -> tuple[bool, np.ndarray]: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


def is_stream(source: str) -> bool:
    """A URL (``rtsp://``, ``http://`` ...) rather than a file: it may drop, and is then reopened."""
    return "://" in source and not source.startswith("file://")


def differences(a: str, b: str) -> int:
    """Positions in which two readings differ (a different length differs everywhere)."""
    if len(a) != len(b):
        return max(len(a), len(b))
    return sum(x != y for x, y in zip(a, b, strict=True))


@dataclass
class Sighting:
    """One read frame of a plate: when, the reading, and (for the best frames) the picture."""

    seconds: float
    result: ImageResult
    frame: np.ndarray | None = None


@dataclass
class Track:
    """One plate followed across frames; becomes an event when it closes."""

    first_seen: float
    last_seen: float
    votes: dict[str, float] = field(default_factory=dict)  # reading -> summed confidence
    counts: Counter[str] = field(default_factory=Counter)  # reading -> frames
    best: dict[str, Sighting] = field(default_factory=dict)  # reading -> its most confident frame

    @property
    def frames(self) -> int:
        return sum(self.counts.values())

    @property
    def reading(self) -> str:
        """The reading whose frames' confidences add up to most (ties: the earliest seen)."""
        return max(self.votes, key=lambda text: self.votes[text])

    def add(self, sighting: Sighting) -> None:
        text, confidence = sighting.result.text, float(sighting.result.confidence)
        self.last_seen = sighting.seconds
        self.votes[text] = self.votes.get(text, 0.0) + confidence
        self.counts[text] += 1
        if text not in self.best or confidence > self.best[text].result.confidence:
            self.best[text] = sighting

    def event(self, index: int, source: str) -> dict[str, Any]:
        """The event's JSON object."""
        reading = self.reading
        best = self.best[reading].result
        box = best.box
        return {
            "event": index,
            "source": source,
            "reading": reading,
            "first_seen_s": round(self.first_seen, 3),
            "last_seen_s": round(self.last_seen, 3),
            "frames": self.frames,
            # The agreeing frames' summed confidence over all frames: disagreement lowers it.
            "confidence": round(self.votes[reading] / self.frames, 4),
            "box": None if box is None else {"x": box.x, "y": box.y, "w": box.w, "h": box.h},
            "readings": dict(self.counts.most_common()),
        }


class PlateTracker:
    """Groups the readings of successive frames into tracks, one per passage of a plate."""

    def __init__(self, cfg: VideoConfig) -> None:
        self.cfg = cfg
        self.open: list[Track] = []

    def see(self, sighting: Sighting) -> list[Track]:
        """Add one read frame; returns the tracks that closed before it (long enough to be events)."""
        closed = [t for t in self.open if sighting.seconds - t.last_seen > self.cfg.gap_seconds]
        self.open = [t for t in self.open if t not in closed]
        text = sighting.result.text
        if text:
            near = [(differences(text, t.reading), t) for t in self.open]
            near = [(d, t) for d, t in near if d <= self.cfg.max_differences]
            if near:
                min(near, key=lambda dt: dt[0])[1].add(sighting)
            else:
                track = Track(sighting.seconds, sighting.seconds)
                track.add(sighting)
                self.open.append(track)
        return self.kept(closed)

    def close_all(self) -> list[Track]:
        """End of the video (or Ctrl-C): every open track closes."""
        closed, self.open = self.open, []
        return self.kept(closed)

    def kept(self, tracks: list[Track]) -> list[Track]:
        return sorted((t for t in tracks if t.frames >= self.cfg.min_frames), key=lambda t: t.first_seen)


@dataclass
class VideoSummary:
    """What a run did: frames decoded and read, events, time, how it ended."""

    source: str
    fps: float = 0.0
    every: int = 1
    frames_decoded: int = 0
    frames_read: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    reconnects: int = 0
    lost: bool = False  # a stream dropped and could not be reopened
    interrupted: bool = False

    @property
    def read_fps(self) -> float:
        """Frames read (through the plate reader) per second of wall time."""
        return self.frames_read / self.seconds if self.seconds > 0 else 0.0


def open_video(source: str, opener: Callable[[str], Capture] = cv2.VideoCapture) -> Capture:
    """Open a file or stream.

    Raises:
        SetupError: it cannot be opened.
    """
    if not is_stream(source) and not Path(source).is_file():
        raise SetupError(f"{source}: " + ("a folder, not a video file" if Path(source).is_dir() else "video file not found"))
    capture = opener(source)
    if not capture.isOpened():
        capture.release()
        raise SetupError(f"{source}: cannot open the video (not a video, or a codec/stream OpenCV cannot read)")
    return capture


def reopen(
    source: str, cfg: VideoConfig, opener: Callable[[str], Capture], sleep: Callable[[float], None]
) -> Capture | None:
    """Reopen a dropped stream, waiting 1, 2, 4 ... seconds (at most ``max_backoff``); None after ``reconnects`` tries."""
    for attempt in range(cfg.reconnects):
        delay = min(cfg.max_backoff, 2.0**attempt)
        log.warning("%s: stream dropped; reconnecting in %g s (try %d of %d)", source, delay, attempt + 1, cfg.reconnects)
        sleep(delay)
        capture = opener(source)
        if capture.isOpened():
            return capture
        capture.release()
    return None


def read_video(
    reader: PlateReader,
    source: str,
    on_event: Callable[[dict[str, Any], Sighting], None],
    cfg: VideoConfig | None = None,
    every: int | None = None,
    opener: Callable[[str], Capture] = cv2.VideoCapture,
    sleep: Callable[[float], None] = time.sleep,
) -> VideoSummary:
    """Read every ``every``-th frame of ``source`` and report each plate's passage as it closes.

    Args:
        reader: the loaded plate reader.
        source: a video file, or a stream URL (reopened with back-off when it drops).
        on_event: called with each event's JSON object and its best frame, as the event closes.
        cfg: tracking and reconnection settings.
        every: read one frame in this many; None: about ``cfg.frames_per_second`` a second.
        opener, sleep: ``cv2.VideoCapture`` and ``time.sleep`` (tests give fakes).

    Returns:
        The summary; ``interrupted`` after Ctrl-C (the open events were closed and reported first).

    Raises:
        SetupError: the source cannot be opened.
    """
    cfg = cfg or VideoConfig()
    cfg.validate()
    capture = open_video(source, opener)
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if 0 < fps < 1000 else DEFAULT_FPS
    summary = VideoSummary(source, fps, every or max(1, round(fps / cfg.frames_per_second)))
    tracker = PlateTracker(cfg)
    stream = is_stream(source)
    started = time.monotonic()

    def report(tracks: list[Track]) -> None:
        for track in tracks:
            event = track.event(len(summary.events) + 1, source)
            summary.events.append(event)
            on_event(event, track.best[event["reading"]])

    try:
        while True:
            if not capture.grab():
                capture.release()
                if not stream:
                    break  # the end of the file
                reopened = reopen(source, cfg, opener, sleep)
                if reopened is None:
                    summary.lost = True
                    break
                capture = reopened
                summary.reconnects += 1
                continue
            index = summary.frames_decoded
            summary.frames_decoded += 1
            if index % summary.every:
                continue
            ok, frame = capture.retrieve()
            if not ok or frame is None:
                continue
            seconds = time.monotonic() - started if stream else index / fps
            result = reader.read_image(Path(f"frame{index:07d}"), None, image=frame)
            summary.frames_read += 1
            report(tracker.see(Sighting(seconds, result, frame if result.text else None)))
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        capture.release()
        report(tracker.close_all())
        summary.seconds = time.monotonic() - started
    return summary


class EventWriter:
    """Writes each event as it closes: one JSON line (flushed at once) and, optionally, its best frame annotated."""

    def __init__(self, jsonl: IO[str] | None, annotated_dir: Path | None) -> None:
        self.jsonl, self.annotated_dir = jsonl, annotated_dir

    def __call__(self, event: dict[str, Any], best: Sighting) -> None:
        log.info(
            "event %d: %s, %.1f-%.1f s, %d frames, confidence %.2f",
            event["event"], event["reading"], event["first_seen_s"], event["last_seen_s"], event["frames"],
            event["confidence"],
        )  # fmt: skip
        if self.annotated_dir is not None and best.frame is not None:
            from plateocr.annotate import save_annotated

            path = save_annotated(self.annotated_dir, best.frame, best.result, f"event{event['event']:04d}_{event['reading']}")
            event["annotated"] = str(path)
        if self.jsonl is not None:
            self.jsonl.write(json.dumps(event, ensure_ascii=False) + "\n")
            self.jsonl.flush()


@contextmanager
def event_writer(jsonl: Path | None, annotated_dir: Path | None) -> Iterator[EventWriter]:
    """An EventWriter on ``jsonl`` (created anew; every line is complete once written) and ``annotated_dir``."""
    if jsonl is None:
        yield EventWriter(None, annotated_dir)
        return
    jsonl.parent.mkdir(parents=True, exist_ok=True)
    with open(jsonl, "w", encoding="utf-8") as fh:
        yield EventWriter(fh, annotated_dir)


def write_video(path: Path, frames: list[np.ndarray], fps: float, fourcc: str = "FFV1") -> None:
    """Write ``frames`` (same size, BGR) as a video; FFV1 in .avi/.mkv is lossless.

    Raises:
        OSError: OpenCV cannot write this container/codec.
    """
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write {fourcc} video")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


def slideshow(photos: list[np.ndarray], size: tuple[int, int], fps: float, hold_seconds: float = 1.0) -> list[np.ndarray]:
    """Each photo centred on a grey ``(width, height)`` canvas (scaled down to fit), held ``hold_seconds``."""
    width, height = size
    frames = []
    for photo in photos:
        scale = min(1.0, width / photo.shape[1], height / photo.shape[0])
        if scale < 1.0:
            photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = np.full((height, width, 3), 90, np.uint8)
        y, x = (height - photo.shape[0]) // 2, (width - photo.shape[1]) // 2
        canvas[y : y + photo.shape[0], x : x + photo.shape[1]] = photo
        frames += [canvas] * max(1, round(hold_seconds * fps))
    return frames
