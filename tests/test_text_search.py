"""`videolens analyze --text` and the search of the HTML report and of the batch's library page, in headless
Chromium: a word spoken in one video and shown on screen in another is found in both, at the right times, and a
hit plays from there. Real runs: espeak-ng speech through Whisper, a caption drawn with the Noto CJK font through
PP-OCRv4.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import require
from test_report_html import open_page, severe
from test_text import FONT, need_ocr

SPOKEN = "the weather in paris is lovely today"
CAPTION, CAPTION_AT = "Live from Paris", (2.0, 5.0)
CHINESE = "欢迎收看新闻"


def _speech_video(path: Path) -> tuple[float, float]:
    from videolens.io.writer import VideoWriter
    from videolens.speech.synth import espeak_available, synth_speech

    if not espeak_available():
        pytest.fail("espeak-ng is not installed (make setup installs it)")
    [(a, b)] = synth_speech(path.with_suffix(".wav"), [(1.0, SPOKEN)], duration=6.0)
    with VideoWriter(path, fps=10, size=(320, 180), audio_from=path.with_suffix(".wav")) as w:
        for _ in range(60):
            w.write(np.full((180, 320, 3), (30, 40, 90), np.uint8))
    return a, b


def _caption_video(path: Path) -> None:
    """6 s at 640x360: a Chinese title all along, the English caption from 2 s to 5 s, a cut at 3 s."""
    from PIL import Image, ImageDraw, ImageFont

    from videolens.io.writer import VideoWriter

    font = ImageFont.truetype(str(FONT), 32, index=2)
    with VideoWriter(path, fps=10, size=(640, 360)) as w:
        for i in range(60):
            img = Image.new("RGB", (640, 360), (200, 190, 170) if i < 30 else (60, 110, 70))
            d = ImageDraw.Draw(img)
            d.text((40, 30), CHINESE, font=font, fill=(20, 20, 20) if i < 30 else (250, 250, 250))
            if CAPTION_AT[0] <= i / 10 < CAPTION_AT[1]:
                d.rectangle([30, 280, 330, 330], fill=(0, 0, 0))
                d.text((40, 284), CAPTION, font=font, fill=(255, 255, 0))
            w.write(np.asarray(img))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    need_ocr()
    require("faster_whisper", "the speech extra")
    from conftest import run_cli

    d = tmp_path_factory.mktemp("search")
    speech_span = _speech_video(d / "talk.mp4")
    _caption_video(d / "news.mp4")
    r = run_cli("analyze", d / "talk.mp4", d / "news.mp4", "-o", d / "out", "--text", "--no-faces", "--quiet")
    assert r.code == 0, r
    return d / "out", speech_span


def test_analyze_text_section_files_and_page(batch, browser):
    from selenium.webdriver.common.by import By

    from videolens.analyze import validate_report

    out, _ = batch
    news = json.loads((out / "news" / "report.json").read_text(encoding="utf-8"))
    validate_report(news)
    segs = news["text"]["segments"]
    texts = [s["text"] for s in segs]
    assert CAPTION in texts and CHINESE in texts, segs
    cap = segs[texts.index(CAPTION)]
    assert abs(cap["start"] - CAPTION_AT[0]) <= 1.0 and abs(cap["end"] - CAPTION_AT[1]) <= 1.0
    assert cap["start"] == pytest.approx(CAPTION_AT[0], abs=0.11)      # read at 2.0 s: on the 1 s grid
    assert news["summary"]["text_segments"] == len(segs)
    assert {"text.json", "text.srt", "thumbnail.jpg"} <= set(news["files"])
    assert json.loads((out / "news" / "text.json").read_text(encoding="utf-8"))["segments"] == segs
    talk = json.loads((out / "talk" / "report.json").read_text(encoding="utf-8"))
    assert talk["text"]["segments"] == []                              # plain frames: no text invented

    d = open_page(browser, out / "news" / "report.html")
    assert severe(d) == []
    assert len(d.find_elements(By.CSS_SELECTOR, "#row-text .textseg")) == len(segs)
    cards = d.find_elements(By.CSS_SELECTOR, "#shots .card")
    assert len(cards) == len(news["shots"]["shots"]) >= 2 and CHINESE in cards[0].text
    for card in cards:          # the caption is listed under the shots it is on, and only those
        a, b = float(card.get_attribute("data-t")), float(card.get_attribute("data-end"))
        assert (CAPTION in card.text) == (a < cap["end"] and b > cap["start"]), (a, b, card.text)

def _search(d, word: str) -> list[dict]:
    from selenium.webdriver.common.by import By

    box = d.find_element(By.ID, "q")
    box.clear()
    box.send_keys(word)
    return d.execute_script("""return [].map.call(document.querySelectorAll('#hits .hit'), function(li){
        return {kind: li.dataset.kind, start: parseFloat(li.dataset.start), end: parseFloat(li.dataset.end),
                video: li.dataset.video, text: li.querySelector('.htext').textContent,
                name: (li.querySelector('.vname') || {}).textContent}; });""")


def _wait_playing_at(d, t: float) -> float:
    """Where the player started playing the stretch it is in now: the start of the ``played`` range around its
    current time (a page that started at 0 and played on past ``t`` shows 0 here, whatever the machine's load)."""
    deadline = time.time() + 15
    start = -1.0
    while time.time() < deadline:
        start = d.execute_script(
            "var v = document.getElementById('player'); if (v.readyState < 1) return -1;"
            "for (var i = 0; i < v.played.length; i++) {"
            "  if (v.played.start(i) <= v.currentTime + 0.01 && v.currentTime <= v.played.end(i) + 0.01)"
            "    return v.played.end(i) > v.played.start(i) ? v.played.start(i) : -1; }"
            "return -1;")
        if start >= 0 and start >= t - 0.3:
            break
        time.sleep(0.1)
    return start


def test_library_page_finds_a_word_spoken_in_one_video_and_shown_in_another(batch, browser):
    from selenium.webdriver.common.by import By

    out, (said_at, _) = batch
    d = open_page(browser, out / "index.html")
    assert severe(d) == []
    # Library: a thumbnail per video, sortable columns, a filter by status.
    assert len(d.find_elements(By.CSS_SELECTOR, "#videos tbody img.thumb")) == 2
    heads = [h.text for h in d.find_elements(By.CSS_SELECTOR, "#videos th")]
    for col in ("Duration (s)", "Shots", "People", "Speech (s)", "On-screen text", "Status"):
        assert col in heads
    names = lambda: [r.find_elements(By.TAG_NAME, "td")[1].text for r in d.find_elements(By.CSS_SELECTOR,
                                                                                         "#videos tbody tr")]
    speech_col = d.find_elements(By.CSS_SELECTOR, "#videos th")[heads.index("Speech (s)")]
    speech_col.click()
    assert names() == ["news", "talk"]          # ascending: no speech first
    speech_col.click()
    assert names() == ["talk", "news"]
    from selenium.webdriver.support.ui import Select

    Select(d.find_element(By.ID, "status-filter")).select_by_value("ok")
    assert all(r.is_displayed() for r in d.find_elements(By.CSS_SELECTOR, "#videos tbody tr"))

    hits = _search(d, "PARIS")
    by_kind = {h["kind"]: h for h in hits}
    assert sorted(by_kind) == ["speech", "text"], hits
    assert by_kind["speech"]["name"] == "talk" and "paris" in by_kind["speech"]["text"].lower()
    assert abs(by_kind["speech"]["start"] - said_at) <= 1.0
    assert by_kind["text"]["name"] == "news" and by_kind["text"]["text"] == CAPTION
    assert by_kind["text"]["start"] == pytest.approx(CAPTION_AT[0], abs=0.11)
    assert d.find_elements(By.CSS_SELECTOR, "#hits mark")[0].text.lower() == "paris"
    assert _search(d, "欢迎")[0]["text"] == CHINESE

    # Clicking a hit plays that video from there, in the page.
    _search(d, "paris")
    d.find_elements(By.CSS_SELECTOR, "#hits .hit[data-kind=text]")[0].click()
    assert _wait_playing_at(d, CAPTION_AT[0]) == pytest.approx(CAPTION_AT[0], abs=0.3)
    assert d.execute_script("return document.getElementById('player').currentSrc").endswith("news.mp4")
    assert d.find_element(By.ID, "now-playing").text == "news"
    assert severe(d) == []


def test_report_search_plays_from_a_hit(batch, browser):
    from selenium.webdriver.common.by import By

    out, (said_at, _) = batch
    d = open_page(browser, out / "talk" / "report.html")
    hits = _search(d, "paris")
    assert [h["kind"] for h in hits] == ["speech"] and abs(hits[0]["start"] - said_at) <= 1.0
    d.find_element(By.CSS_SELECTOR, "#hits .hit").click()
    assert _wait_playing_at(d, hits[0]["start"]) == pytest.approx(hits[0]["start"], abs=0.3)
    # report.html#t=3 opens at 3 s.
    d.get((out / "news" / "report.html").as_uri() + "#t=3")
    assert _wait_playing_at(d, 3.0) == pytest.approx(3.0, abs=0.3)


def test_search_data_cannot_inject_markup(browser, tmp_path):
    """Texts, names and transcript that look like markup stay text in the page and in the hits."""
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    from videolens.report.html import write_report_html

    evil = '</script><img src=x onerror=alert(1)>&amp;'
    report = {"video": {"name": "x", "duration": 5.0, "start_time": 0.0},
              "speech": {"segments": [{"start": 0.5, "end": 1.0, "text": "say " + evil}]},
              "text": {"segments": [{"text": "shown " + evil, "start": 1.0, "end": 2.0, "box": [0, 0, 9, 9],
                                     "confidence": 0.9}]},
              "people": {"people": [{"id": 1, "name": "Ann " + evil, "ranges": [{"start": 3.0, "end": 4.0}]}]}}
    write_report_html(report, tmp_path / "report.html")
    d = open_page(browser, tmp_path / "report.html")
    hits = _search(d, "onerror")
    assert [h["kind"] for h in hits] == ["speech", "text", "person"]
    assert hits[2]["text"] == "Ann " + evil and hits[2]["start"] == 3.0
    assert d.execute_script("return document.querySelectorAll('img').length") == 0
    with pytest.raises(NoAlertPresentException):
        d.switch_to.alert.text                          # noqa: B018
    assert d.find_element(By.CSS_SELECTOR, "#row-text .textseg").get_attribute("title") == "shown " + evil
    assert "shown " + evil in d.find_element(By.ID, "screen-text").text
