"""The HTTP service: one loaded reader behind a bounded queue, its routes, and one log line per request.

The model is loaded once and warmed before the port opens. One worker thread owns it, so
the model is never called from two threads at once; requests wait in a bounded queue in
front of it, and when that is full they get 503 with ``Retry-After`` instead of piling up.
Every answer, success or error, is JSON on one line (``{"error": "..."}`` for errors), and
every request is logged on one line: method, path, status, seconds, image size.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from config import ServeConfig
from plateocr.batch import describe
from plateocr.errors import ImageTooLargeError, InputError, PlateOCRError, UnsupportedImageError
from plateocr.imageio import decode_image
from plateocr.plates import Box
from plateocr.results import result_record

if TYPE_CHECKING:
    from plateocr.record import ImageResult
    from plateocr.recognize import PlateReader

log = logging.getLogger("plateocr.service")

# What a raw (non-multipart) upload is called in its record.
RAW_UPLOAD_NAME = "upload"
# Requests whose headers add up to more are refused with 431 (h11 alone lets a header block that
# arrives in one piece through, whatever its size).
MAX_HEADER_BYTES = 32 * 1024


class ApiError(Exception):
    """An answer other than 200: its status, its one-line message, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class QueueFullError(PlateOCRError):
    """Every place in the queue in front of the model is taken."""


class BadBoxError(InputError):
    """A ``box`` that is not ``x,y,w,h`` inside the image."""


@dataclass
class ReadJob:
    """One image to read: its bytes, its name, the optional box and confidence threshold."""

    data: bytes
    name: str
    box: Box | None = None
    min_confidence: float = 0.0
    future: Future[tuple[ImageResult, tuple[int, int]]] = field(default_factory=Future)


