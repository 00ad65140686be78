#!/usr/bin/env python3
"""The README's picture of the web page: the service on the real model, three test photos uploaded in Chromium.

    python bench/web_screenshot.py --out docs/web_page.jpg

Starts ``serve_plates.py`` on a free loopback port, opens ``/`` in Debian's headless Chromium,
uploads the photos through the page's file picker, waits for their readings and saves a
screenshot.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plateocr.devtools import chromium, start_service  # noqa: E402

PHOTOS = ("1277DPZ", "2592BDK", "3008GWK")


def as_format(png: bytes, suffix: str) -> bytes:
    """The screenshot as JPEG (quality 85: a photo-heavy page is a fifth of the PNG's size) or as it is."""
    if suffix.lower() not in (".jpg", ".jpeg"):
        return png
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ROOT / "models" / "chars74k_cnn.h5")
    p.add_argument("--images", type=Path, default=ROOT / "data" / "test6Training" / "images")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "web_page.jpg", help="a .jpg (quality 85) or .png")
    args = p.parse_args(argv)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from plateocr.results import write_bytes_atomic

    service = start_service(args.model)
    try:
        with tempfile.TemporaryDirectory(prefix="chromium-profile.") as profile:
            browser = chromium(Path(profile), width=1180, height=860)
            try:
                browser.get(service.url + "/")
                files = "\n".join(str(args.images / f"{name}.jpg") for name in PHOTOS)
                browser.find_element(By.ID, "files").send_keys(files)
                WebDriverWait(browser, 120).until(
                    lambda d: len(d.find_elements(By.CSS_SELECTOR, ".result[data-reading]")) == len(PHOTOS)
                )
                shown = [e.text for e in browser.find_elements(By.CLASS_NAME, "reading")]
                write_bytes_atomic(args.out, as_format(browser.get_screenshot_as_png(), args.out.suffix))
            finally:
                browser.quit()
    finally:
        service.stop()
    print(f"readings shown: {', '.join(shown)}; screenshot written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
