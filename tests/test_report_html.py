"""The HTML report in a real browser (headless Chromium from the Debian packages): layout, seeking, escaping.

The renderer is the unit under test, so most reports here are built from the sample's ground truth (its cuts and
sentences); the escaping test runs the real `videolens analyze` on a file with a hostile name.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest
from conftest import ROOT, SAMPLE

from videolens.report.html import render_index_html, write_report_html

HOSTILE = 'x"><img src=x onerror=alert(1)>'


def open_page(driver, path):
    driver.get_log("browser")                    # drop messages of earlier pages
    driver.get("file://" + os.path.abspath(path))
    driver.execute_script("return document.readyState")
    return driver


def severe(driver) -> list:
    return [m for m in driver.get_log("browser") if m["level"] == "SEVERE"]


def sample_report() -> dict:
    """A report for samples/sample.mp4 built from its ground truth: 6 shots, 6 sentences, one face throughout."""
    truth = json.loads((ROOT / "samples" / "sample.json").read_text())
    clips = truth["clips"]
    shots = [{"index": k, "start_frame": c["start_frame"], "end_frame": c["end_frame"], "start_time": c["start"],
              "end_time": c["end"]} for k, c in enumerate(clips)]
    transitions = [{"type": "cut", "start": t["start"], "end": t["end"], "start_time": t["start"] / 25,
                    "end_time": t["end"] / 25} for t in truth["transitions"]]
    segments = [{"start": c["start"] + 0.4, "end": c["end"] - 0.4, "text": c["sentence"]} for c in clips]
    counts = [{"index": i, "time": i / 25, "count": 1} for i in range(0, 450, 5)]
    return {
        "format": "videolens-report", "version": 2, "videolens": "test", "created": "now",
        "video": {"path": str(SAMPLE), "name": "sample", "duration": 18.0, "start_time": 0.0, "frames": 450,
                  "fps": 25.0, "display_size": [360, 288], "codec": "h264", "container": "mp4",
                  "audio": [{"codec": "aac"}]},
        "analyzers": {"ran": [], "skipped": [{"name": "objects", "reason": "needs <b>torch</b>",
                                              "install": "pip install 'videolens[x]'"}]},
        "summary": {"shots": 6, "faces": 1, "speech_seconds": 13.2},
        "shots": {"shots": shots, "transitions": transitions, "detector": "ground truth"},
        "transitions": transitions,
        "faces": {"counts": counts, "max_count": 1, "frames_with_faces": 90, "detections": []},
        "actions": {"segments": [{"start": 0.0, "end": 9.0, "label": "<i>talking</i>", "score": 0.9},
                                 {"start": 9.0, "end": 18.0, "label": "reading & talking", "score": 0.7}],
                    "classes": ["talking"]},
        "speech": {"segments": segments, "transcript": truth["transcript"], "speech_seconds": 13.2,
                   "language": "en", "model": "tiny.en"},
        "motion": {"per_second": [{"second": s, "activity": 0.01 + 0.05 * (s % 3 == 0)} for s in range(18)]},
        "timings": {"decode": 0.5, "analyzers": {"shots": 0.2}, "total": 2.0, "realtime_factor": 9.0},
    }


@pytest.fixture
def page(tmp_path):
    """The sample beside a report page for it, built from ground truth."""
    shutil.copy(SAMPLE, tmp_path / "sample.mp4")
    out = tmp_path / "sample"
    out.mkdir()
    shutil.copy(SAMPLE, out / "annotated.mp4")
    report = sample_report()
    report["files"] = ["annotated.mp4", "report.html", "report.json"]
    write_report_html(report, out / "report.html", video_src="../sample.mp4")
    return out / "report.html"


def test_report_page_layout_and_seeking(browser, page, tmp_path):
    from selenium.webdriver.common.by import By

    d = open_page(browser, page)
    assert severe(d) == []
    assert len(d.find_elements(By.CSS_SELECTOR, "#row-shots .shot")) == 6
    assert len(d.find_elements(By.CSS_SELECTOR, "#row-speech .speech")) == 6
    assert len(d.find_elements(By.CSS_SELECTOR, "#shots .card")) == 6
    transcript = d.find_element(By.ID, "transcript").text
    for sentence in ("bin blue at f two now", "lay red with p nine again", "set white in z three now"):
        assert sentence in transcript
    # Labels and reasons are text, not markup.
    assert d.find_elements(By.CSS_SELECTOR, "#row-actions i, #skipped b b") == []
    assert "<i>talking</i>" in d.find_element(By.ID, "row-actions").get_attribute("textContent")
    assert "needs <b>torch</b>" in d.find_element(By.ID, "skipped").text

    # Wait for the player to know its duration, then seek by clicking: a shot card, then the middle of a row.
    d.execute_script("document.getElementById('player').muted = true; document.getElementById('player').load();")
    deadline = time.time() + 15
    while time.time() < deadline and not d.execute_script("return document.getElementById('player').readyState >= 1"):
        time.sleep(0.1)
    d.find_elements(By.CSS_SELECTOR, "#shots .card")[3].click()
    assert d.execute_script("return document.getElementById('player').currentTime") == pytest.approx(9.0, abs=0.05)
    track = d.find_element(By.CSS_SELECTOR, "#row-motion .track")
    d.execute_script("""
        var t = arguments[0], r = t.getBoundingClientRect();
        t.dispatchEvent(new MouseEvent('click', {clientX: r.left + r.width * 0.25, clientY: r.top + 5, bubbles: true}));
    """, track)
    assert d.execute_script("return document.getElementById('player').currentTime") == pytest.approx(4.5, abs=0.1)
    d.find_elements(By.CSS_SELECTOR, "#transcript .seg")[5].click()
    assert d.execute_script("return document.getElementById('player').currentTime") == pytest.approx(15.4, abs=0.05)
    # Switching the player to the annotated video keeps the position.
    d.find_element(By.CSS_SELECTOR, "#sources input[value='annotated.mp4']").click()
    deadline = time.time() + 15
    while time.time() < deadline and not d.execute_script(
            "var v = document.getElementById('player'); return v.currentSrc.endsWith('annotated.mp4') && "
            "v.readyState >= 1 && Math.abs(v.currentTime - 15.4) < 0.05"):
        time.sleep(0.1)
    assert d.execute_script("return document.getElementById('player').currentTime") == pytest.approx(15.4, abs=0.05)
    assert [a.text for a in d.find_elements(By.CSS_SELECTOR, "#files a")] == ["annotated.mp4", "report.json"]
    assert severe(d) == []
    assert d.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_hostile_file_name_injects_no_markup(browser, cli, tmp_path):
    """A real run of `videolens analyze` on a file whose name is an HTML injection."""
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    src = tmp_path / "in" / f"{HOSTILE}.mp4"
    src.parent.mkdir()
    shutil.copy(SAMPLE, src)
    other = tmp_path / "in" / "other.mp4"
    shutil.copy(SAMPLE, other)
    r = cli("analyze", src, other, "-o", tmp_path / "out", "--quiet", "--no-speech", "--no-faces", "--no-shots")
    assert r.code == 0, r
    report = tmp_path / "out" / HOSTILE / "report.html"
    for page_path in (report, tmp_path / "out" / "index.html"):
        d = open_page(browser, page_path)
        with pytest.raises(NoAlertPresentException):
            d.switch_to.alert.text                          # noqa: B018 - the onerror handler never ran
        assert d.execute_script("return document.querySelectorAll('[onerror]').length") == 0
        srcs = [img.get_attribute("src") for img in d.find_elements(By.TAG_NAME, "img")]
        assert all(s.startswith("data:image/jpeg;base64,") for s in srcs)
        assert HOSTILE in d.find_element(By.TAG_NAME, "body").text
        assert severe(d) == []
    d = open_page(browser, report)
    assert d.title.startswith(HOSTILE) and d.find_element(By.TAG_NAME, "h1").text == HOSTILE
    # The player found the source through the URL-escaped relative link.
    deadline = time.time() + 15
    while time.time() < deadline and not d.execute_script("return document.getElementById('player').readyState >= 1"):
        time.sleep(0.1)
    assert d.execute_script("return document.getElementById('player').duration") == pytest.approx(18.0, abs=0.1)
    # The index links to the report folder whatever its name.
    d = open_page(browser, tmp_path / "out" / "index.html")
    links = d.find_elements(By.CSS_SELECTOR, "#videos a")
    assert sorted(a.text for a in links) == sorted([HOSTILE, "other"])
    links[[a.text for a in links].index(HOSTILE)].click()
    assert d.find_element(By.TAG_NAME, "h1").text == HOSTILE
    d.save_screenshot(str(tmp_path / "hostile.png"))


def test_index_page_escapes_errors():
    page = render_index_html([{"name": "<a>", "status": "failed", "error": "<script>x</script>: bad"}])
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
