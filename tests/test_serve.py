"""``serve_plates.py`` for real: a child process on a free loopback port, real HTTP requests, Ctrl-C to stop.

The reading's value does not matter here (the tiny model reads badly); what is checked is
that the service answers as the CLI does, refuses what it must with the right status and a
one-line JSON error, keeps serving, and logs one line per request.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import API_KEY, PORT_FLAGS

import recognize_plates
from plateocr.devtools import Answer, multipart, request

pytest.importorskip("fastapi", reason="pip install -r requirements-serve.txt")

IGNORED = ("name", "file", "seconds")  # what differs between a file on disk and an upload


def read_photo(url: str, data: bytes, query: str = "", key: str | None = API_KEY, name: str | None = None) -> Answer:
    """POST an image as the raw body, or as multipart field ``image`` when ``name`` is given."""
    headers = {} if key is None else {"X-API-Key": key}
    if name is not None:
        data, headers["Content-Type"] = multipart({}, name, data)
    return request(url, path="/v1/read" + query, body=data, headers=headers)


def cli_records(model: Path, photos: list[Path], tmp_path: Path, *flags: str) -> dict[str, dict[str, Any]]:
    """The CLI's ``--json`` records of ``photos`` (no labels, ``flags`` added), by name."""
    out = tmp_path / "cli.json"
    argv = [*map(str, photos), "--no-labels", "--model", str(model), "--output", str(tmp_path / "r.txt"), "--json", str(out), "-q", *flags]
    assert recognize_plates.main(argv) == 0
    return {r["name"]: r for r in json.loads(out.read_text(encoding="utf-8"))["results"]}


def without(record: dict[str, Any], keys: tuple[str, ...] = IGNORED) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in keys}


def test_every_good_photo_reads_as_with_the_cli(plate_service, scene_photos, tiny_model, tmp_path):
    expected = cli_records(tiny_model, scene_photos, tmp_path)
    for photo in scene_photos:
        for name in (photo.name, None):  # multipart, then raw body
            answer = read_photo(plate_service.url, photo.read_bytes(), name=name)
            assert answer.status == 200, answer.body
            assert answer.headers["content-type"] == "application/json"
            (record,) = answer.json()["results"]
            assert set(record) == set(expected[photo.stem]), "one schema for the CLI and the service"
            assert without(record) == without(expected[photo.stem])
            assert record["name"] == (photo.stem if name else "upload")


