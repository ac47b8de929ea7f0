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

The batch's ``index.html`` (:func:`render_index_html`) is a library page: a thumbnail per video, sortable columns,
a filter by status, a player, and the same search across every video of the batch.

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
from pathlib import Path
from urllib.parse import quote

from ..utils.files import write_text
from ..utils.timecode import timecode

_CSS = """
:root{--bg:#f6f7f9;--fg:#1d2330;--mute:#687083;--line:#dde1e8;--accent:#2f6fde;--card:#fff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
background:var(--bg);color:var(--fg)}header{background:#1d2330;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:18px;font-weight:600;word-break:break-all}header .facts{color:#c5cbd8;margin-top:4px}
main{padding:16px 24px;max-width:1400px;margin:auto}section{background:var(--card);border:1px solid var(--line);
border-radius:8px;padding:12px 16px;margin-bottom:16px}h2{font-size:15px;margin:0 0 10px}
.top{display:grid;grid-template-columns:minmax(280px,520px) 1fr;gap:16px;align-items:start}
video{width:100%;background:#000;border-radius:6px}.note{color:var(--mute);font-size:12px}
table{border-collapse:collapse}td,th{padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{color:var(--mute);font-weight:500}.skipped{background:#fff7e6;border-color:#f0d49a}
.skipped code{background:#f3ead7;padding:1px 4px;border-radius:3px}
.timeline{position:relative;user-select:none}.trow{display:flex;align-items:stretch;height:30px;margin:3px 0}
.trow .label{width:92px;flex:none;color:var(--mute);font-size:12px;padding-top:7px}
.track{position:relative;flex:1;background:#eef0f4;border-radius:3px;cursor:pointer;overflow:hidden}
.block{position:absolute;top:3px;bottom:3px;min-width:1px;border-radius:2px;overflow:hidden;white-space:nowrap;
font-size:11px;color:#fff;padding:0 3px;line-height:24px}.shot{background:#4a78c2}.shot:nth-child(even){background:#7ea3e0}
.transition{background:repeating-linear-gradient(45deg,#e38b2c,#e38b2c 3px,#f3c48e 3px,#f3c48e 6px);top:0;bottom:0}
.speech{background:#3c9d6b}.action{background:#8a5cc7}.track svg{position:absolute;inset:0;width:100%;height:100%}
.track svg path{fill:#d0694a;fill-opacity:.55;stroke:#b24a2c;stroke-width:1;vector-effect:non-scaling-stroke}
.track .max{position:absolute;right:4px;top:2px;font-size:10px;color:var(--mute)}
.axis{position:relative;height:18px;margin-left:92px;font-size:10px;color:var(--mute)}
.axis span{position:absolute;transform:translateX(-50%)}.axis span:first-child{transform:none}
.playhead{position:absolute;top:0;bottom:0;width:2px;background:#e0245e;pointer-events:none;left:92px}
.shots{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.card{cursor:pointer;border:1px solid var(--line);border-radius:6px;overflow:hidden;background:#fafbfc}
.card img{display:block;width:100%;background:#ccc}.card div{padding:4px 6px;font-size:12px;color:var(--mute)}
.card.now{outline:2px solid var(--accent)}.transcript p{margin:3px 0;cursor:pointer}
.transcript p.now{background:#e6efff}.transcript time{color:var(--mute);font-variant-numeric:tabular-nums;margin-right:8px}
.full{white-space:pre-wrap;color:var(--fg)}.person{background:#c2577a}
.trow .label.who{display:flex;align-items:center;gap:4px;cursor:pointer;padding-top:0;overflow:hidden;
white-space:nowrap;text-overflow:ellipsis}.who img{height:28px;width:auto;border-radius:3px;flex:none}
.who.now{color:var(--accent);font-weight:600}.trow.tall{height:32px}
.full{white-space:pre-wrap;color:var(--fg)}.textseg{background:#c2884a}
.stext{list-style:none;margin:0;padding:0 6px 4px;font-size:12px;color:var(--fg)}
.stext li{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;cursor:pointer}
.search input{width:100%;max-width:520px;padding:6px 8px;font:inherit;border:1px solid var(--line);border-radius:5px}
.hits{list-style:none;margin:8px 0 0;padding:0;max-height:360px;overflow:auto}
.hit{padding:3px 4px;cursor:pointer;border-bottom:1px solid #f0f1f4}.hit:hover{background:#e6efff}
.hit time{color:var(--mute);font-variant-numeric:tabular-nums;margin-right:8px}
.hit .kind{display:inline-block;min-width:64px;font-size:11px;color:#fff;border-radius:3px;padding:0 4px;
margin-right:8px;text-align:center}.kind.speech{background:#3c9d6b}.kind.text{background:#c2884a}
.kind.person{background:#8a5cc7}.hit .vname{font-weight:600;margin-right:8px}mark{background:#ffe27a;padding:0}
@media (max-width:800px){.top{grid-template-columns:1fr}}
"""

