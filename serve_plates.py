#!/usr/bin/env python3
"""Serve the plate reader over HTTP: the model is loaded once, then every request is just a reading.

  POST /v1/read   one image (multipart field 'image', or the raw body); optional box=x,y,w,h
                  and min_confidence (query or form fields) -> {"results": [record]}, the record
                  of recognize_plates.py --json
  GET  /healthz   model, its sidecar facts, uptime, requests served
  GET  /          a web page: drop photos, see them annotated with their readings
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from config import READERS, RecognizeConfig, ServeConfig
from plateocr.cli import EXIT_OK, EXIT_SETUP, add_corner_flags, add_verbosity, corner_model, setup_logging
from plateocr.errors import PlateOCRError

log = logging.getLogger("serve_plates")

EXIT_INTERRUPTED = 130

EPILOG = """\
limits:
  A body over --max-bytes or an image over --max-pixels gets 413; when --queue images already
  wait for the model, 503 with Retry-After; a request not answered within --timeout, 504.
  Bad input gets 400 (empty, malformed), 415 (not an image) or 422 (truncated, bad box or
  min_confidence), always as one line of JSON: {"error": "..."}.

exit codes:
  2    usage or setup error: bad flag, missing or incompatible model, port not available
  130  stopped by Ctrl-C (after the requests in progress were answered); SIGTERM stops it the same way
       and then ends the process by SIGTERM's default action, as service managers expect
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = ServeConfig()
    p = argparse.ArgumentParser(
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--host", default=d.host, help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=d.port, help="port to listen on; 0: any free one (default: %(default)s)")
    p.add_argument("--model", type=Path, default=d.model, metavar="PATH",
                   help="trained Chars74K model (default: %(default)s)")
    p.add_argument("--plate-model", type=Path, default=d.plate_model, metavar="PATH",
                   help="trained whole-plate reader model (default: %(default)s)")
    add_corner_flags(p, d.corner_model)
    p.add_argument("--reader", choices=READERS, default=d.reader,
                   help="which readers read each plate: chars, plate or both, arbitrated (default: %(default)s)")
    p.add_argument("--api-key", default=None, metavar="KEY",
                   help=f"require this key in the X-API-Key header of every /v1 request "
                   f"(default: the {d.api_key_env} environment variable; none: no key needed)")
    p.add_argument("--max-bytes", type=int, default=d.max_bytes, metavar="N",
                   help="largest request body, in bytes (default: %(default)s)")
    p.add_argument("--max-pixels", type=int, default=d.max_pixels, metavar="N",
                   help="largest image, in pixels (default: %(default)s)")
    p.add_argument("--queue", type=int, default=d.queue_size, metavar="N",
                   help="images that may wait for the model; more get 503 (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=d.timeout, metavar="S",
                   help="seconds a request may wait and be read before it gets 504 (default: %(default)s)")
    p.add_argument("--min-confidence", type=float, default=RecognizeConfig().min_confidence, metavar="P",
                   help="leave readings below this confidence empty, as recognize_plates.py does "
                   "(a request may ask for more, not less) (default: %(default)s)")
    add_verbosity(p)
    args = p.parse_args(argv)
    cfg = ServeConfig(
        host=args.host, port=args.port, model=args.model, plate_model=args.plate_model,
        corner_model=corner_model(args), reader=args.reader,
        max_bytes=args.max_bytes, max_pixels=args.max_pixels, queue_size=args.queue, timeout=args.timeout,
    )
    try:
        cfg.validate()
    except ValueError as exc:
        p.error(str(exc))
    if not 0.0 <= args.min_confidence <= 1.0:
        p.error(f"argument --min-confidence: must be in [0, 1], got {args.min_confidence}")
    args.cfg = cfg
    if args.api_key is None:
        args.api_key = os.environ.get(d.api_key_env) or None
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_SETUP
    setup_logging(args)
    try:
        return serve(args)
    except KeyboardInterrupt:
        print("serve_plates: stopped (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED


def serve(args: argparse.Namespace) -> int:
    """Bind the port, load and warm the model, serve until Ctrl-C or SIGTERM."""
    try:
        import uvicorn

        from plateocr.recognize import PlateReader
        from plateocr.service import ReadService, RequestLog, create_app
    except ImportError as exc:
        print(f"serve_plates: error: {exc.name} is not installed; pip install -r requirements-serve.txt",
              file=sys.stderr)
        return EXIT_SETUP
    cfg: ServeConfig = args.cfg
    try:
        sock = socket.create_server((cfg.host, cfg.port), family=family_of(cfg.host))
        # Accepted connections inherit it: without it, a keep-alive client waits ~40 ms (Nagle + delayed ACK)
        # for the second segment of each answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:
        print(f"serve_plates: error: cannot listen on {cfg.host}:{cfg.port} ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_SETUP
    with sock:
        try:
            reading_cfg = RecognizeConfig(
                plate_model=cfg.plate_model, corner_model=cfg.corner_model, reader=cfg.reader,
                min_confidence=args.min_confidence,
            )
            reader = PlateReader(cfg.model, reading_cfg)
            service = ReadService(reader, cfg)
        except PlateOCRError as exc:
            print(f"serve_plates: error: {exc}", file=sys.stderr)
            return EXIT_SETUP
        service.start()
        app = RequestLog(create_app(service, cfg.model, args.api_key, args.min_confidence))
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        # Tests and scripts wait for this line: the model is loaded and warm, the port is open.
        print(f"serving on http://{shown}:{port} (model {cfg.model}; Ctrl-C stops)", flush=True)
        server = uvicorn.Server(
            uvicorn.Config(app, log_config=None, access_log=False, http="h11", lifespan="off", timeout_keep_alive=5)
        )
        signals: list[int] = []
        graceful_stop = server.handle_exit

        def note_signal(sig: int, frame: object) -> None:
            signals.append(sig)
            graceful_stop(sig, frame)  # type: ignore[arg-type]

        server.handle_exit = note_signal  # type: ignore[method-assign]
        try:
            server.run(sockets=[sock])  # on Ctrl-C: a graceful stop (uvicorn may then raise KeyboardInterrupt)
        finally:
            service.stop()
            log.info("stopped after %d requests, %d images read", service.requests, service.served)
    if signal.SIGINT in signals:
        raise KeyboardInterrupt
    return EXIT_OK


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


if __name__ == "__main__":
    sys.exit(main())
