"""``recognize_plates.py --video``: following plates across frames, reconnecting, Ctrl-C, and a real video file.

The tracking and the reconnection run on fakes (a scripted reader and capture); the
end-to-end test writes a small lossless video from generated photos and reads it with the
tiny model. The real-model check (events equal the photos' plates) is in test_real_data.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import recognize_plates
from config import VideoConfig
from plateocr.errors import SetupError
from plateocr.plates import Box
from plateocr.recognize import ImageResult
from plateocr.video import PlateTracker, Sighting, differences, read_video, slideshow, write_video

CFG = VideoConfig(gap_seconds=1.0, max_differences=2, min_frames=2, reconnects=2, max_backoff=30)


def sighting(seconds: float, text: str, confidence: float = 0.9, x: int = 10) -> Sighting:
    result = ImageResult(name="f", path=Path("f"), text=text, confidence=confidence, box=Box(x, 20, 100, 30))
    return Sighting(seconds, result)


def events_of(readings: list[tuple[float, str, float]]) -> list[dict[str, Any]]:
    tracker = PlateTracker(CFG)
    tracks = [t for s, text, conf in readings for t in tracker.see(sighting(s, text, conf))] + tracker.close_all()
    return [t.event(i + 1, "test") for i, t in enumerate(tracks)]


def test_differences_counts_positions():
    assert differences("1234BCD", "1234BCD") == 0
    assert differences("1234BCD", "1284BCF") == 2
    assert differences("1234BCD", "123BCD") == 7


def test_one_plate_misread_in_a_frame_is_one_event_with_the_voted_reading():
    readings = [(0.0, "1234BCD", 0.9), (0.2, "1234BCO", 0.5), (0.4, "1234BCD", 0.8), (0.6, "", 0.0), (0.8, "1234BCD", 0.9)]
    (event,) = events_of(readings)
    assert event["reading"] == "1234BCD"
    assert (event["first_seen_s"], event["last_seen_s"], event["frames"]) == (0.0, 0.8, 4)
    assert event["readings"] == {"1234BCD": 3, "1234BCO": 1}
    assert event["confidence"] == pytest.approx((0.9 + 0.8 + 0.9) / 4)
    assert event["box"] == {"x": 10, "y": 20, "w": 100, "h": 30}


def test_two_plates_one_after_the_other_are_two_events_and_a_lone_frame_is_noise():
    readings = [(t / 5, "1234BCD", 0.9) for t in range(5)] + [(1.0 + t / 5, "9876XYZ", 0.8) for t in range(5)]
    readings.append((3.5, "5555KKK", 0.9))  # one frame only: below min_frames
    events = events_of(readings)
    assert [e["reading"] for e in events] == ["1234BCD", "9876XYZ"]
    assert [(e["first_seen_s"], e["last_seen_s"]) for e in events] == [(0.0, 0.8), (1.0, 1.8)]


def test_the_same_plate_after_a_gap_is_a_new_passage():
    readings = [(0.0, "1234BCD", 0.9), (0.2, "1234BCD", 0.9), (2.0, "1234BCD", 0.9), (2.2, "1234BCD", 0.9)]
    assert [e["first_seen_s"] for e in events_of(readings)] == [0.0, 2.0]


class ScriptedReader:
    """Reads the plate text written in each fake frame's first pixel row (see ``frame_of``)."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.calls, self.interrupt_at = 0, interrupt_at

    def read_image(self, path: Path, labels: Path | None, image: np.ndarray | None = None, box: Any = None) -> ImageResult:
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        assert image is not None
        text = bytes(image[0, :7, 0]).decode().strip("\0")
        return ImageResult(name=path.stem, path=path, text=text, confidence=0.9, box=Box(1, 1, 10, 5) if text else None)


def frame_of(text: str) -> np.ndarray:
    frame = np.zeros((16, 16, 3), np.uint8)
    frame[0, : len(text), 0] = list(text.encode())
    return frame


class FakeCapture:
    """A capture that plays ``frames`` at 5 fps then ends (or drops); ``opened=False`` fails to open."""

    def __init__(self, frames: list[np.ndarray], opened: bool = True) -> None:
        self.frames, self.opened, self.position = frames, opened, -1

    def isOpened(self) -> bool:  # noqa: N802
        return self.opened

    def grab(self) -> bool:
        self.position += 1
        return self.position < len(self.frames)

    def retrieve(self) -> tuple[bool, np.ndarray]:
        return True, self.frames[self.position]

    def get(self, prop: int) -> float:
        return 5.0

    def release(self) -> None:
        pass