# Reads only numbers (data-t, data-start, data-duration) and never writes markup.
_JS = """
(function(){
  var v=document.getElementById('player'), tl=document.getElementById('timeline');
  var start=parseFloat(tl.dataset.start)||0, dur=parseFloat(tl.dataset.duration)||1;
  function seek(t){ if(!v||!isFinite(t)) return; try{ v.currentTime=Math.max(0,t); }catch(e){} }
  document.querySelectorAll('[data-t]').forEach(function(el){
    el.addEventListener('click',function(ev){ ev.stopPropagation(); seek(parseFloat(el.dataset.t)); });
  });
  document.querySelectorAll('.track').forEach(function(tr){
    tr.addEventListener('click',function(ev){
      var r=tr.getBoundingClientRect(); seek(start+dur*Math.min(1,Math.max(0,(ev.clientX-r.left)/r.width)));
    });
  });
  var head=document.getElementById('playhead'), segs=[].slice.call(document.querySelectorAll('.seg')),
      cards=[].slice.call(document.querySelectorAll('.card[data-end]'));
  function mark(list,t){ list.forEach(function(el){
      var on=t>=parseFloat(el.dataset.t)&&t<parseFloat(el.dataset.end); el.classList.toggle('now',on); }); }
  document.querySelectorAll('#sources input').forEach(function(inp){
    inp.addEventListener('change',function(){
      var t=v.currentTime, paused=v.paused;
      v.addEventListener('loadedmetadata',function(){ seek(t); if(!paused) v.play(); },{once:true});
      v.src=inp.value;
    });
  });
  // A person's appearances, one after the other: data-ranges holds "start,end;start,end" (numbers only).
  var plan=null, step=0, who=null;
  document.querySelectorAll('.who[data-ranges]').forEach(function(el){
    el.addEventListener('click',function(ev){
      ev.stopPropagation();
      plan=el.dataset.ranges.split(';').map(function(r){ return r.split(',').map(parseFloat); })
        .filter(function(r){ return r.length===2&&isFinite(r[0])&&isFinite(r[1]); });
      if(who) who.classList.remove('now'); who=el; el.classList.add('now');
      step=0; if(plan.length){ seek(plan[0][0]); v.play(); }
    });
  });
  if(v) v.addEventListener('timeupdate',function(){
    if(plan&&step<plan.length&&v.currentTime>=plan[step][1]){
      step++;
      if(step<plan.length){ seek(plan[step][0]); } else { v.pause(); plan=null; if(who) who.classList.remove('now'); }
    }
  });
  if(v) v.addEventListener('timeupdate',function(){
    var t=v.currentTime, f=Math.min(1,Math.max(0,(t-start)/dur)), first=tl.querySelector('.track');
    if(head&&first){ head.style.left=(first.offsetLeft+f*first.offsetWidth)+'px'; }
    mark(segs,t); mark(cards,t);
  });
  function play(t){ seek(t); if(v){ var p=v.play(); if(p&&p.catch) p.catch(function(){}); } }
  var m=/[#&]t=([0-9.]+)/.exec(location.hash);
  if(v&&m){ var t0=parseFloat(m[1]);
    if(v.readyState>=1) play(t0); else v.addEventListener('loadedmetadata',function(){ play(t0); },{once:true}); }
  var data=document.getElementById('search-data');
  if(data) vlSearch(JSON.parse(data.textContent), [], function(e){ play(e.s); });
})();
"""

