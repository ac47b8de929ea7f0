"""The HTML report of ``videolens analyze``: one self-contained file that opens from disk with no network.

It holds a player, a timeline (rows for shots, actions, speech, on-screen text, face and object counts, one row per
person with their thumbnail, and motion), a thumbnail per shot (embedded JPEGs) with the text shown on screen during
it, the transcript, a search box over the transcript, the on-screen text and the people's names, and what was skipped
and why. Clicking a person's thumbnail plays their appearances one after the other. Clicking the timeline, a shot, a
line of the transcript or a search hit plays from there; ``report.html#t=12.5`` opens at 12.5 s.
The page is rendered on the server side: every string that comes from the data (file names, labels, transcript)
goes through :func:`html.escape`, the script reads only numbers from ``data-t`` attributes; the search data is JSON
in a ``<script type="application/json">`` block with ``<``, ``>`` and ``&`` escaped, and the script builds hits with
``textContent``: no data ever reaches ``innerHTML``.

The batch's ``index.html`` is a library page (:mod:`videolens.report.library`): a thumbnail per video, sortable
columns, a filter by status, a player, and the same search across every video of the batch.

>>> from videolens.report.html import render_report_html
>>> page = render_report_html({"video": {"name": "a<b", "path": "a<b.mp4", "duration": 3.0, "start_time": 0.0}})
>>> "a&lt;b" in page and "a<b" not in page
True
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
from collections.abc import Sequence
from urllib.parse import quote

from ..utils.files import write_text
from ..utils.timecode import timecode

_PAGE = os.path.join(os.path.dirname(__file__), "page")


def _asset(name: str) -> str:
    """A file of ``report/page/`` (shipped as package data), inlined into every page so that it needs no network."""
    with open(os.path.join(_PAGE, name), encoding="utf-8") as f:
        return f.read()


_CSS = _asset("report.css")
_JS = _asset("report.js")               # reads only numbers (data-t, data-start, data-duration); writes no markup
# The search box of the report and of the batch index. Entries are {k: kind, t: text, s: start, e: end, v: video};
# hits are built with textContent only.
_SEARCH_JS = _asset("search.js")


def esc(value) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _pct(x: float) -> str:
    return f"{max(0.0, min(100.0, x)):.3f}%"


def _num(x) -> str:
    """A number for a data- attribute (never text from the data)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "0"
    return f"{v:.3f}" if math.isfinite(v) else "0"


def _jpeg_uri(data: bytes | None) -> str | None:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii") if data else None


def _color(label: str) -> str:
    """A stable colour per label, so one action keeps its colour along the timeline."""
    h = int(hashlib.md5(str(label).encode("utf-8")).hexdigest()[:6], 16) % 360
    return f"hsl({h},55%,48%)"


def _bins(points: list[tuple[float, float]], start: float, duration: float, bins: int = 400) -> list[float]:
    """Max of ``points`` per bin of the timeline (counts over thousands of frames fit in a few hundred bins).

    A bin with no point holds the value before it: analyzers with a stride sample the timeline sparsely.
    """
    out: list[float | None] = [None] * bins
    for t, v in points:
        k = int((float(t) - start) / duration * bins) if duration > 0 else 0
        k = min(max(k, 0), bins - 1)
        out[k] = float(v) if out[k] is None else max(out[k], float(v))
    last = 0.0
    for k, v in enumerate(out):
        last = out[k] = last if v is None else v
    return out


def _area(values: list[float]) -> str:
    """An SVG area chart (viewBox 0..1000 x 0..100) of values scaled to their maximum."""
    top = max(values) if values else 0
    if not values or top <= 0:
        return ""
    n = len(values)
    d = ["M0,100"]
    for k, v in enumerate(values):
        y = 100 - 92 * v / top
        d.append(f"L{k * 1000 / n:.1f},{y:.1f}L{(k + 1) * 1000 / n:.1f},{y:.1f}")
    d.append("L1000,100Z")
    return f'<svg viewBox="0 0 1000 100" preserveAspectRatio="none"><path d="{"".join(d)}"/></svg>'


