"""``videolens people enroll``: a gallery of known people from a folder of photos, for ``--people GALLERY``.

Nothing here imports the people packages (dlib, ONNX Runtime) until the command runs.
"""

from __future__ import annotations

import argparse

from ._common import add_quiet_json, emit, error


def _add_people(sub) -> None:
    p = sub.add_parser("people", help="known people: build a face gallery for 'analyze/detect --people'",
                       description="Known people for 'videolens analyze --people GALLERY' and 'videolens detect "
                                   "--people GALLERY'.")
    cmds = p.add_subparsers(dest="people_command", metavar="SUBCOMMAND", required=True)
    e = cmds.add_parser("enroll", help="photos (one folder per person) -> DIR/gallery.npz",
                        description="Build DIR/gallery.npz from PHOTOS_DIR, which holds one folder per person named "
                                    "after them, with photos of that person alone (alice/1.jpg, bob/a.png). A photo "
                                    "that cannot be read, or shows no face or several faces, is reported and "
                                    "skipped.")
    e.add_argument("photos", metavar="PHOTOS_DIR", help="a folder with one folder of photos per person")
    e.add_argument("-o", "--output", required=True, metavar="DIR", help="where to write gallery.npz")
    e.add_argument("--overwrite", action="store_true", help="replace an existing DIR/gallery.npz")
    add_quiet_json(e, json_help="print the gallery's summary as JSON")
    e.set_defaults(func=_run_enroll)


def _run_enroll(args: argparse.Namespace) -> int:
    import os

    from ..errors import VideolensError
    from ..people.gallery import enroll

    path = os.path.join(args.output, "gallery.npz")
    if os.path.exists(path) and not args.overwrite:
        raise VideolensError(f"{path} exists (add --overwrite to replace it)")
    gallery, skipped = enroll(args.photos, on_skip=lambda f, why: None if args.quiet else
                              error(f"{f}: skipped: {why}"))
    gallery.save(path)
    counts = {n: gallery.names.count(n) for n in gallery.people}
    doc = {"gallery": path, "people": counts, "photos": len(gallery.names),
           "skipped": [{"file": f, "reason": why} for f, why in skipped]}
    emit(args, doc, lambda: f"{path}: {len(counts)} people from {len(gallery.names)} photos "
                            f"({', '.join(f'{n} {c}' for n, c in counts.items())}); {len(skipped)} skipped")
    return 0


COMMANDS = [_add_people]