def opener_of(captures: list[FakeCapture]):
    opened: list[str] = []

    def opener(source: str) -> FakeCapture:
        opened.append(source)
        return captures[len(opened) - 1]

    return opener, opened


def plate_frames(*plates: str, each: int = 5) -> list[np.ndarray]:
    return [frame_of(p) for p in plates for _ in range(each)]


def test_a_dropped_stream_is_reopened_with_back_off_and_its_events_go_on():
    first, second = FakeCapture(plate_frames("1234BCD")), FakeCapture(plate_frames("9876XYZ"))
    failing = [FakeCapture([], opened=False) for _ in range(3)]
    opener, opened = opener_of([first, failing[0], second, failing[1], failing[2]])
    slept: list[float] = []
    events: list[dict[str, Any]] = []
    summary = read_video(
        ScriptedReader(), "rtsp://camera/1", lambda e, s: events.append(e), CFG, every=1, opener=opener, sleep=slept.append
    )
    # Dropped after the first plate: the first reopen fails, the second works; at the end it drops
    # again and both tries fail: the stream is lost.
    assert slept == [1.0, 2.0, 1.0, 2.0]
    assert summary.reconnects == 1 and summary.lost
    assert [e["reading"] for e in events] == ["1234BCD", "9876XYZ"]
    assert summary.frames_read == 10 and opened == ["rtsp://camera/1"] * 5


def test_a_file_is_read_every_nth_frame_and_not_reopened():
    opener, opened = opener_of([FakeCapture(plate_frames("1234BCD", "9876XYZ", each=10))])
    events: list[dict[str, Any]] = []
    summary = read_video(ScriptedReader(), __file__, lambda e, s: events.append(e), CFG, every=3, opener=opener)
    assert (summary.frames_decoded, summary.frames_read, summary.lost) == (20, 7, False)
    assert [(e["reading"], e["first_seen_s"], e["frames"]) for e in events] == [("1234BCD", 0.0, 4), ("9876XYZ", 2.4, 3)]
    assert opened == [__file__]


def test_ctrl_c_closes_the_open_events_and_reports_them():
    opener, _ = opener_of([FakeCapture(plate_frames("1234BCD", "9876XYZ"))])
    events: list[dict[str, Any]] = []
    summary = read_video(ScriptedReader(interrupt_at=8), __file__, lambda e, s: events.append(e), CFG, every=1, opener=opener)
    assert summary.interrupted
    assert [(e["reading"], e["frames"]) for e in events] == [("1234BCD", 5), ("9876XYZ", 2)]


def test_a_missing_or_unreadable_video_is_a_setup_error(tmp_path):
    with pytest.raises(SetupError, match="not found"):
        read_video(ScriptedReader(), str(tmp_path / "none.mp4"), lambda e, s: None)
    with pytest.raises(SetupError, match="a folder, not a video file"):
        read_video(ScriptedReader(), str(tmp_path), lambda e, s: None)
    text = tmp_path / "text.mp4"
    text.write_text("not a video")
    with pytest.raises(SetupError, match="cannot open"):
        read_video(ScriptedReader(), str(text), lambda e, s: None)


@pytest.mark.parametrize(
    "argv",
    [["--video", "v.avi", "photo.jpg"], ["--every", "3"], ["--video", "v.avi", "--resume", "--jsonl", "e.jsonl"],
     ["--video", "v.avi", "--every", "0"]],
)
def test_video_flags_are_checked(argv, capsys):
    assert recognize_plates.main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_video_cli_writes_jsonl_annotated_frames_and_a_summary(tiny_model, scene_photos, tmp_path, capsys):
    """A lossless video of the generated photos, each held one second, read with the tiny model."""
    photos = [cv2.imread(str(p)) for p in scene_photos]
    video = tmp_path / "cars.avi"
    write_video(video, slideshow(photos, (416, 416), fps=5.0), fps=5.0)
    jsonl, annotated = tmp_path / "events.jsonl", tmp_path / "seen"
    argv = ["--video", str(video), "--model", str(tiny_model), "--jsonl", str(jsonl), "--save-annotated", str(annotated)]
    assert recognize_plates.main([*argv, "-q"]) == 0
    printed = capsys.readouterr().out
    events = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert f"Events = {len(events)} from 15 frames read (one in 1 of 15, video at 5 fps)" in printed
    for i, event in enumerate(events, 1):
        assert event["event"] == i and event["source"] == str(video)
        assert 0 <= event["first_seen_s"] <= event["last_seen_s"] <= 2.8
        assert event["frames"] >= 2 and sum(event["readings"].values()) == event["frames"]
        assert Path(event["annotated"]).is_file() and event["reading"] in event["annotated"]
        assert f"  {event['reading']}  " in printed
