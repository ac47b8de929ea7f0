"""Face identity benchmarks: verification on public face photos, and clustering of GRID speakers.

    .venv/bin/python bench/people.py                   # both parts, ~2 min
    .venv/bin/python bench/people.py --part verification

- ``verification``: every pair of the photos in ``../shared/data/faces/verification`` (61 photos of 13 people from
  deepface's unit-test set; identities from its labelled pairs, ``master.csv`` and ``face-recognition-pivot.csv``:
  photos joined by a same-person pair are one identity, and two identities count as different only where a
  different-person pair says so), plus three frames of each GRID clip (ten clips, nine speakers: ``pwij3p`` and
  ``id2_vcd_swwp2s`` are the same man). Largest face per photo (RetinaFace), :class:`FaceEmbedder`, cosine
  similarity. Reported: TAR at FAR 1e-2 (and 1e-3 where there are >= 3,000 impostor pairs), AUC, and the
  similarity range of genuine and impostor pairs, on the photos alone and with the GRID frames.
- ``clustering``: GRID clips cut together (speakers repeated in non-adjacent shots) through ``analyze``'s faces +
  people analyzers: people found vs speakers, merges, splits; then a gallery of one frame per speaker names the
  people of every clip.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
import tempfile
import time

import numpy as np
from _common import OUT, SHARED, save, table

VERIFY = SHARED / "faces" / "verification"
GRID = SHARED / "speech" / "GRID"
# Identities by eye (frames checked one by one) and by similarity: the two clips of one man share "C".
SPEAKERS = {"bbaf2n": "A", "brbk7n": "B", "id2_vcd_swwp2s": "C", "pwij3p": "C", "lbax4n": "D", "lbbc2a": "E",
            "lrwp9a": "F", "lwbsza": "G", "sbia1a": "H", "sbwe5n": "I", "swiz3n": "J"}


def verification_identities() -> tuple[dict[str, str], set[tuple[str, str]]]:
    """``{file: identity}`` and the identity pairs known to be different people."""
    pairs = {}
    for name in ("master.csv", "face-recognition-pivot.csv"):
        with open(VERIFY / name) as f:
            for r in csv.DictReader(f):
                a, b = os.path.basename(r["file_x"]), os.path.basename(r["file_y"])
                pairs[tuple(sorted((a, b)))] = (r.get("Decision") or r.get("decision")).strip() == "Yes"
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for (a, b), same in pairs.items():
        if same:
            parent[root(a)] = root(b)
    files = sorted({x for p in pairs for x in p})
    ident = {f: root(f) for f in files}
    different = {tuple(sorted((ident[a], ident[b]))) for (a, b), same in pairs.items() if not same}
    return ident, different


def embed_largest(paths_or_frames, detector, embedder) -> np.ndarray:
    """One unit vector per image (its largest face); a zero vector where no face is found."""
    from videolens.detect.augment import read_image
    from videolens.people.gallery import detect_large

    out = []
    for item in paths_or_frames:
        img = read_image(item) if isinstance(item, (str, os.PathLike)) else item
        faces, boxes = detect_large(detector, img)
        if not len(faces):
            out.append(np.zeros(128, np.float32))
            continue
        k = int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
        out.append(embedder.embed(img, boxes[k:k + 1])[0])
    return np.stack(out)


def rates(genuine: np.ndarray, impostor: np.ndarray) -> dict:
    """TAR at FAR 1e-2 / 1e-3 (threshold: the impostor score quantile), AUC (Mann-Whitney)."""
    out = {"genuine_pairs": int(len(genuine)), "impostor_pairs": int(len(impostor))}
    for far in (1e-2, 1e-3):
        if len(impostor) * far < 3 and far < 1e-2:
            continue
        if far == 1e-3 and len(impostor) < 3000:
            continue
        thr = float(np.quantile(impostor, 1 - far, method="higher"))
        out[f"TAR@FAR={far:g}"] = round(float(np.mean(genuine > thr)), 4)
        out[f"threshold@FAR={far:g}"] = round(thr, 4)
    g, i = genuine[:, None], impostor[None, :]
    out["AUC"] = round(float(np.mean(g > i) + 0.5 * np.mean(g == i)), 5)
    out["genuine_min/median"] = f"{genuine.min():.3f} / {np.median(genuine):.3f}"
    out["impostor_median/max"] = f"{np.median(impostor):.3f} / {impostor.max():.3f}"
    for thr in (0.9, 0.93, 0.94, 0.95):
        out[f"TAR/FAR@{thr}"] = f"{np.mean(genuine >= thr):.3f} / {np.mean(impostor >= thr):.4f}"
    return out


def part_verification(args) -> dict:
    from videolens.detect.retina import RetinaFaceDetector
    from videolens.io.reader import VideoReader
    from videolens.people.embed import FaceEmbedder

    detector, embedder = RetinaFaceDetector(threads=None), FaceEmbedder(threads=None)
    ident, different = verification_identities()
    files = sorted(ident)
    t = time.perf_counter()
    photos = embed_largest([VERIFY / "images" / f for f in files], detector, embedder)
    seconds = time.perf_counter() - t
    frames, labels = [], []
    for clip, who in SPEAKERS.items():
        frames += list(VideoReader(GRID / f"{clip}.mpg").get_frames([5, 37, 70]))
        labels += [f"grid:{who}"] * 3
    grid = embed_largest(frames, detector, embedder)
    no_face = [f for f, v in zip(files, photos) if not v.any()] + [f"grid#{k}" for k, v in enumerate(grid) if not v.any()]

    def pairs(vectors, names, known_different):
        gen, imp = [], []
        for a, b in itertools.combinations(range(len(names)), 2):
            s = float(vectors[a] @ vectors[b])
            if names[a] == names[b]:
                gen.append(s)
            elif known_different(names[a], names[b]):
                imp.append(s)
        return np.array(gen), np.array(imp)

    def photo_diff(x, y):
        return x.startswith("grid:") or y.startswith("grid:") or tuple(sorted((x, y))) in different

    names = [ident[f] for f in files]
    rows = [{"set": "photos (deepface tests)", **rates(*pairs(photos, names, photo_diff))},
            {"set": "photos + GRID frames", **rates(*pairs(np.concatenate([photos, grid]), names + labels,
                                                           photo_diff))},
            {"set": "GRID frames only", **rates(*pairs(grid, labels, lambda x, y: True))}]
    for r in rows:
        print(json.dumps(r))
    return {"rows": rows, "no_face": no_face, "photos": len(files), "identities": len(set(names)),
            "ms_per_photo": round(1000 * seconds / len(files), 1)}


def composite(path, segments) -> None:
    """GRID clips cut together: ``segments`` = [(clip, first frame, end frame)]."""
    from videolens.io.reader import VideoReader
    from videolens.io.writer import VideoWriter

    w = VideoWriter(path, fps=25, size=(360, 288), crf=20)
    for clip, a, b in segments:
        for f in VideoReader(GRID / f"{clip}.mpg").get_frames(list(range(a, b))):
            w.write(f)
    w.close()


def part_clustering(args) -> dict:
    from videolens.analyze import AnalyzeConfig, analyze_video
    from videolens.io.reader import VideoReader

    clips = [c for c in SPEAKERS if c != "id2_vcd_swwp2s"]      # one clip per speaker (C: pwij3p)
    # Every speaker twice, in two halves, never in adjacent shots: A1 B1 ... J1, then D2 E2 ... J2 A2 B2 C2.
    first = [(c, 0, 38) for c in clips]
    second = [(clips[(k + 3) % len(clips)], 38, 75) for k in range(len(clips))]
    segments = first + second
    scratch = tempfile.mkdtemp(prefix="vl-bench-people-")
    video = os.path.join(scratch, "grid_composite.mp4")
    composite(video, segments)
    t = time.perf_counter()
    report = analyze_video(video, os.path.join(scratch, "out"), AnalyzeConfig(speech=False, shots=False,
                                                                             motion=False), quiet=True)
    seconds = time.perf_counter() - t
    people = report["people"]["people"]
    # Which speaker is on screen at each person's ranges: segment boundaries in seconds.
    bounds, t0 = [], 0.0
    for c, a, b in segments:
        bounds.append((t0, t0 + (b - a) / 25, SPEAKERS[c]))
        t0 += (b - a) / 25
    # Each shot goes to the person on screen longest during it; a person who gets shots of two speakers is a
    # merge, a speaker whose shots go to two people a split. (Ranges run to the next analyzed frame, so a person
    # can overlap the next shot by up to one analysis interval, 0.48 s here: that is not a merge.)
    owner = []
    for a, b, who in bounds:
        cover = [sum(max(0.0, min(b, r["end"]) - max(a, r["start"])) for r in p["ranges"]) for p in people]
        k = int(np.argmax(cover)) if cover and max(cover) > 0 else -1
        owner.append((who, k, round(max(cover, default=0.0) / (b - a), 2)))
    found = [sorted({who for who, k, _ in owner if k == j}) for j in range(len(people))]
    speakers = sorted(set(SPEAKERS[c] for c in clips))
    merges = sum(1 for w in found if len(w) > 1)
    splits = sum(1 for s in speakers if len({k for who, k, _ in owner if who == s}) > 1)
    unseen = sum(1 for _, k, _ in owner if k < 0)
    r = {"segments": len(segments), "speakers": len(speakers), "people_found": len(people), "merges": merges,
         "splits": splits, "shots_without_person": unseen, "per_person": found,
         "min_share_of_shot_covered": min(c for _, _, c in owner), "seconds": round(seconds, 1),
         "video_seconds": round(t0, 1), "threshold": report["people"]["threshold"]}
    # Gallery: one frame (index 10) of each speaker's clip; then every analyzed face of every clip is named.
    from videolens.people.analyzer import PeopleAnalyzer

    gal = os.path.join(scratch, "gallery")
    import cv2

    for c in clips:
        os.makedirs(os.path.join(gal, SPEAKERS[c]), exist_ok=True)
        f = VideoReader(GRID / f"{c}.mpg").get_frames([10])[0]
        cv2.imwrite(os.path.join(gal, SPEAKERS[c], f"{c}.png"), f[:, :, ::-1])
    from videolens.detect.analyzers import FacesAnalyzer
    from videolens.people.gallery import load_gallery
    from videolens.stream import run_analyzers

    gallery = load_gallery(gal)
    named = {}
    for c in SPEAKERS:
        faces, ppl = FacesAnalyzer(), PeopleAnalyzer(gallery=gallery)
        ppl.bind({"faces": faces})
        res = run_analyzers(str(GRID / f"{c}.mpg"), [faces, ppl], quiet=True).results["people"]
        named[c] = [(p["name"], p["similarity"]) for p in res.people]
    r["gallery_naming"] = named
    r["gallery_correct"] = all(len(v) == 1 and v[0][0] == SPEAKERS[c] for c, v in named.items())
    print(json.dumps(r))
    return r


PARTS = {"verification": part_verification, "clustering": part_clustering}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", default="all", choices=[*PARTS, "all"])
    args = ap.parse_args()
    path = OUT / "people.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for name in (PARTS if args.part == "all" else [args.part]):
        t = time.perf_counter()
        results[name] = {**PARTS[name](args), "seconds_total": round(time.perf_counter() - t, 1),
                         "load_average": round(os.getloadavg()[0], 1),
                         "command": " ".join(["python", *sys.argv])}
    print("saved", save("people", {k: v for k, v in results.items() if k not in ("machine",)}))


if __name__ == "__main__":
    main()
