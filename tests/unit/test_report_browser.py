"""The HTML report in a real browser: headless Chromium loads index.html, every image
decodes, no script or resource error, the tables and figures are there; a screenshot is
kept in the test's tmp dir for people to look at."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from report_testkit import shared_sweep

from artrec.reporting.report import main

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Records, once the page has loaded, what the test asserts into <pre id="result">.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", (e) => __errors.push(String(e.message || e.target.src)), true);
const originalError = console.error.bind(console);
console.error = (...args) => { __errors.push(args.join(" ")); originalError(...args); };
window.addEventListener("load", () => {
  const found = {
    images: [...document.images].map((img) => img.naturalWidth),
    tables: document.querySelectorAll("table").length,
    figures: document.querySelectorAll("figure").length,
    errors: __errors,
  };
  const pre = document.createElement("pre");
  pre.id = "result";
  pre.textContent = JSON.stringify(found);
  document.body.appendChild(pre);
});
</script>"""


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.skipif(_browser() is None, reason="no Chromium found (apt-get install chromium)")
def test_the_report_renders_in_a_real_browser(tmp_path):
    browser = _browser()
    _, sweep = shared_sweep()
    out = tmp_path / "report"
    args = ["--bootstrap", "100", "--gallery-cases", "2"]
    assert main([str(sweep), str(sweep.parent / "legacy"), "--out", str(out), *args]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    dom = _chromium(
        browser, tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()
    ).stdout
    found = json.loads(re.search(r'<pre id="result">(.*?)</pre>', dom, re.DOTALL).group(1))
    assert found["errors"] == []
    assert len(found["images"]) == page.count("<img ") == 2 + 8  # galleries, scatter + bars
    assert all(width > 0 for width in found["images"]), found["images"]
    assert found["tables"] == page.count("<table>") >= 4  # runs, Table 1, RQ1, Table 2
    assert found["figures"] == len(found["images"])
    shot = tmp_path / "report.png"
    _chromium(
        browser,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        "--hide-scrollbars",
        (out / "index.html").as_uri(),
    )
    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        assert len(image.convert("L").getcolors(2**16) or []) > 50  # drawn, not blank