def heic_copy(photo: Path, folder: Path) -> Path:
    """``photo`` saved as HEIC (what phones save) in ``folder``, under the same stem."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    out = folder / f"{photo.stem}.heic"
    Image.open(photo).convert("RGB").save(out, format="HEIF", quality=95)
    return out


def test_a_heic_upload_reads_as_the_cli_reads_the_file(plate_service, scene_photos, tiny_model, tmp_path):
    """Phones upload HEIC: the service decodes it as the CLI does (the same record, bar names and timings)."""
    photo = heic_copy(scene_photos[0], tmp_path)
    expected = cli_records(tiny_model, [photo], tmp_path)[photo.stem]
    answer = read_photo(plate_service.url, photo.read_bytes(), name=photo.name)
    assert answer.status == 200, answer.body
    (record,) = answer.json()["results"]
    assert record["error"] is None and without(record) == without(expected)


def test_a_given_box_skips_the_localiser(plate_service, scene_photos):
    image = cv2.imread(str(scene_photos[0]))
    h, w = image.shape[:2]
    answer = read_photo(plate_service.url, scene_photos[0].read_bytes(), f"?box=40,60,{w // 2},{h // 4}")
    (record,) = answer.json()["results"]
    assert answer.status == 200
    assert record["box_source"] == "given"
    # The box read is the given one grown by the labels' margin (6 % a side).
    assert abs(record["box"]["x"] - (40 - 0.06 * (w // 2))) <= 1 and abs(record["box"]["w"] - 1.12 * (w // 2)) <= 2


def test_min_confidence_moves_the_reading_to_uncertain(plate_service, scene_photos):
    data = scene_photos[1].read_bytes()
    plain = read_photo(plate_service.url, data).json()["results"][0]
    strict = read_photo(plate_service.url, data, "?min_confidence=1").json()["results"][0]
    if plain["reading"] and plain["confidence"] < 1:
        assert strict["reading"] == "" and strict["uncertain_reading"] == plain["reading"]
    body, ctype = multipart({"min_confidence": "0"}, "a.jpg", data)
    as_form = request(plate_service.url, body=body, headers={"Content-Type": ctype, "X-API-Key": API_KEY})
    assert as_form.json()["results"][0]["reading"] == plain["reading"]


def test_the_services_min_confidence_lowers_its_threshold_as_the_clis_does(
    plate_service, tiny_model, tiny_plate_model, scene_photos, tmp_path
):
    """``serve_plates.py --min-confidence 0`` answers what ``recognize_plates.py --min-confidence 0`` answers
    (it once applied the CLI's default 0.7 whatever it was given), the web page starts at it, and a request
    may still raise it."""
    from plateocr.devtools import start_service

    assert 'value="0.7"' in request(plate_service.url, "GET", "/").body.decode()
    strict = cli_records(tiny_model, scene_photos, tmp_path, "--reader", "chars")
    expected = cli_records(tiny_model, scene_photos, tmp_path, *PORT_FLAGS)
    # The tiny model reads below 0.7: some reading the default leaves uncertain is answered at 0.
    assert any(expected[k]["reading"] and not strict[k]["reading"] for k in expected)
    flags = ("--plate-model", str(tiny_plate_model), "--no-corners", *PORT_FLAGS)
    service = start_service(tiny_model, *flags, log_path=tmp_path / "serve.log")
    try:
        got = {p.stem: read_photo(service.url, p.read_bytes(), key=None).json()["results"][0] for p in scene_photos}
        assert 'value="0"' in request(service.url, "GET", "/").body.decode()
        raised = read_photo(service.url, scene_photos[0].read_bytes(), "?min_confidence=1", key=None).json()["results"][0]
    finally:
        service.stop()
    assert {k: without(v) for k, v in got.items()} == {k: without(v) for k, v in expected.items()}
    assert raised["reading"] == "" or raised["confidence"] >= 1


@pytest.mark.parametrize("key", [None, "", "wrong", API_KEY + "x"])
def test_a_missing_or_wrong_key_gets_401(plate_service, scene_photos, key):
    answer = read_photo(plate_service.url, scene_photos[0].read_bytes(), key=key)
    assert answer.status == 401
    assert "API key" in answer.json()["error"]


def png(width: int, height: int) -> bytes:
    ok, data = cv2.imencode(".png", np.zeros((height, width, 3), np.uint8))
    assert ok
    return data.tobytes()


# (what, query, body, content type, status, words in the error)
BAD_REQUESTS = [
    ("empty body", "", b"", None, 400, "empty"),
    ("text", "", b"this is not an image", None, 415, "not a readable image"),
    ("truncated JPEG", "", "truncated", None, 422, "truncated or corrupt"),
    ("too many pixels", "", png(2000, 1001), None, 413, "too large"),
    ("body over --max-bytes", "", b"\xff" * 2_000_001, None, 413, "over the limit"),
    ("box not 4 numbers", "?box=1,2,3", "photo", None, 422, "box must be"),
    ("box outside", "?box=400,400,100,50", "photo", None, 422, "not inside"),
    ("box too small", "?box=0,0,2,2", "photo", None, 422, "too small"),
    ("min_confidence 2", "?min_confidence=2", "photo", None, 422, "min_confidence"),
    ("min_confidence text", "?min_confidence=high", "photo", None, 422, "min_confidence"),
    ("multipart without image", "", "form-without-image", "multipart", 400, "field 'image'"),
    ("broken multipart", "", b"--nope\r\n", "multipart/form-data; boundary=x", 400, ""),
    ("multipart empty file", "", "form-empty-file", "multipart", 400, "empty"),
]


def body_of(kind: bytes | str, photo: Path) -> tuple[bytes, str | None]:
    if isinstance(kind, bytes):
        return kind, None
    data = photo.read_bytes()
    if kind == "truncated":
        return data[: len(data) // 2], None
    if kind == "form-without-image":
        return multipart({"box": "1,2,3,4"}, None, b"")
    if kind == "form-empty-file":
        return multipart({}, "empty.jpg", b"")
    return data, None


@pytest.mark.parametrize(("what", "query", "kind", "ctype", "status", "words"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_input_gets_a_one_line_json_error(plate_service, scene_photos, what, query, kind, ctype, status, words):
    body, form_type = body_of(kind, scene_photos[0])
    headers = {"X-API-Key": API_KEY}
    if form_type or ctype:
        headers["Content-Type"] = form_type or ctype
    answer = request(plate_service.url, path="/v1/read" + query, body=body, headers=headers)
    assert answer.status == status, answer.body
    assert answer.body.count(b"\n") == 0 and answer.headers["content-type"] == "application/json"
    assert words in answer.json()["error"]


def test_a_huge_header_is_refused_and_the_service_lives_on(plate_service):
    answer = request(plate_service.url, method="GET", path="/healthz", headers={"X-Big": "a" * 100_000})
    assert 400 <= answer.status < 500
    assert request(plate_service.url, method="GET", path="/healthz").status == 200


def test_unknown_paths_and_methods_get_json_errors(plate_service):
    for method, path, status in (("GET", "/v2/read", 404), ("GET", "/v1/read", 405), ("DELETE", "/healthz", 405)):
        answer = request(plate_service.url, method=method, path=path, headers={"X-API-Key": API_KEY})
        assert answer.status == status and "error" in answer.json()


def test_healthz_tells_the_model_uptime_and_requests(plate_service, scene_photos, tiny_model):
    before = request(plate_service.url, method="GET", path="/healthz").json()
    read_photo(plate_service.url, scene_photos[0].read_bytes())
    after = request(plate_service.url, method="GET", path="/healthz").json()
    assert after["model"] == str(tiny_model)
    assert after["model_facts"]["seed"] == 1 and after["model_facts"]["arch"] == "wide"
    assert after["requests_served"] == before["requests_served"] + 1
    assert after["uptime_s"] >= before["uptime_s"] > 0


def test_the_corner_finder_flags_reach_the_service(plate_service, scene_photos, tmp_path):
    import serve_plates

    assert serve_plates.parse_args(["--corner-model", str(tmp_path / "c.h5")]).cfg.corner_model == tmp_path / "c.h5"
    assert serve_plates.parse_args(["--corner-model", "c.h5", "--no-corners"]).cfg.corner_model is None
    # The running service was given a finder that is not there: it names it, and reads without that view.
    assert read_photo(plate_service.url, scene_photos[0].read_bytes()).status == 200
    warnings = [line for line in plate_service.log().splitlines() if "no_corners.h5" in line]
    assert warnings and "square-on view" in warnings[0]


def test_the_page_is_self_contained(plate_service):
    answer = request(plate_service.url, method="GET", path="/")
    page = answer.body.decode()
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/html")
    assert 'id="files"' in page and "v1/read" in page
    assert "http://" not in page and "https://" not in page, "nothing may come from elsewhere (no CDN)"


def test_every_request_is_logged_on_one_line(plate_service, scene_photos):
    marker = f"/v1/read?box=logged-{uuid.uuid4().hex[:8]}"
    read_photo(plate_service.url, scene_photos[0].read_bytes())
    request(plate_service.url, path=marker, body=scene_photos[0].read_bytes(), headers={"X-API-Key": API_KEY})
    time.sleep(0.2)  # the child flushes each line; give it a moment to land in the file
    lines = plate_service.log().splitlines()
    assert any(line.endswith("B") and " 200 " in line and "416x416" in line for line in lines)
    # The query string is not logged (it could hold anything), the status, seconds and body size are.
    assert any(line.startswith("INFO plateocr.service: POST /v1/read 422 ") and line.endswith(" B") for line in lines)
    assert "Traceback" not in plate_service.log()


# ---- the queue and the timeout, with a reader that waits for the test's signal ----


class BlockedReader:
    """Stands in for PlateReader: ``read_image`` waits until ``release`` is set."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        from config import PreprocessConfig

        self.preprocess = PreprocessConfig()

    def read_image(self, path: Path, labels: Path | None, image: np.ndarray | None = None, box: Any = None) -> Any:
        from plateocr.recognize import ImageResult

        self.entered.set()
        self.release.wait(30)
        return ImageResult(name=Path(path).stem, path=Path(path), text="1234BCD", confidence=0.9)


@pytest.fixture
def blocked_service():
    """The real app and server on a free port in this process, in front of a BlockedReader (queue 1, timeout 2 s)."""
    import uvicorn

    from config import ServeConfig
    from plateocr.service import ReadService, RequestLog, create_app

    reader = BlockedReader()
    service = ReadService(reader, ServeConfig(queue_size=1, timeout=2.0))  # type: ignore[arg-type]
    service.start(warm=False)
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(RequestLog(create_app(service, Path("m.h5"))), log_config=None, http="h11"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", reader, service
    reader.release.set()
    server.should_exit = True
    thread.join(10)
    service.stop()
    sock.close()


def test_a_full_queue_gets_503_with_retry_after_and_a_slow_read_504(blocked_service, scene_photos):
    url, reader, service = blocked_service
    data = scene_photos[0].read_bytes()
    answers: dict[str, Answer] = {}

    def send(name: str) -> None:
        answers[name] = read_photo(url, data, key=None)

    running = threading.Thread(target=send, args=("running",))
    running.start()
    assert reader.entered.wait(10)  # the worker holds the first image
    waiting = threading.Thread(target=send, args=("waiting",))
    waiting.start()
    while service.jobs.qsize() < 1:
        time.sleep(0.01)
    refused = read_photo(url, data, key=None)
    assert refused.status == 503
    assert int(refused.headers["retry-after"]) >= 1 and "busy" in refused.json()["error"]
    running.join(10)
    waiting.join(10)
    assert answers["running"].status == 504 and answers["waiting"].status == 504
    assert "not read within" in answers["waiting"].json()["error"]
    reader.release.set()
    reader.entered.clear()
    # The timed-out waiting job is skipped, and the service reads again once its queue has room (until
    # the worker has taken the waiting job off the queue, a busy service rightly answers 503).
    deadline = time.monotonic() + 20
    while service.jobs.qsize() and time.monotonic() < deadline:
        time.sleep(0.01)
    later = read_photo(url, data, key=None)
    assert later.status == 200 and later.json()["results"][0]["reading"] == "1234BCD"
