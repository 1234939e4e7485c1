"""The docs site, as a browser shows it: headless Chromium renders the built pages (docs/build-site)."""

import html.parser
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[2] / "docs" / "build" / "html"


class Headings(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings, self.images, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2"):
            self._in = tag
            self.headings.append([tag, ""])
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in:
            self.headings[-1][1] += data


def render(page):
    """The DOM Chromium builds for a page of the site (scripts run, as in a browser)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed (tests/run-all installs Debian's chromium)")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--user-data-dir=%s" % profile,
                "--dump-dom",
                (SITE / page).as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    parser = Headings()
    parser.feed(proc.stdout)
    return [(tag, " ".join(text.split()).rstrip("\uf0c1 ")) for tag, text in parser.headings], parser.images


@pytest.fixture(scope="module", autouse=True)
def built_site():
    if not (SITE / "index.html").exists() or os.environ.get("OSIMAGES_REBUILD_DOCS") == "1":
        subprocess.run([str(SITE.parents[1] / "build-site")], check=True, timeout=900)


def test_index_lists_the_collection():
    headings, dummy = render("index.html")
    assert headings[0][0] == "h1" and "Osimages.Glance" in headings[0][1]
    texts = " ".join(text for dummy, text in headings)
    assert "Guides" in texts and "Plugin Index" in texts and "Role Index" in texts


def test_a_module_page_renders_its_sections():
    headings, dummy = render("glance_image_module.html")
    assert headings[0][0] == "h1" and headings[0][1].startswith("osimages.glance.glance_image module")
    texts = [text for dummy, text in headings]
    for section in ("Synopsis", "Parameters", "Examples", "Return Values"):
        assert section in texts


def test_the_pipeline_page_shows_the_generated_diagram():
    headings, images = render("docsite/image_pipeline.html")
    assert headings[0] == ("h1", "The image pipeline")
    assert any(src.endswith("pipeline.svg") for src in images)
    svg = SITE / "_images" / "pipeline.svg"
    assert svg.exists() and "rollback" in svg.read_text()


def test_the_performance_page_shows_the_results_and_the_plot():
    headings, images = render("docsite/performance.html")
    assert headings[0] == ("h1", "Performance")
    assert "Targets" in [text for dummy, text in headings]
    assert any(src.endswith("performance.png") for src in images)
    plot = SITE / "_images" / "performance.png"
    assert plot.exists() and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