def _ticks(start: float, duration: float) -> list[float]:
    """Round times (on the stream's clock, like every time in the report) from ``start`` to ``start + duration``."""
    steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200]
    step = next((s for s in steps if duration / s <= 10), 3600 * math.ceil(duration / 36000))
    first = math.ceil(start / step - 1e-9)
    return [k * step for k in range(first, int((start + duration) // step) + 1)]


def _short_tc(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _row(label: str, inner: str, row_id: str, extra: str = "") -> str:
    return (f'<div class="trow" id="row-{row_id}"><div class="label">{esc(label)}</div>'
            f'<div class="track">{inner}{extra}</div></div>')


def _people_rows(report: dict, rel, thumbs: dict[str, bytes]) -> list[str]:
    """One timeline row per person: their thumbnail and name (click: play their appearances), their ranges."""
    rows = []
    for p in (report.get("people") or {}).get("people") or []:
        ranges = [(float(_num(r.get("start"))), float(_num(r.get("end")))) for r in p.get("ranges") or []
                  if isinstance(r, dict)]
        label = p.get("name") or p.get("id") or "person"
        title = f"{label}: {len(ranges)} appearances, {float(p.get('screen_time') or 0):.1f} s on screen"
        if p.get("similarity") is not None:
            title += f" (gallery similarity {float(p['similarity']):.3f})"
        uri = _jpeg_uri(thumbs.get(str(p.get("id"))))
        img = f'<img src="{uri}" alt="">' if uri else ""
        plan = ";".join(f"{_num(a)},{_num(b)}" for a, b in ranges)
        blocks = "".join(f'<div class="block person" style="left:{_pct(rel(a))};width:{_pct(rel(b) - rel(a))}" '
                         f'data-t="{_num(a)}" title="{esc(label)}"></div>' for a, b in ranges)
        rows.append(f'<div class="trow tall" id="row-person-{esc(p.get("id"))}"><div class="label who" '
                    f'data-ranges="{plan}" title="{esc(title)} — click to play">{img}{esc(label)}</div>'
                    f'<div class="track">{blocks}</div></div>')
    return rows


def _person_thumbnails(report: dict, folder: str | os.PathLike | None) -> dict[str, bytes]:
    """The people's thumbnails (``people/<id>.jpg`` in the video's folder), read to be embedded in the page."""
    out: dict[str, bytes] = {}
    if folder is None:
        return out
    root = os.path.realpath(os.fspath(folder))
    for p in (report.get("people") or {}).get("people") or []:
        rel = p.get("thumbnail")
        if not isinstance(rel, str) or not rel.lower().endswith(".jpg"):
            continue
        path = os.path.realpath(os.path.join(root, rel))
        if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
            continue                      # only files inside the report's own folder
        with open(path, "rb") as f:
            out[str(p.get("id"))] = f.read()
    return out


def _segments(report: dict, section: str) -> list[dict]:
    """``report[section]["segments"]``, or none when that analyzer did not run."""
    return list((report.get(section) or {}).get("segments") or [])


def search_entries(report: dict) -> list[dict]:
    """What the search box searches, each with its times: the transcript's segments (``speech``), the on-screen
    text (``text``) and each time range of each person (``person``, their name, from the ``people`` section when
    it exists).

    >>> search_entries({"text": {"segments": [{"text": "12:30", "start": 1, "end": 2}]}})
    [{'k': 'text', 't': '12:30', 's': 1.0, 'e': 2.0}]
    """
    out = []
    for kind, section in (("speech", "speech"), ("text", "text")):
        for seg in _segments(report, section):
            out.append({"k": kind, "t": str(seg.get("text") or "").strip(), "s": float(_num(seg.get("start"))),
                        "e": float(_num(seg.get("end")))})
    for person in (report.get("people") or {}).get("people") or []:
        name = str(person.get("name") or person.get("id") or "").strip()
        for r in person.get("ranges") or []:
            if isinstance(r, dict):         # the report's data: numbers only, whatever the file holds
                out.append({"k": "person", "t": name, "s": float(_num(r.get("start"))),
                            "e": float(_num(r.get("end")))})
    return [e for e in out if e["t"]]


def json_script(element_id: str, data) -> str:
    """``data`` as JSON in a ``<script type="application/json">`` element: ``<``, ``>`` and ``&`` are escaped, so
    no text in it can close the element or start markup."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def _search_box(placeholder: str) -> str:
    return (f'<input id="q" type="search" autocomplete="off" placeholder="{esc(placeholder)}">'
            f'<div class="note" id="hit-count"></div><ol class="hits" id="hits"></ol>')


def _search_section(report: dict) -> str:
    entries = search_entries(report)
    if not entries:
        return ""
    return (f'<section class="search" id="search"><h2>Search</h2>'
            f'{_search_box("A word spoken or shown on screen, or a person’s name")}'
            f'{json_script("search-data", entries)}</section>')


def _text_row(report: dict, rel) -> str:
    """The timeline row of on-screen text (when the text analyzer ran)."""
    if report.get("text") is None:
        return ""
    blocks = [f'<div class="block textseg" style="left:{_pct(rel(t["start"]))};width:'
              f'{_pct(rel(t["end"]) - rel(t["start"]))}" data-t="{_num(t["start"])}" '
              f'title="{esc(t.get("text", ""))}"></div>' for t in _segments(report, "text")]
    return _row("Text", "".join(blocks), "text")


def _timeline(report: dict, start: float, duration: float, thumbs: dict[str, bytes] | None = None) -> str:
    rel = lambda t: (float(t) - start) / duration * 100 if duration > 0 else 0.0
    rows: list[str] = []
    shots = (report.get("shots") or {}).get("shots")
    if shots is not None:
        blocks = []
        for k, s in enumerate(shots):
            a, b = float(s["start_time"]), float(s["end_time"])
            title = f"Shot {k + 1}: {timecode(a)} – {timecode(b)} (frames {s['start_frame']}–{s['end_frame']})"
            blocks.append(f'<div class="block shot" style="left:{_pct(rel(a))};width:{_pct(rel(b) - rel(a))}" '
                          f'data-t="{_num(a)}" title="{esc(title)}"></div>')
        for tr in report.get("transitions") or []:
            if tr.get("start") != tr.get("end") and tr.get("start_time") is not None:
                a, b = float(tr["start_time"]), float(tr["end_time"])
                blocks.append(f'<div class="block transition" style="left:{_pct(rel(a))};width:'
                              f'{_pct(rel(b) - rel(a))}" data-t="{_num(a)}" title="{esc(tr.get("type"))} '
                              f'{esc(timecode(a))} – {esc(timecode(b))}"></div>')
        rows.append(_row("Shots", "".join(blocks), "shots"))
    actions = report.get("actions")
    if actions is not None:
        blocks = []
        for seg in actions.get("segments") or []:
            a, b = float(seg["start"]), float(seg["end"])
            label = str(seg.get("label", ""))
            score = seg.get("score")
            title = f"{label}" + (f" ({float(score):.2f})" if isinstance(score, (int, float)) else "")
            blocks.append(f'<div class="block action" style="left:{_pct(rel(a))};width:{_pct(rel(b) - rel(a))};'
                          f'background:{_color(label)}" data-t="{_num(a)}" title="{esc(title)}">{esc(label)}</div>')
        rows.append(_row("Actions", "".join(blocks), "actions"))
    speech = report.get("speech")
    if speech is not None:
        blocks = [f'<div class="block speech" style="left:{_pct(rel(s["start"]))};width:'
                  f'{_pct(rel(s["end"]) - rel(s["start"]))}" data-t="{_num(s["start"])}" '
                  f'title="{esc(s.get("text", ""))}"></div>' for s in speech.get("segments") or []]
        rows.append(_row("Speech", "".join(blocks), "speech"))
    text_row = _text_row(report, rel)
    if text_row:
        rows.append(text_row)
    for key, label in (("faces", "Faces"), ("objects", "Objects")):
        sec = report.get(key)
        if sec is not None:
            values = _bins([(c["time"], c["count"]) for c in sec.get("counts") or []], start, duration)
            top = max(values) if values else 0
            rows.append(_row(label, _area(values), key, f'<span class="max">max {esc(f"{top:g}")}</span>'))
        if key == "faces":
            rows += _people_rows(report, rel, thumbs or {})
    motion = report.get("motion")
    if motion is not None:
        values = _bins([(p["second"] + 0.5, p["activity"]) for p in motion.get("per_second") or []], start,
                       duration, bins=max(1, min(400, math.ceil(duration))))
        rows.append(_row("Motion", _area(values), "motion"))
    axis = "".join(f'<span style="left:{_pct(rel(t))}">{esc(_short_tc(t))}</span>' for t in _ticks(start, duration))
    return (f'<div class="timeline" id="timeline" data-start="{_num(start)}" data-duration="{_num(duration)}">'
            f'{"".join(rows)}<div class="axis">{axis}</div><div class="playhead" id="playhead"></div></div>')


def _facts(video: dict) -> str:
    parts = []
    if video.get("display_size"):
        w, h = video["display_size"]
        parts.append(f"{w}×{h}")
    if video.get("fps"):
        parts.append(f"{float(video['fps']):.3f} fps".replace(".000 fps", " fps"))
    if video.get("frames"):
        parts.append(f"{video['frames']} frames")
    parts.append(timecode(float(video.get("duration") or 0)))
    if video.get("codec"):
        parts.append(f"{video.get('container', '')} {video['codec']}".strip())
    audio = video.get("audio") or []
    parts.append(f"audio {', '.join(str(a.get('codec')) for a in audio)}" if audio else "no audio")
    return " · ".join(esc(p) for p in parts)


def _summary_table(report: dict) -> str:
    s = report.get("summary") or {}
    labels = [("shots", "Shots"), ("transitions", "Transitions"), ("faces", "Most faces at once"),
              ("frames_with_faces", "Frames with faces"), ("people", "People"), ("objects", "Object detections"),
              ("tracks", "Tracks"),
              ("actions", "Action segments"), ("speech_seconds", "Speech (s)"), ("words", "Words"),
              ("text_segments", "On-screen texts"), ("mean_activity", "Mean motion")]
    rows = [f"<tr><th>{esc(lab)}</th><td>{esc(s[k])}</td></tr>" for k, lab in labels if s.get(k) is not None]
    t = report.get("timings") or {}
    if t.get("total"):
        rtf = t.get("realtime_factor")
        total = f"{float(t['total']):.1f}"
        rows.append(f"<tr><th>Analysis time</th><td>{esc(total)} s"
                    + (f" ({esc(f'{float(rtf):.1f}')}× real time)" if rtf else "") + "</td></tr>")
        split = [f"decode {float(t.get('decode', 0)):.1f} s"]
        split += [f"{k} {float(v):.1f} s" for k, v in (t.get("analyzers") or {}).items()]
        rows.append(f"<tr><th>Time split</th><td>{esc(', '.join(split))}</td></tr>")
    return f"<table>{''.join(rows)}</table>" if rows else ""


def _skipped(report: dict) -> str:
    items = (report.get("analyzers") or {}).get("skipped") or []
    if not items:
        return ""
    lis = []
    for it in items:
        install = f" — install with <code>{esc(it['install'])}</code>" if it.get("install") else ""
        lis.append(f"<li><b>{esc(it.get('name'))}</b>: {esc(it.get('reason'))}{install}</li>")
    return f'<section class="skipped" id="skipped"><h2>Not analyzed</h2><ul>{"".join(lis)}</ul></section>'


def _shot_texts(texts: list[dict], a: float, b: float, limit: int = 4) -> str:
    """The on-screen text during a shot ``[a, b)``: each distinct text once, in order of appearance."""
    seen: dict[str, float] = {}
    for t in sorted(texts, key=lambda t: (float(t["start"]), (t.get("box") or [0, 0])[1])):
        if float(t["start"]) < b and float(t["end"]) > a:
            seen.setdefault(str(t.get("text", "")), max(a, float(t["start"])))
    if not seen:
        return ""
    items = [f'<li data-t="{_num(t0)}" title="{esc(text)}">{esc(text)}</li>' for text, t0 in list(seen.items())[:limit]]
    if len(seen) > limit:
        items.append(f"<li>… {len(seen) - limit} more</li>")
    return f'<ul class="stext">{"".join(items)}</ul>'


def _shots_section(report: dict, thumbs: Sequence[bytes | None], frames: Sequence[tuple]) -> str:
    shots = (report.get("shots") or {}).get("shots")
    texts = _segments(report, "text")
    cards = []
    if shots:
        for k, s in enumerate(shots):
            uri = _jpeg_uri(thumbs[k] if k < len(thumbs) else None)
            img = f'<img src="{uri}" alt="shot {k + 1}" loading="lazy">' if uri else ""
            length = float(s["end_time"]) - float(s["start_time"])
            cards.append(f'<div class="card" data-t="{_num(s["start_time"])}" data-end="{_num(s["end_time"])}">'
                         f'{img}<div>#{k + 1} · {esc(timecode(s["start_time"]))} · {esc(f"{length:.1f}")} s</div>'
                         f'{_shot_texts(texts, float(s["start_time"]), float(s["end_time"]))}</div>')
        return f'<section id="shots"><h2>Shots ({len(shots)})</h2><div class="shots">{"".join(cards)}</div></section>'
    if frames:
        pick = [frames[round(k * (len(frames) - 1) / 23)] for k in range(24)] if len(frames) > 24 else list(frames)
        for i, t, data in pick:
            cards.append(f'<div class="card" data-t="{_num(t)}"><img src="{_jpeg_uri(data)}" alt="frame {int(i)}" '
                         f'loading="lazy"><div>{esc(timecode(t))}</div></div>')
        return f'<section id="frames"><h2>Frames</h2><div class="shots">{"".join(cards)}</div></section>'
    return ""


def _transcript(report: dict) -> str:
    speech = report.get("speech")
    if speech is None:
        return ""
    segs = speech.get("segments") or []
    lines = [f'<p class="seg" data-t="{_num(s["start"])}" data-end="{_num(s["end"])}"><time>'
             f'{esc(timecode(s["start"]))}</time>{esc(s.get("text", "").strip())}</p>' for s in segs]
    lang = speech.get("language")
    head = "Transcript" + (f" ({esc(lang)})" if lang else "")
    if not lines:
        lines = [f'<p class="full">{esc(speech.get("transcript") or "(no speech found)")}</p>']
    return f'<section class="transcript" id="transcript"><h2>{head}</h2>{"".join(lines)}</section>'


def _text_section(report: dict) -> str:
    """All on-screen text, when there are no shots to list it under."""
    if report.get("text") is None or (report.get("shots") or {}).get("shots"):
        return ""
    segs = _segments(report, "text")
    lines = [f'<p class="seg" data-t="{_num(t["start"])}" data-end="{_num(t["end"])}"><time>'
             f'{esc(timecode(t["start"]))}</time>{esc(t.get("text", ""))}</p>' for t in segs]
    return (f'<section class="transcript" id="screen-text"><h2>On-screen text</h2>'
            f'{"".join(lines) or "<p>(no text found)</p>"}</section>')


def render_report_html(report: dict, *, video_src: str | None = None, shot_thumbnails: Sequence[bytes | None] = (),
                       frames: Sequence[tuple[int, float, bytes]] = (), proxy: bool = False,
                       folder: str | os.PathLike | None = None) -> str:
    """The report page as a string.

    ``video_src``: the player's source, a path relative to the page (the source video or ``proxy.mp4``).
    ``shot_thumbnails``: one JPEG (bytes) per shot. ``frames``: ``(index, time, jpeg)`` thumbnails for a filmstrip
    when there are no shots. ``folder``: the video's output folder, where the people's thumbnails are read from
    (to be embedded: the page stays one file).
    """
    video = report.get("video") or {}
    name = video.get("name") or os.path.splitext(os.path.basename(str(video.get("path", "video"))))[0]
    start = float(video.get("start_time") or 0.0)
    duration = float(video.get("duration") or 0.0) or 1.0
    player = ""
    if video_src:
        src = quote(video_src, safe="/")
        note = "a small H.264 proxy of the source (the browser cannot play its format)" if proxy else \
            "the source file, linked relative to this page (keep them where they are)"
        player = (f'<video id="player" controls preload="metadata" src="{esc(src)}"></video>'
                  f'<div class="note">Playing {note}.</div>')
        if "annotated.mp4" in (report.get("files") or []):
            player += (f'<div class="note" id="sources">Show: <label><input type="radio" name="src" value="{esc(src)}" '
                       f'checked> source</label> <label><input type="radio" name="src" value="annotated.mp4"> '
                       f'annotated</label></div>')
    files = [f for f in report.get("files") or [] if f != "report.html"]
    links = " · ".join(f'<a href="{esc(quote(str(f)))}">{esc(f)}</a>' for f in files)
    body = (
        f'<header><h1>{esc(name)}</h1><div class="facts">{esc(video.get("path", ""))}<br>{_facts(video)}</div></header>'
        f'<main>{_skipped(report)}'
        f'<section class="top"><div>{player}</div><div><h2>Summary</h2>{_summary_table(report)}</div></section>'
        f'{_search_section(report)}'
        f'<section><h2>Timeline</h2>{_timeline(report, start, duration, _person_thumbnails(report, folder))}'
        f'<div class="note">Click anywhere on the timeline, a shot or a line of the transcript to play from there;'
        f' click a person to play their appearances.</div></section>'
        f'{_shots_section(report, shot_thumbnails, frames)}{_transcript(report)}{_text_section(report)}'
        + (f'<section id="files"><h2>Files</h2>{links}</section>' if links else "")
        + f'<div class="note">videolens {esc(report.get("videolens", ""))} · report format '
        f'{esc(report.get("version", ""))} · {esc(report.get("created", ""))} · data in report.json</div></main>'
    )
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>{esc(name)} — videolens report</title><style>{_CSS}</style></head>'
            f'<body>{body}<script>{_SEARCH_JS}{_JS}</script></body></html>\n')


def write_report_html(report: dict, path: str | os.PathLike, **kwargs) -> None:
    """Write :func:`render_report_html` to ``path`` atomically."""
    write_text(path, render_report_html(report, **kwargs))


def render_index_html(*args, **kwargs) -> str:
    """The batch's library page: :func:`videolens.report.library.render_index_html` (kept here by its old name)."""
    from .library import render_index_html as render

    return render(*args, **kwargs)
