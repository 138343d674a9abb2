"""The widgets in a real browser: JupyterLab on 127.0.0.1, driven by headless Chromium.

The test writes a small notebook (train with the gradient-norm monitor, then
open the gradient-flow explorer) into a temporary folder, starts JupyterLab
there with its own configuration, runs the cells, checks that every widget
renders (no "Error displaying widget"), moves a slider and checks that the
figure is redrawn. Screenshots go to ``test-artifacts/browser/``.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and Playwright
for Python (in the ``dev`` extra); no browser is downloaded. Without them the
test fails in CI (``CI`` set, where ``.ci/run`` installs Chromium) and is
skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.heavy, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 90_000

CELLS = [
    """\
import course
from course.datasets import spiral
from course.models import TwoLayerNet
from course.optim import SGD
from course.train import Trainer
from course.widgets import GradientFlowExplorer, GradientNormMonitor

course.seed(0)
x, t = spiral.load_data()
trainer = Trainer(TwoLayerNet(2, 10, 3), SGD(lr=1.0))
monitor = GradientNormMonitor(every=10, param="W1")
history = trainer.fit(x, t, max_epoch=60, batch_size=30, max_grad=0.5, monitor=monitor, progress=False)""",
    """\
explorer = GradientFlowExplorer(T=30)
explorer""",
]


def _missing(what: str, fix: str) -> None:
    """Fail in CI (where the browser must be there), skip with the reason elsewhere."""
    message = f"{what} is not available: {fix}"
    if os.environ.get("CI"):
        pytest.fail(f"The browser test cannot run in CI: {message}", pytrace=False)
    pytest.skip(f"{message} (the test fails instead when CI is set)")


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing(
            "Chromium", "install it with `apt-get update && apt-get install -y chromium` (.ci/run does this)"
        )
    return path


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python", "pip install -e '.[dev]' installs it")
    return sync_playwright


def _notebook(path: Path) -> None:
    cells = [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}
        for source in CELLS
    ]
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def browser_tools():
    """(chromium path, sync_playwright), checked before any server starts."""
    return _chromium(), _playwright()


@pytest.fixture
def jupyter_lab(tmp_path, browser_tools):
    """A JupyterLab server in tmp_path with its own config, data and runtime folders; its URL."""
    for name in ("config", "data", "runtime", "work"):
        (tmp_path / name).mkdir()
    # No news announcements: they would try the network and cover part of the screenshots.
    labconfig = tmp_path / "config" / "labconfig"
    labconfig.mkdir()
    disabled = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
    (labconfig / "page_config.json").write_text(json.dumps(disabled))
    _notebook(tmp_path / "work" / "widgets.ipynb")
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    port = _free_port()
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={tmp_path / 'work'}",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path / "work")
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _image_src(output) -> str:
    return output.locator("img").first.get_attribute("src") or ""


def test_widgets_render_and_redraw_in_jupyterlab(browser_tools, jupyter_lab):
    chromium, sync_playwright = browser_tools
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            page.goto(f"{jupyter_lab}/lab/tree/widgets.ipynb", timeout=WAIT_MS)
            # Loaded: every cell is there and the kernel says Idle in the status bar.
            page.wait_for_function(
                """n => document.querySelectorAll('.jp-Notebook .jp-CodeCell').length >= n
                    && /Idle/.test(document.querySelector('.jp-StatusBar-Widget')?.innerText ?? '')""",
                arg=len(CELLS),
                timeout=WAIT_MS,
            )
            cells = page.locator(".jp-Notebook .jp-CodeCell")
            assert cells.count() == len(CELLS)
            cells.nth(0).locator(".jp-InputArea-editor").click()
            for _ in CELLS:
                page.keyboard.press("Shift+Enter")
            # Both cells ran: their prompts show execution counts, not [*] (running the last
            # cell adds an empty one below it, which is left out).
            page.wait_for_function(
                """n => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].slice(0, n)
                    .every(p => /\\[\\d+\\]/.test(p.textContent))""",
                arg=len(CELLS),
                timeout=WAIT_MS,
            )
            monitor_out, explorer_out = (
                cells.nth(0).locator(".jp-OutputArea"),
                cells.nth(1).locator(".jp-OutputArea"),
            )
            monitor_out.locator(".widget-dropdown").wait_for(timeout=WAIT_MS)
            explorer_out.locator(".widget-slider").first.wait_for(timeout=WAIT_MS)
            for output in (monitor_out, explorer_out):
                output.locator("img").first.wait_for(timeout=WAIT_MS)
                page.wait_for_function(
                    "img => img.complete && img.naturalWidth > 100",
                    arg=output.locator("img").first.element_handle(),
                )
            assert page.locator("text=Error displaying widget").count() == 0
            assert (
                page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()
                == 0
            )
            assert "iteration 600" in monitor_out.inner_text()  # the monitor drew the final state
            page.screenshot(path=str(ARTIFACTS / "1-rendered.png"))

            # Move the explorer's "scale of Wh" slider: the figure and its explanation must change.
            slider = explorer_out.locator(".widget-slider", has_text="scale of Wh")
            readout = slider.locator(".widget-readout")
            before_src, before_value = _image_src(explorer_out), readout.inner_text()
            before_text = explorer_out.locator(".widget-html").first.inner_text()
            slider.locator(".noUi-handle").click()
            for _ in range(10):
                page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "([img, src]) => img.getAttribute('src') !== src",
                arg=[explorer_out.locator("img").first.element_handle(), before_src],
                timeout=WAIT_MS,
            )
            assert readout.inner_text() != before_value
            # Each key press is one change; wait for the kernel to draw the last one (scale 1.5):
            # the line under the figure is written after the figure.
            page.wait_for_function(
                "node => /scale of Wh 1.5,.*exploding/.test(node.innerText)",
                arg=explorer_out.locator(".widget-html").first.element_handle(),
                timeout=WAIT_MS,
            )
            assert explorer_out.locator(".widget-html").first.inner_text() != before_text
            assert page.locator("text=Error displaying widget").count() == 0
            explorer_out.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "2-slider-moved.png"))
            explorer_out.screenshot(path=str(ARTIFACTS / "3-explorer.png"))
            monitor_out.screenshot(path=str(ARTIFACTS / "4-monitor.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"))
            raise
        finally:
            browser.close()
