"""Make the README's pictures again: ``python docs/make_pictures.py`` (from the repository root).

- ``docs/tsg-lossy-transfer.svg``: ``tcplab demo lossy-transfer --tsg-svg`` (deterministic);
- ``docs/lab.png``: the lab in Debian's chromium (``apt-get install chromium``; Playwright drives
  it, ``pip install playwright``: no browser is downloaded), showing the simultaneous-close story
  stepped to the moment both ends are in CLOSING.
"""

from __future__ import annotations

import pathlib
import shutil
import sys
import tempfile
import threading

DOCS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "src"))

LAB_QUERY = "story=simultaneous-close&seed=0&at=6"


def time_sequence_graph() -> None:
    from tcplab.cli import main

    main(["demo", "lossy-transfer", "--tsg-svg", str(DOCS / "tsg-lossy-transfer.svg"), "--json"])


def lab_screenshot() -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from tcplab.lab.app import create_app

    server = make_server("127.0.0.1", 0, create_app(), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp(prefix="tcplab-chromium-")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path="/usr/bin/chromium", headless=True, args=args,
                viewport={"width": 1500, "height": 1080},
            )  # fmt: skip
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/?{LAB_QUERY}")
            page.wait_for_selector("body[data-ready='1']")
            page.screenshot(path=str(DOCS / "lab.png"))
            context.close()
    finally:
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        time_sequence_graph()
    lab_screenshot()
    print("wrote docs/tsg-lossy-transfer.svg and docs/lab.png")