class ReadService:
    """The loaded reader, a bounded queue and the one thread that calls the model."""

    def __init__(self, reader: PlateReader, cfg: ServeConfig) -> None:
        self.reader, self.cfg = reader, cfg
        self.jobs: queue.Queue[ReadJob | None] = queue.Queue(maxsize=cfg.queue_size)
        self.thread = threading.Thread(target=self._work, name="plate-reader", daemon=True)
        self.started = time.time()
        self.served = 0  # images read
        self.requests = 0  # POST /v1/read requests, whatever their answer
        self.mean_seconds = 0.5  # running mean of a read, for Retry-After
        self._lock = threading.Lock()

    def start(self, warm: bool = True) -> None:
        """Warm the model (so the first request is as fast as the rest), then start the worker."""
        if warm:
            self.warm()
        self.thread.start()

    def warm(self) -> None:
        """Run the whole path (localiser, views, filters, both models) on a drawn plate, with and without a box."""
        photo, box = warm_up_photo()
        for given in (None, box, None):
            self.reader.read_image(Path("warm-up"), None, image=photo, box=given)

    def stop(self) -> None:
        """Let the worker finish the queued jobs and end."""
        if self.thread.is_alive():
            self.jobs.put(None)
            self.thread.join(timeout=60)

    def submit(self, job: ReadJob) -> Future[tuple[ImageResult, tuple[int, int]]]:
        """Queue ``job``; its future gives (result, (width, height)) or the error.

        Raises:
            QueueFullError: no room in the queue.
        """
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            raise QueueFullError(f"{self.cfg.queue_size} images already waiting") from None
        return job.future

    def retry_after(self) -> int:
        """Seconds after which a refused request may find room: the queue's expected wait."""
        return max(1, math.ceil(self.jobs.qsize() * self.mean_seconds))

    def _work(self) -> None:
        while (job := self.jobs.get()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue  # its request timed out while it waited
            try:
                job.future.set_result(self.read(job))
            except BaseException as exc:  # noqa: BLE001 - handed to the request, which answers for it
                job.future.set_exception(exc)

    def read(self, job: ReadJob) -> tuple[ImageResult, tuple[int, int]]:
        """Decode and read one image (in the worker thread).

        Raises:
            InputError: the image cannot be used (its subclasses say why) or the box is not in it.
        """
        started = time.perf_counter()
        image = decode_image(job.data, job.name, self.cfg.max_pixels)
        height, width = image.shape[:2]
        if job.box is not None:
            check_box(job.box, width, height, job.name)
        result = self.reader.read_image(Path(job.name), None, image=image, box=job.box)
        result.seconds = time.perf_counter() - started  # as the CLI counts it: decoding included
        result.withhold_below(job.min_confidence)
        with self._lock:
            self.served += 1
            self.mean_seconds = 0.8 * self.mean_seconds + 0.2 * result.seconds
        return result, (width, height)

    def health(self, model_path: Path) -> dict[str, Any]:
        """``GET /healthz``: the model, its sidecar facts, uptime, requests served, queue."""
        return {
            "status": "ok",
            "model": str(model_path),
            "model_facts": sidecar_facts(model_path),
            "uptime_s": round(time.time() - self.started, 1),
            "requests_served": self.requests,
            "images_read": self.served,
            "queue": {"waiting": self.jobs.qsize(), "size": self.cfg.queue_size},
        }


def warm_up_photo() -> tuple[np.ndarray, Box]:
    """A 416 px grey photo with a plate-like white box of dark characters (and a blue band), and its box."""
    import cv2

    photo = np.full((416, 416, 3), 110, np.uint8)
    box = Box(120, 250, 176, 40)
    cv2.rectangle(photo, (box.x, box.y), (box.x2, box.y2), (245, 245, 245), -1)
    cv2.rectangle(photo, (box.x, box.y), (box.x + 14, box.y2), (165, 70, 10), -1)
    cv2.putText(photo, "1234 BCD", (box.x + 20, box.y2 - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.95, (20, 20, 20), 3)
    return photo, box


def check_box(box: Box, width: int, height: int, name: str) -> None:
    """Raises BadBoxError unless ``box`` lies inside a ``width`` x ``height`` image and is big enough to read."""
    if box.w < 8 or box.h < 4:
        raise BadBoxError(f"{name}: box {box.as_tuple()} is too small (at least 8x4 pixels)")
    if box.x < 0 or box.y < 0 or box.x2 > width or box.y2 > height:
        raise BadBoxError(f"{name}: box {box.as_tuple()} is not inside the {width}x{height} image")


SIDECAR_FACTS = ("arch", "seed", "epochs_run", "val_accuracy", "classes", "trained_at", "train_seconds")


def sidecar_facts(model_path: Path) -> dict[str, Any]:
    """The model sidecar's main facts (architecture, seed, epochs, validation accuracy, ...), {} without one."""
    from plateocr.train import sidecar_path

    try:
        meta = json.loads(sidecar_path(model_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: meta[k] for k in SIDECAR_FACTS if k in meta} if isinstance(meta, dict) else {}


def parse_box(text: str | None) -> Box | None:
    """``box=x,y,w,h`` (pixels) as a Box; None when absent.

    Raises:
        ApiError: 422, not four integers.
    """
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    try:
        x, y, w, h = (int(p.strip()) for p in parts)
    except ValueError:
        raise ApiError(422, f"box must be x,y,w,h in whole pixels, got {text[:80]!r}") from None
    return Box(x, y, w, h)


def parse_confidence(text: str | None, floor: float) -> float:
    """``min_confidence`` in [0, 1] (never below the service's own ``floor``).

    Raises:
        ApiError: 422, not a number in [0, 1].
    """
    if text is None or not text.strip():
        return floor
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ApiError(422, f"min_confidence must be a number in [0, 1], got {text[:80]!r}")
    return max(value, floor)


def status_of(exc: InputError) -> int:
    """The HTTP status of an unusable image."""
    if isinstance(exc, ImageTooLargeError):
        return 413
    if isinstance(exc, UnsupportedImageError):
        return 415
    return 400 if str(exc).endswith("empty file") else 422


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one-line JSON answer of every error: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def page_html(min_confidence: float) -> str:
    """The web page served at ``/`` (one self-contained file: no build step, nothing from a CDN), its
    minimum confidence starting at the service's own."""
    page = resources.files("plateocr").joinpath("web/index.html").read_text(encoding="utf-8")
    return page.replace("{min_confidence}", f"{min_confidence:g}")


def create_app(service: ReadService, model_path: Path, api_key: str | None = None, floor: float = 0.0) -> FastAPI:
    """The FastAPI application: ``POST /v1/read``, ``GET /healthz``, ``GET /``.

    Args:
        service: the started reader service.
        model_path: shown by ``/healthz``.
        api_key: when set, ``/v1`` requests need it in the ``X-API-Key`` header.
        floor: the service's own ``--min-confidence``, which its reader applies (a request may only raise it).
    """
    app = FastAPI(title="plateocr", docs_url=None, redoc_url=None)  # the docs pages would load from a CDN
    page = page_html(floor)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return json_error(exc.status, exc.message, exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return json_error(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return json_error(422, f"invalid request ({len(exc.errors())} problems)")

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        return json_error(500, f"internal error ({describe(exc)})")

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return service.health(model_path)

    @app.post("/v1/read")
    async def read(request: Request) -> JSONResponse:
        service.requests += 1  # only the event loop's thread counts requests
        check_key(request, api_key)
        data, name, params = await upload(request, service.cfg.max_bytes)
        request.state.image = f"{len(data)} B"
        job = ReadJob(data, name, parse_box(params.get("box")), parse_confidence(params.get("min_confidence"), floor))
        result, (width, height) = await wait_for_reading(service, job)
        request.state.image = f"{width}x{height} {len(data)} B"
        return JSONResponse({"results": [result_record(result)]})

    return app


def check_key(request: Request, api_key: str | None) -> None:
    """Raises ApiError 401 when the service has a key and the request does not carry it."""
    if not api_key:
        return
    given = request.headers.get("x-api-key", "")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), api_key.encode("utf-8")):
        raise ApiError(401, "missing or wrong API key (header X-API-Key)", {"WWW-Authenticate": "X-API-Key"})


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to pass ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, f"bad Content-Length {declared[:40]!r}")
        if int(declared) > max_bytes:
            raise ApiError(413, f"request body of {int(declared):,} bytes is over the limit of {max_bytes:,}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise ApiError(413, f"request body is over the limit of {max_bytes:,} bytes")
    return bytes(body)


async def upload(request: Request, max_bytes: int) -> tuple[bytes, str, dict[str, str]]:
    """The image (multipart field ``image`` or the raw body), its name, and the parameters.

    Parameters come from the query string; a multipart form's text fields override them.
    """
    body = await read_body(request, max_bytes)
    params = dict(request.query_params)
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        if not body:
            raise ApiError(400, "empty request: send an image as the body or as multipart field 'image'")
        return body, RAW_UPLOAD_NAME, params

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=16, max_part_size=max_bytes)
    image = form.get("image")
    if not isinstance(image, UploadFile):
        raise ApiError(400, "multipart request without a file field 'image'")
    data = await image.read()
    params.update({k: v for k, v in form.items() if isinstance(v, str)})
    if not data:
        raise ApiError(400, f"{image.filename or 'image'}: empty file")
    return data, Path(image.filename or RAW_UPLOAD_NAME).name, params


async def wait_for_reading(service: ReadService, job: ReadJob) -> tuple[ImageResult, tuple[int, int]]:
    """Queue ``job`` and wait for it, at most the service's timeout; errors become ApiError."""
    try:
        future = service.submit(job)
    except QueueFullError as exc:
        raise ApiError(503, f"busy: {exc}; try again later", {"Retry-After": str(service.retry_after())}) from None
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), service.cfg.timeout)
    except (TimeoutError, asyncio.TimeoutError):
        future.cancel()  # if it is still waiting, the worker skips it
        raise ApiError(504, f"{job.name}: not read within {service.cfg.timeout:g} s") from None
    except InputError as exc:
        raise ApiError(status_of(exc), str(exc)) from None


class RequestLog:
    """ASGI wrapper: one log line per request, huge headers refused (431), and no exception (so no
    traceback) ever reaches the server.

    The image size is what the route put in ``request.state.image``.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        sent: dict[str, int] = {}

        async def send_and_note(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
            await send(message)

        try:
            header_bytes = sum(len(k) + len(v) for k, v in scope.get("headers", ()))
            if header_bytes > MAX_HEADER_BYTES:
                message = f"request headers of {header_bytes:,} bytes are over the limit of {MAX_HEADER_BYTES:,}"
                await json_error(431, message)(scope, receive, send_and_note)
            else:
                await self.app(scope, receive, send_and_note)
        except Exception as exc:  # noqa: BLE001 - already answered by the app's handler; one line, no traceback
            log.error("%s %s: internal error (%s)", scope.get("method"), scope.get("path"), describe(exc))
            log.debug("internal error", exc_info=True)
            if "status" not in sent:
                await json_error(500, f"internal error ({describe(exc)})")(scope, receive, send_and_note)
        finally:
            log.info(
                "%s %s %s %.3f s %s",
                scope.get("method"), scope.get("path"), sent.get("status", "-"),
                time.perf_counter() - started, state.get("image", "-"),
            )  # fmt: skip
