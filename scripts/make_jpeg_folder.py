#!/usr/bin/env python3
"""Make a class-folder tree of photo-like JPEGs for the photo benchmarks (issue 14: at least 2,000 at 224 px).

Each file is a random crop (40-100% of the side), maybe mirrored, of a real
photo under --from (default: the shared hymenoptera photos), scaled so its
longer side is --long-side (default 500, like the hymenoptera photos) and
saved at JPEG quality 90: real photo content, so decoding costs what a
user's photos cost. The class of each file is its source's folder name
(ants, bees), so the output is a ``DIR/<class>/*.jpg`` tree for
``featcache extract --images DIR --test-fraction F``. Deterministic for a
--seed; the classes take turns (each cycling through its photos), so they
stay balanced and any first files hold every class.

    python scripts/make_jpeg_folder.py --out /tmp/jpegs --count 2000
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FROM = Path(os.environ.get("FEATCACHE_SHARED", REPO.parent / "shared")) / "datasets" / "hymenoptera"
JPEG = (".jpg", ".jpeg")


def make_jpeg_folder(out: Path, count: int, source: Path = DEFAULT_FROM, seed: int = 0, long_side: int = 500) -> list[Path]:
    """Write ``count`` JPEGs under ``out/<class>/``; returns their paths (sorted)."""
    import numpy as np
    from PIL import Image, ImageOps

    sources = sorted(p for p in Path(source).rglob("*") if p.suffix.lower() in JPEG and not p.name.startswith("."))
    if not sources:
        raise SystemExit(f"no JPEG files under {source}; pass --from DIR with photos in class folders")
    by_class: dict[str, list[Path]] = {}
    for src in sources:
        by_class.setdefault(src.parent.name, []).append(src)
    classes = sorted(by_class)
    rng = np.random.default_rng(seed)
    written = []
    for i in range(count):
        mine = by_class[classes[i % len(classes)]]  # classes in turn: balanced, and every class has files from the first ones
        src = mine[(i // len(classes)) % len(mine)]
        with Image.open(src) as im:
            im.draft("RGB", (long_side, long_side))  # a big photo decodes reduced, to at least the size kept
            im = ImageOps.exif_transpose(im).convert("RGB")
        w, h = im.size
        side = rng.uniform(0.4, 1.0)
        cw, ch = max(16, int(w * side)), max(16, int(h * side))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        im = im.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            im = ImageOps.mirror(im)
        scale = long_side / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BILINEAR)
        path = Path(out) / src.parent.name / f"{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        im.save(path, quality=90)
        written.append(path)
    return sorted(written)


def add_photo_source(p: argparse.ArgumentParser, required: bool = True) -> None:
    """The photo benchmarks' source flags: --photos DIR or --make-photos N (``photo_source`` reads them)."""
    src = p.add_mutually_exclusive_group(required=required)
    src.add_argument("--photos", metavar="DIR", help="JPEG files under DIR (any depth)")
    src.add_argument("--make-photos", type=int, metavar="N", help="generate N JPEGs (make_jpeg_folder.py)")


def photo_source(args: argparse.Namespace, tmp: Path) -> list[Path]:
    """The JPEGs under --photos DIR, or --make-photos N of them generated under ``tmp``; sorted."""
    root = Path(args.photos) if args.photos else tmp / "photos"
    if args.make_photos:
        make_jpeg_folder(root, args.make_photos)
    files = sorted(f for f in root.rglob("*") if f.suffix.lower() in JPEG)  # JPEGs alone: these benchmarks time JPEG decoding
    if not files:  # a benchmark of 0 photos ended in an IndexError
        raise SystemExit(f"no JPEG files under {root}; pass --photos DIR holding JPEGs, or --make-photos N with photos to copy")
    return files


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder to write (class folders are made inside)")
    p.add_argument("--count", type=int, default=2000, help="JPEGs to write (default: 2000)")
    p.add_argument("--from", dest="source", default=str(DEFAULT_FROM), help=f"photos in class folders (default: {DEFAULT_FROM})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--long-side", type=int, default=500, help="pixels of each file's longer side (default: 500)")
    args = p.parse_args()
    t = time.perf_counter()
    files = make_jpeg_folder(Path(args.out), args.count, Path(args.source), args.seed, args.long_side)
    classes = sorted({f.parent.name for f in files})
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} JPEGs ({size / 1e6:.1f} MB, classes {', '.join(classes)}) to {args.out} "
          f"in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
