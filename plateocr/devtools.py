"""Helpers shared by the tests and the benchmarks: the service in a child process, a headless browser.

Nothing here is needed to read plates; it starts ``serve_plates.py`` the way a user would,
on the loopback, and opens Debian's Chromium through Debian's chromedriver (no browser is
ever downloaded).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from config import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
    "--disable-default-apps", "--mute-audio",
)  # fmt: skip


class Answer:
    """An HTTP answer: status, headers (lower-case names), body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def connect(url: str, timeout: float = 120) -> http.client.HTTPConnection:
    """A keep-alive connection to the service at ``url``."""
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def send(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> Answer:
    """One request on ``conn``."""
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())


def request(
    url: str, method: str = "POST", path: str = "/v1/read", body: bytes = b"", headers: dict[str, str] | None = None
) -> Answer:
    """One HTTP request on a fresh connection."""
    conn = connect(url)
    try:
        return send(conn, method, path, body, headers)
    finally:
        conn.close()


def multipart(fields: dict[str, str], file_name: str | None, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with the text ``fields`` and (when ``file_name``) the file field ``image``."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for key, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    if file_name is not None:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{file_name}"\r\n'
        out.write(f"{head}Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


@dataclass
class ServiceProcess:
    """A running ``serve_plates.py``: its base URL, the child process and its log file."""

    url: str
    process: subprocess.Popen[str]
    log_path: Path
    log_file: IO[str]

    def log(self) -> str:
        """Everything the service logged so far (the child writes the file itself)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 60) -> int:
        """Ctrl-C, as a user would: returns the exit code (130 after a clean stop)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()
        assert self.process.stdout is not None
        self.process.stdout.close()
        return self.process.returncode


def start_service(
    model: Path, *flags: str, log_path: Path | None = None, env: dict[str, str] | None = None, timeout: float = 180
) -> ServiceProcess:
    """Start ``serve_plates.py --port 0`` on the loopback and wait until it serves (model loaded and warm).

    Raises:
        RuntimeError: it stopped or did not start within ``timeout`` seconds (with its log).
    """
    if log_path is None:
        log_path = Path(tempfile.mkstemp(prefix="serve_plates.", suffix=".log")[1])
    log_file = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed by ServiceProcess.stop
    argv = [sys.executable, str(ROOT / "serve_plates.py"), "--host", "127.0.0.1", "--port", "0", "--model", str(model)]
    process = subprocess.Popen(
        [*argv, *flags], cwd=ROOT, stdout=subprocess.PIPE, stderr=log_file, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )  # fmt: skip
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    found = re.search(r"serving on (http://\S+)", line)
    if found is None:
        service = ServiceProcess("", process, log_path, log_file)
        service.stop(timeout=10)
        raise RuntimeError(f"serve_plates.py did not start (exit {process.returncode}): {line}\n{service.log()}")
    return ServiceProcess(found.group(1), process, log_path, log_file)


def chromium(profile: Path | None = None, width: int = 1200, height: int = 900) -> Any:
    """A Selenium WebDriver on Debian's headless Chromium with a fresh profile (``profile``, or a temporary folder)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile or tempfile.mkdtemp(prefix='chromium-profile.')}")
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


def browser_missing() -> str:
    """Why the browser tests cannot run here ('' when Chromium and chromedriver are installed)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    return f"not installed: {', '.join(missing)} (apt-get install chromium chromium-driver)" if missing else ""