# The search box of the report and of the batch index. Entries are {k: kind, t: text, s: start, e: end, v: video};
# hits are built with textContent only.
_SEARCH_JS = """
function vlSearch(entries, videos, pick){
  var input=document.getElementById('q'), list=document.getElementById('hits'), count=document.getElementById('hit-count');
  var LABEL={speech:'speech', text:'on screen', person:'person'};
  function norm(x){ return String(x||'').normalize('NFKC').toLowerCase(); }
  function fmt(t){ t=Math.max(0,t); var m=Math.floor(t/60), s=t-60*m; return m+':'+(s<10?'0':'')+s.toFixed(1); }
  entries.forEach(function(e){ e.d=String(e.t||'').normalize('NFKC'); e.n=e.d.toLowerCase(); });
  function run(){
    var q=norm(input.value).trim(); list.textContent='';
    if(!q){ count.textContent=''; return; }
    var hits=entries.filter(function(e){ return e.n.indexOf(q)>=0; });
    hits.sort(function(a,b){ return (a.v||0)-(b.v||0) || a.s-b.s; });
    count.textContent=hits.length+(hits.length==1?' hit':' hits')+(hits.length>500?' (first 500 shown)':'');
    hits.slice(0,500).forEach(function(e){
      var li=document.createElement('li'); li.className='hit'; li.dataset.start=e.s; li.dataset.end=e.e;
      li.dataset.kind=e.k; if(e.v!==undefined) li.dataset.video=e.v;
      var tm=document.createElement('time'); tm.textContent=fmt(e.s)+'–'+fmt(e.e); li.appendChild(tm);
      var kd=document.createElement('span'); kd.className='kind '+e.k; kd.textContent=LABEL[e.k]||e.k; li.appendChild(kd);
      if(videos.length){ var vn=document.createElement('span'); vn.className='vname';
        vn.textContent=videos[e.v].name; li.appendChild(vn); }
      var tx=document.createElement('span'); tx.className='htext'; var k=e.n.indexOf(q);
      if(e.n.length==e.d.length&&k>=0){
        tx.appendChild(document.createTextNode(e.d.slice(0,k)));
        var mk=document.createElement('mark'); mk.textContent=e.d.slice(k,k+q.length); tx.appendChild(mk);
        tx.appendChild(document.createTextNode(e.d.slice(k+q.length)));
      } else tx.textContent=e.d;
      li.appendChild(tx);
      li.addEventListener('click',function(){ pick(e); });
      list.appendChild(li);
    });
  }
  input.addEventListener('input',run);
  if(input.value) run();
}
"""


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
            out.append({"k": kind, "t": str(seg.get("text") or "").strip(), "s": float(seg["start"]),
                        "e": float(seg["end"])})
    for person in (report.get("people") or {}).get("people") or []:
        name = str(person.get("name") or person.get("id") or "").strip()
        for r in person.get("ranges") or []:
            out.append({"k": "person", "t": name, "s": float(r["start"]), "e": float(r["end"])})
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


# The library page: sort by a column (numbers from data-v), filter by status, search, play a hit in the page.
_INDEX_JS = """
(function(){
  var table=document.getElementById('videos'), body=table.tBodies[0], filter=document.getElementById('status-filter');
  var v=document.getElementById('player'), now=document.getElementById('now-playing');
  var videos=JSON.parse(document.getElementById('videos-data').textContent);
  table.querySelectorAll('th[data-sort]').forEach(function(th, col){
    th.addEventListener('click',function(){
      var k=th.cellIndex, asc=th.dataset.dir!=='asc', num=th.dataset.sort==='num';
      table.querySelectorAll('th').forEach(function(h){ delete h.dataset.dir; });
      th.dataset.dir=asc?'asc':'desc';
      var rows=[].slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[k].dataset.v, y=b.cells[k].dataset.v, r;
        if(num){ x=x===''?-Infinity:parseFloat(x); y=y===''?-Infinity:parseFloat(y); r=x-y; }
        else r=String(x).localeCompare(String(y));
        return asc?r:-r;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
  filter.addEventListener('change',function(){
    [].forEach.call(body.rows,function(r){ r.hidden=!!filter.value&&r.dataset.status!==filter.value; });
  });
  function play(e){
    var vid=videos[e.v]; if(!vid||!vid.src||!v) return;
    now.textContent=vid.name;
    var go=function(){ try{ v.currentTime=Math.max(0,e.s); }catch(x){} var p=v.play(); if(p&&p.catch) p.catch(function(){}); };
    if(v.dataset.video===String(e.v)&&v.readyState>=1) go();
    else { v.dataset.video=String(e.v); v.preload='auto'; v.addEventListener('loadedmetadata',go,{once:true});
           v.src=vid.src; v.load(); }
  }
  vlSearch(JSON.parse(document.getElementById('search-data').textContent), videos, play);
})();
"""

# Columns of the library page besides the video, its status and the time taken: (summary key, title).
LIBRARY_COLUMNS = [("duration", "Duration (s)"), ("shots", "Shots"), ("people", "People"),
                   ("speech_seconds", "Speech (s)"), ("text_segments", "On-screen text")]


def library_entry(row: dict, root: str | os.PathLike | None) -> dict:
    """What the library page shows of one video beyond its summary row, read from its folder: the thumbnail, the
    player's source (relative to ``root``), the number of people, and its search entries."""
    out = {"thumbnail": None, "src": None, "people": None, "entries": []}
    report_html = row.get("report")
    if not report_html or row.get("status") not in ("ok", "skipped"):
        return out
    folder = os.path.dirname(os.fspath(report_html))
    try:
        with open(os.path.join(folder, "report.json"), encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError):
        return out
    try:
        with open(os.path.join(folder, "thumbnail.jpg"), "rb") as f:
            out["thumbnail"] = f.read()
    except OSError:
        pass
    people = report.get("people")
    if isinstance(people, dict) and isinstance(people.get("people"), list):
        out["people"] = len(people["people"])
    out["entries"] = search_entries(report)
    if root is not None:
        base = os.path.abspath(root)
        if "proxy.mp4" in (report.get("files") or []):
            target = os.path.join(folder, "proxy.mp4")
        else:
            target = row.get("video") or (report.get("video") or {}).get("path") or ""
        out["src"] = Path(os.path.relpath(os.path.abspath(target), base)).as_posix() if target else None
    return out


