"""Generated videos with known on-screen text (English, Chinese and both mixed), for bench/text.py and the tests.

Each clip is a few shots (hard cuts between backgrounds: flat colour, gradient, blurred noise, moving shapes) over
which captions come and go, some at a cut and some in the middle of a shot. A caption varies in font (Noto Sans
CJK SC Regular or Bold, Noto Serif CJK SC), size (18-56 px, the font size in pixels), colour and backing (plain
with enough contrast, an outline, a shadow, or a box behind it); one caption per clip may be a ticker moving
sideways at constant speed (it stays whole inside the frame). Some shots have no text at all. The clips are
H.264 (crf 23), so the text has compression artefacts like any real video.

Everything comes from ``numpy.random.default_rng(seed)``: the same seed gives the same clip and truth.
Development seeds (thresholds are chosen on them) are ``DEV_SEEDS``; the test seeds (reported only) are
``TEST_SEEDS``. The truth file (``<clip>.json``):
``{"fps", "frames", "size", "cuts": [seconds], "items": [{"text", "start", "end", "box", "size", "script",
"moving"}]}``; ``start`` is the time of the first frame that shows the text and ``end`` the time of the first frame
that no longer does (the end of the video if it stays), ``box`` its first position.

Needs Debian's ``fonts-noto-cjk`` (``make system`` installs it).

    python bench/text_clips.py OUT_DIR --seed 0
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
FONTS = ["NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc", "NotoSerifCJK-Regular.ttc"]
FONT_INDEX = 2            # the Simplified Chinese face of each collection
DEV_SEEDS = list(range(8))
TEST_SEEDS = list(range(100, 108))

WORDS = ["the", "market", "opens", "at", "news", "report", "weather", "today", "city", "council", "votes", "new", "plan", "for", "school", "sports", "final", "score", "live", "from", "london", "paris", "tokyo", "berlin", "breaking", "update", "traffic", "on", "highway", "rain", "expected", "tonight", "prices", "rise", "energy", "bill", "passes", "team", "wins", "cup", "record", "crowd", "interview", "with", "minister", "health", "care", "budget", "talks", "continue", "north", "south", "east", "west", "river", "bridge", "closed", "station", "airport", "flight", "delayed", "storm", "warning", "issued", "science", "space", "mission", "launch", "music", "festival", "opens", "museum", "art", "show", "film", "review", "election", "results", "coming", "up", "next", "after", "the", "break", "stay", "with", "us", "exclusive", "report"]
CHINESE = ["今天天气晴朗", "欢迎收看新闻联播", "市场开盘上涨", "本台记者现场报道", "明天有小雨", "交通高峰期请注意安全",
           "体育比赛精彩回顾", "科学家发现新物种", "城市公园正式开放", "中秋节快乐", "春节假期安排",
           "人工智能改变生活", "高铁新线路通车", "全国教育工作会议召开", "经济数据持续向好", "文化遗产保护",
           "北京上海广州深圳", "感谢您的收看", "下期节目再见", "独家专访", "直播现场", "航班延误通知",
           "暴雨预警信号", "博物馆新展览", "音乐节今晚开幕", "足球联赛第三轮", "健康生活每一天", "环境保护人人有责",
           "节能减排新政策", "农业丰收在望", "网络安全宣传周", "长江大桥维修施工", "图书馆延长开放时间",
           "志愿者服务活动", "新能源汽车销量增长", "海洋科学考察", "传统手工艺展示", "青少年编程比赛",
           "电影节颁奖典礼", "社区医院免费义诊"]
MIXED = ["2024年GDP增长5.2%", "第3季度销量12万台", "AI大会在上海举行", "CCTV新闻频道", "NBA总决赛第7场",
         "5G网络覆盖全国", "iPhone新品发布会", "北京时间20:30直播", "气温18°C至25°C", "COVID疫苗接种点"]
FPS = 25


def _font(name: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(FONT_DIR / name), size, index=FONT_INDEX)


def require_fonts() -> None:
    missing = [f for f in FONTS if not (FONT_DIR / f).exists()]
    if missing:
        raise FileNotFoundError(f"{FONT_DIR / missing[0]} is missing: install Debian's fonts-noto-cjk")


def _english(rng: np.random.Generator) -> str:
    n = int(rng.integers(2, 6))
    words = [str(rng.choice(WORDS)) for _ in range(n)]
    words[0] = words[0].capitalize()
    if rng.random() < 0.3:
        words[int(rng.integers(len(words)))] = str(rng.choice(["12:30", "3,450", "No.7", "2024", "98%", "$15"]))
    if rng.random() < 0.3:
        words = [w.upper() for w in words]
    text = " ".join(words)
    if rng.random() < 0.3:
        text += str(rng.choice([".", "!", "?", ":"]))
    return text


def _text(rng: np.random.Generator) -> tuple[str, str]:
    r = rng.random()
    if r < 0.45:
        return _english(rng), "en"
    if r < 0.85:
        return str(rng.choice(CHINESE)), "ch"
    return str(rng.choice(MIXED)), "mix"


def _background(rng: np.random.Generator, size: tuple[int, int]) -> dict:
    w, h = size
    kind = str(rng.choice(["flat", "gradient", "noise", "shapes"]))
    c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    if kind == "flat":
        img = np.broadcast_to(c1.astype(np.uint8), (h, w, 3)).copy()
    elif kind == "gradient":
        a = np.linspace(0, 1, w)[None, :, None] if rng.random() < 0.5 else np.linspace(0, 1, h)[:, None, None]
        img = (c1 * (1 - a) + c2 * a).astype(np.uint8) * np.ones((h, w, 1), np.uint8)
    else:
        import cv2

        # Textured like a natural picture: a base colour with blurred blotches, not saturated pixel noise.
        small = np.clip(c1 + rng.normal(0, 50, (h // 12 + 2, w // 12 + 2, 3)), 0, 255).astype(np.uint8)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        img = cv2.GaussianBlur(img, (0, 0), 4)
    shapes = []
    if kind == "shapes":
        for _ in range(int(rng.integers(2, 5))):
            shapes.append({"c": [int(v) for v in rng.integers(0, 256, 3)], "r": int(rng.integers(h // 12, h // 5)),
                           "x": float(rng.uniform(0, w)), "y": float(rng.uniform(0, h)),
                           "vx": float(rng.uniform(-3, 3)), "vy": float(rng.uniform(-2, 2))})
    return {"img": img, "shapes": shapes, "busy": kind in ("noise", "shapes")}


def _sprite(text: str, size: int, rng: np.random.Generator, bg_mean: np.ndarray, busy: bool
            ) -> tuple[np.ndarray, dict]:
    """The caption as an RGBA image and how it was drawn. On a busy background (texture, shapes) a caption has an
    outline, a shadow or a box behind it, as broadcast captions do; plain text only on flat or graded ones."""
    from PIL import Image, ImageDraw

    font = _font(str(rng.choice(FONTS)), size)
    style = str(rng.choice(["outline", "shadow", "box"] if busy else ["plain", "outline", "shadow", "box"]))
    luma = float(bg_mean @ [0.299, 0.587, 0.114])
    if style == "box":
        box_c = rng.integers(0, 256, 3)
        box_l = float(box_c @ [0.299, 0.587, 0.114])
        fg = rng.integers(0, 70, 3) if box_l > 128 else rng.integers(190, 256, 3)
    else:
        fg = rng.integers(0, 60, 3) if luma > 128 else rng.integers(200, 256, 3)
        if rng.random() < 0.4:      # a coloured caption (yellow, cyan...) with the same contrast
            fg[int(rng.integers(3))] = rng.integers(0, 256)
    pad = max(4, size // 4)
    l, t, r, b = font.getbbox(text)
    W, H = r - l + 2 * pad, b - t + 2 * pad
    img = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    xy = (pad - l, pad - t)
    if style == "box":
        d.rectangle([0, 0, W - 1, H - 1], fill=(*[int(v) for v in box_c], 230))
    if style == "shadow":
        off = max(1, size // 16)
        d.text((xy[0] + off, xy[1] + off), text, font=font, fill=(0, 0, 0, 200) if luma <= 128 else (255, 255, 255, 200))
    stroke = max(1, size // 20) if style == "outline" else 0
    sc = (0, 0, 0, 255) if float(fg.mean()) > 128 else (255, 255, 255, 255)
    d.text(xy, text, font=font, fill=(*[int(v) for v in fg], 255), stroke_width=stroke, stroke_fill=sc)
    return np.asarray(img), {"style": style, "font": font.getname()[1], "pad": pad}


def _paste(frame: np.ndarray, sprite: np.ndarray, x: int, y: int) -> None:
    h, w = sprite.shape[:2]
    H, W = frame.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return
    s = sprite[y0 - y:y1 - y, x0 - x:x1 - x]
    a = s[:, :, 3:4].astype(np.float32) / 255.0
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (region * (1 - a) + s[:, :, :3] * a + 0.5).astype(np.uint8)


def plan_clip(seed: int, seconds: float = 20.0, size: tuple[int, int] | None = None) -> dict:
    """The clip's script: shots, captions (with their sprites) and truth, from the seed alone."""
    require_fonts()
    rng = np.random.default_rng(seed)
    if size is None:
        size = [(640, 360), (960, 540), (1280, 720)][int(rng.integers(3))]
    w, h = size
    frames = round(seconds * FPS)
    cuts, f = [], 0
    while True:
        f += int(rng.integers(int(2.5 * FPS), int(6 * FPS)))
        if f >= frames - FPS:
            break
        cuts.append(f)
    bounds = [0, *cuts, frames]
    shots = [{"start": a, "end": b, "bg": _background(rng, size), "text": rng.random() > 0.2 or k == 0}
             for k, (a, b) in enumerate(itertools.pairwise(bounds))]
    items, ticker_done = [], False
    for shot in shots:
        if not shot["text"]:
            continue
        rows: list[tuple[int, int]] = []
        for _ in range(int(rng.integers(1, 4))):
            text, script = _text(rng)
            px = int(rng.choice([18, 22, 24, 28, 32, 40, 48, 56], p=[.06, .06, .18, .18, .18, .14, .1, .1]))
            bg = shot["bg"]["img"]
            sprite, how = _sprite(text, px, rng, bg.reshape(-1, 3).mean(axis=0), shot["bg"]["busy"])
            sh, sw = sprite.shape[:2]
            if sw >= w - 8:
                continue
            y = None
            for _try in range(20):
                cand = int(rng.integers(4, max(5, h - sh - 4)))
                if all(cand + sh + 4 <= a or cand >= b + 4 for a, b in rows):
                    y = cand
                    break
            if y is None:
                continue
            rows.append((y, y + sh))
            moving = not ticker_done and rng.random() < 0.35 and sw < w * 0.6
            ticker_done |= moving
            length = shot["end"] - shot["start"]
            if rng.random() < 0.4 or length < 2 * FPS:       # comes with the cut
                a = shot["start"]
            else:
                a = shot["start"] + int(rng.integers(0, length - FPS))
            b = min(shot["end"], a + int(rng.integers(int(1.5 * FPS), int(6 * FPS))))
            if rng.random() < 0.5:
                b = shot["end"]                             # leaves with the cut
            x = int(rng.integers(4, w - sw - 4))
            vx = 0.0
            if moving:
                travel = w - sw - 8
                vx = float(rng.choice([-1, 1])) * min(travel / max(1, b - a), float(rng.uniform(2, 6)))
                x = 4 if vx > 0 else w - sw - 4
            items.append({"text": text, "script": script, "size": px, "a": a, "b": b, "x": x, "y": y, "vx": vx,
                          "sprite": sprite, "style": how["style"], "pad": how["pad"]})
    return {"seed": seed, "size": size, "frames": frames, "shots": shots, "items": items, "cuts": cuts}


