"""The batch's ``index.html``: a library page, self-contained like the reports (no network).

A thumbnail per video, columns sortable by a click, a filter by status, a player, and one search over every video's
transcript, on-screen text and people (:func:`~videolens.report.html.search_entries`, embedded when the page is
written). Every string from the data is escaped as in :mod:`videolens.report.html`.

>>> from videolens.report.library import render_index_html
>>> "&lt;a&gt;" in render_index_html([{"name": "<a>", "status": "failed", "error": "bad"}])
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from .html import _CSS, _SEARCH_JS, _asset, _jpeg_uri, _num, _search_box, esc, json_script, search_entries

# Sorts by a column (numbers from data-v), filters by status, searches, plays a hit in the page.
_INDEX_JS = _asset("library.js")



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