def render_index_html(rows: list[dict], numbers: Sequence[str] = ("shots", "faces", "speech_seconds"),
                      title: str = "videolens analyze", root: str | os.PathLike | None = None) -> str:
    """The batch's library page: one line per video (a thumbnail, a link to its report, its status and ``numbers``,
    summary keys, with duration, shots, people, speech and on-screen text always), sortable by any column and
    filtered by status; a player; and a search across every video's transcript, on-screen text and people.

    ``root``: the folder the page is written to (the player's sources are relative to it); without it the videos'
    folders are not read (no thumbnails, no search data).
    """
    ok = sum(r.get("status") in ("ok", "skipped") for r in rows)
    fixed = [k for k, _ in LIBRARY_COLUMNS]
    extra = [k for k in numbers if k not in fixed]
    columns = [*LIBRARY_COLUMNS, *((k, k.replace("_", " ").capitalize()) for k in extra)]
    entries, videos, trs = [], [], []
    for n, r in enumerate(rows):
        info = library_entry(r, root) if root is not None else {"thumbnail": None, "src": None, "people": None,
                                                                 "entries": []}
        name = str(r.get("name", ""))
        videos.append({"name": name, "src": info["src"]})
        entries += [{**e, "v": n} for e in info["entries"]]
        done = r.get("status") in ("ok", "skipped")
        link = f'<a href="{esc(quote(name))}/report.html">{esc(name)}</a>' if done else esc(name)
        uri = _jpeg_uri(info["thumbnail"])
        thumb = f'<img class="thumb" src="{uri}" alt="" loading="lazy">' if uri else ""
        values = dict(r)
        if values.get("people") is None:
            values["people"] = info["people"]
        cells = [f'<td class="tcell">{thumb}</td>', f'<td data-v="{esc(name)}">{link}</td>',
                 f'<td data-v="{esc(r.get("status"))}">{esc(r.get("status"))}</td>']
        for k, _ in columns:
            v = values.get(k)
            cells.append(f'<td data-v="{_num(v) if isinstance(v, (int, float)) else ""}">{esc(_fmt(v))}</td>')
        cells.append(f'<td data-v="{_num(r.get("seconds"))}">{esc(_fmt(r.get("seconds")))}</td>')
        cells.append(f'<td data-v="{esc(r.get("error") or "")}">{esc(r.get("error") or "")}</td>')
        trs.append(f'<tr data-status="{esc(r.get("status"))}">{"".join(cells)}</tr>')
    heads = ['<th></th>', '<th data-sort="text">Video</th>', '<th data-sort="text">Status</th>']
    heads += [f'<th data-sort="num">{esc(t)}</th>' for _, t in columns]
    heads += ['<th data-sort="num">Time taken (s)</th>', '<th data-sort="text">Error</th>']
    statuses = sorted({str(r.get("status")) for r in rows})
    options = '<option value="">all</option>' + "".join(f'<option value="{esc(st)}">{esc(st)}</option>'
                                                        for st in statuses)
    css = (f"{_CSS} td,th{{border-bottom:1px solid var(--line);padding:4px 12px 4px 0}}"
           "th[data-sort]{cursor:pointer}th[data-dir=asc]::after{content:' ▲'}th[data-dir=desc]::after{content:' ▼'}"
           ".thumb{display:block;height:54px;border-radius:3px}.lib{display:grid;grid-template-columns:"
           "minmax(280px,480px) 1fr;gap:16px;align-items:start}@media (max-width:800px){.lib{grid-template-columns:1fr}}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{esc(title)}</title>'
            f'<style>{css}</style></head><body>'
            f'<header><h1>{esc(title)}</h1><div class="facts">{len(rows)} videos, {ok} done, '
            f'{len(rows) - ok} failed</div></header><main>'
            f'<section class="lib"><div><video id="player" controls preload="none"></video>'
            f'<div class="note">Playing: <span id="now-playing">nothing yet: click a search hit</span></div></div>'
            f'<div class="search" id="search"><h2>Search every video</h2>'
            f'{_search_box("A word spoken or shown on screen, or a person’s name")}</div></section>'
            f'<section><label class="note">Status <select id="status-filter">{options}</select></label>'
            f'<table id="videos"><thead><tr>{"".join(heads)}</tr></thead><tbody>{"".join(trs)}</tbody></table>'
            f'</section></main>{json_script("search-data", entries)}{json_script("videos-data", videos)}'
            f'<script>{_SEARCH_JS}{_INDEX_JS}</script></body></html>\n')


def _fmt(v) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)