def render_clip(plan: dict, path: str | os.PathLike) -> dict:
    """Write the clip (H.264) and ``<path>.json`` (the truth); returns the truth."""
    import cv2

    from videolens.io.writer import VideoWriter

    w, h = plan["size"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, fps=FPS, size=(w, h), crf=23) as vw:
        for shot in plan["shots"]:
            for f in range(shot["start"], shot["end"]):
                frame = shot["bg"]["img"].copy()
                for s in shot["bg"]["shapes"]:
                    k = f - shot["start"]
                    cv2.circle(frame, (int((s["x"] + s["vx"] * k) % w), int((s["y"] + s["vy"] * k) % h)), s["r"],
                               s["c"], -1)
                for it in plan["items"]:
                    if it["a"] <= f < it["b"]:
                        _paste(frame, it["sprite"], round(it["x"] + it["vx"] * (f - it["a"])), it["y"])
                vw.write(frame)
    truth = {"seed": plan["seed"], "fps": FPS, "frames": plan["frames"], "size": list(plan["size"]),
             "duration": plan["frames"] / FPS, "cuts": [c / FPS for c in plan["cuts"]],
             "items": [{"text": it["text"], "script": it["script"], "size": it["size"], "start": it["a"] / FPS,
                        "end": it["b"] / FPS, "moving": it["vx"] != 0, "style": it["style"],
                        "box": [it["x"], it["y"], it["x"] + it["sprite"].shape[1], it["y"] + it["sprite"].shape[0]],
                        "box_end": [it["x"] + it["vx"] * (it["b"] - 1 - it["a"]), it["y"],
                                    it["x"] + it["vx"] * (it["b"] - 1 - it["a"]) + it["sprite"].shape[1],
                                    it["y"] + it["sprite"].shape[0]]}
                       for it in plan["items"]]}
    path.with_suffix(".json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return truth


def make_clip(seed: int, path: str | os.PathLike, seconds: float = 20.0, size: tuple[int, int] | None = None) -> dict:
    """Plan and render clip ``seed`` into ``path``; returns its truth."""
    return render_clip(plan_clip(seed, seconds, size), path)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, nargs="+", default=[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
    for s in a.seed:
        t = make_clip(s, Path(a.out) / f"text_{s:03d}.mp4", a.seconds)
        print(s, t["size"], len(t["items"]), "items", len(t["cuts"]), "cuts", file=sys.stderr)



# ---- scoring ---------------------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    from videolens.text.engine import normalize_text

    return normalize_text(text)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def score_clip(truth: dict, segments: list[dict], interval: float = 1.0) -> dict:
    """Compare text segments (``{"text", "start", "end", "box"}``) with a clip's truth.

    Each truth item is matched with the segments that overlap it in time and sit on its line (vertical overlap
    of half the height, horizontal overlap with the area it covered); the main one is the longest overlap in time,
    and segments at the same time on the same line (a line read as two boxes) are joined to it, left to right.
    Per item: character errors (Levenshtein, after NFKC and white-space normalisation) against its text, the
    start and end errors of the main segment, and fragments (matched segments beyond the main group). Segments
    that match no item are false; those that lie on frames without any text are ``false_on_blank``.
    """
    from videolens.text.segments import edit_distance

    items, used, out = truth["items"], set(), []
    for it in items:
        x0 = min(it["box"][0], it["box_end"][0])
        x1 = max(it["box"][2], it["box_end"][2])
        y0, y1 = it["box"][1], it["box"][3]
        cands = []
        for k, s in enumerate(segments):
            b = s["box"]
            if _overlap(s["start"], s["end"], it["start"], it["end"]) <= 0:
                continue
            if _overlap(b[1], b[3], y0, y1) < 0.5 * min(b[3] - b[1], y1 - y0) or _overlap(b[0], b[2], x0, x1) <= 0:
                continue
            cands.append(k)
        ref = _norm(it["text"])
        rec = {"text": it["text"], "size": it["size"], "script": it["script"], "moving": it["moving"],
               "chars": len(ref), "start": it["start"], "end": it["end"]}
        if not cands:
            rec.update(read="", errors=len(ref), start_err=None, end_err=None, fragments=0)
            out.append(rec)
            continue
        main = max(cands, key=lambda k: (_overlap(segments[k]["start"], segments[k]["end"], it["start"], it["end"]),
                                          -edit_distance(_norm(segments[k]["text"]), ref)))
        m = segments[main]
        group = sorted([k for k in cands if _overlap(segments[k]["start"], segments[k]["end"], m["start"], m["end"])
                        >= 0.5 * (m["end"] - m["start"])], key=lambda k: segments[k]["box"][0])
        joiner = "" if it["script"] == "ch" else " "
        read = _norm(joiner.join(segments[k]["text"] for k in group))
        used.update(cands)
        rec.update(read=read, errors=edit_distance(read, ref), start_err=round(m["start"] - it["start"], 3),
                   end_err=round(m["end"] - it["end"], 3), fragments=len(cands) - len(group))
        out.append(rec)
    false = [s for k, s in enumerate(segments) if k not in used]
    blank = [s for s in false if not any(_overlap(s["start"], s["end"], it["start"], it["end"]) > 0 for it in items)]
    return {"items": out, "false": false, "false_on_blank": blank, "interval": interval}


def summarize(scores: list[dict], min_size: int = 24) -> dict:
    """Totals over clips: CER of items of ``min_size`` px and more (all, per script, moving), of smaller ones,
    timing within one interval, fragments and false segments."""
    def cer(recs):
        chars = sum(r["chars"] for r in recs)
        return round(sum(r["errors"] for r in recs) / chars, 4) if chars else None

    items = [r for s in scores for r in s["items"]]
    big = [r for r in items if r["size"] >= min_size]
    interval = scores[0]["interval"] if scores else 1.0
    timed = [r for r in big if r["start_err"] is not None]
    starts = [abs(r["start_err"]) for r in timed]
    ends = [abs(r["end_err"]) for r in timed]
    within = sum(abs(r["start_err"]) <= interval + 1e-6 and abs(r["end_err"]) <= interval + 1e-6 for r in timed)
    return {
        "clips": len(scores), "items": len(big), "chars": sum(r["chars"] for r in big),
        "cer": cer(big), "cer_en": cer([r for r in big if r["script"] == "en"]),
        "cer_ch": cer([r for r in big if r["script"] == "ch"]), "cer_mix": cer([r for r in big if r["script"] == "mix"]),
        "cer_moving": cer([r for r in big if r["moving"]]), "missed": sum(r["read"] == "" for r in big),
        "cer_small": cer([r for r in items if r["size"] < min_size]), "small_items": len(items) - len(big),
        "timing_within_interval": f"{within}/{len(timed)}",
        "start_err_mean": round(sum(starts) / len(starts), 3) if starts else None,
        "start_err_max": round(max(starts), 3) if starts else None,
        "end_err_mean": round(sum(ends) / len(ends), 3) if ends else None,
        "end_err_max": round(max(ends), 3) if ends else None,
        "fragments": sum(r["fragments"] for r in big),
        "false_segments": sum(len(s["false"]) for s in scores),
        "false_on_blank": sum(len(s["false_on_blank"]) for s in scores),
    }
