"""Cached views, measured by hand (issue 15, phase 1): train on views, average them at test.

Embeds fixed views (featcache.embedding.views) of every image once with the
real MobileNetV2 weights through ``featcache.embedding.mapper.Mapper`` (the
views are applied to the raw uint8 batches here, before the mapper's
``Preprocess``), then fits logistic regression (C=0.03) and an RBF SVM (C=10)
on the training views and scores the test images with their views averaged:
probabilities for logistic regression, decision values for the SVM.

Hyper-parameters (layer, C, views of each setting) are fixed in advance. The
"chosen" setting of each head is picked without the test images: on a
stratified hold-out of 20% of the Fashion-MNIST training images (5-fold CV
over the 245 hymenoptera training photos), always over images, so an image
and its views are never on both sides.

    python scripts/views_experiment.py --json /tmp/views.json   # both data sets
    python scripts/views_experiment.py --part fashion --train-limit 200 --test-limit 100  # smaller

Features are kept as .npy files under --work-dir (default /tmp/featcache_views),
never in the repository; a rerun reuses them (its extraction seconds are then
the first run's, read back).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("FEATCACHE_SHARED", "/work/shared"))

# (label, train views, test views). Fixed before any test image was scored:
# the four columns plus the `shift` group with the flip.
FASHION_SETTINGS = [
    ("original only", "orig", "orig"),
    ("train orig+flip", "orig,flip", "orig"),
    ("+ flip averaged at test", "orig,flip", "orig,flip"),
    ("4 views averaged (orig, flip, shift:+2,+2, shift:-2,-2)", "orig,flip,shift:+2,+2,shift:-2,-2", "orig,flip,shift:+2,+2,shift:-2,-2"),
    ("shift group + flip, 6 views averaged", "orig,flip,shift", "orig,flip,shift"),
]
PHOTO_SETTINGS = [
    ("original only", "orig", "orig"),
    ("train orig+flip", "orig,flip", "orig"),
    ("+ flip averaged at test", "orig,flip", "orig,flip"),
    ("crops, 6 views averaged (orig + 5 crops)", "orig,crop", "orig,crop"),
    ("flip + crops, 7 views averaged", "orig,flip,crop", "orig,flip,crop"),
]
HEADS = {"logreg C=0.03": ("logreg", 0.03), "RBF SVM C=10": ("svm", 10.0),
         # C chosen per setting from the logreg head's grid by the same held-out images (never the test images).
         "logreg C=cv over images": ("logreg", "cv")}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("fashion", "hymenoptera", "both"), default="both")
    p.add_argument("--weights", default=str(SHARED / "weights" / "mobilenet_v2_1.0_imagenet_no_top.weights.h5"))
    p.add_argument("--fashion-dir", default=None, help="Fashion-MNIST IDX folder (default: featcache's search path)")
    p.add_argument("--photos", default=str(SHARED / "datasets" / "hymenoptera"))
    p.add_argument("--train-limit", type=int, default=4000)
    p.add_argument("--test-limit", type=int, default=3000)
    p.add_argument("--fashion-layer", default="block_13_expand_relu")
    p.add_argument("--photo-layer", default="out_relu", help="the hymenoptera demo's layer (0.941 with logreg)")
    p.add_argument("--photo-size", type=int, default=224, help="photos are decoded and embedded at this size (default: 224)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--heads", default="logreg C=0.03,RBF SVM C=10", help="comma-separated subset of: " + ", ".join(HEADS))
    p.add_argument("--work-dir", default="/tmp/featcache_views", help="where the embedded views are kept (.npy), named by data set, size, layer, split and view, "
                   "not by weights: use another folder for other weights")
    p.add_argument("--settings", default=None, help="comma-separated indices of the settings to run (default: all)")
    p.add_argument("--extract-only", action="store_true",
                   help="only embed (into --work-dir), no heads: run several of these side by side with other --splits/--view-order")
    p.add_argument("--splits", default="train,test", help="splits to embed, in this order (default: train,test)")
    p.add_argument("--view-order", default=None, help="embed the views in this order (parse_views syntax; default: the stored order)")
    p.add_argument("--table", nargs="+", metavar="JSON", help="only print the Markdown tables of these results files (merged)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON (rewritten after every row)")
    return p.parse_args()


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def embed_views(mapper, images: np.ndarray, views, batch_size: int, stem: Path) -> tuple[dict, dict]:
    """{view name: (N, D) features} and {view name: seconds}, one view after the other, cached under ``stem``."""
    feats, secs = {}, {}
    for view in views:
        path = stem.with_name(f"{stem.name}_{view.name.replace(':', '_').replace(',', '_')}.npy")
        tpath = path.with_suffix(".seconds.json")
        if path.exists() and tpath.exists():
            feats[view.name], secs[view.name] = np.load(path), json.loads(tpath.read_text())["seconds"]
            continue
        fn = mapper()
        t0 = time.perf_counter()
        out = []
        for a in range(0, len(images), batch_size):
            (layer_out,) = fn(view.apply(images[a:a + batch_size])).values()
            out.append(layer_out)
        secs[view.name] = time.perf_counter() - t0
        feats[view.name] = np.concatenate(out).astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, feats[view.name])
        tpath.write_text(json.dumps({"seconds": secs[view.name], "images": len(images), "load": load_avg()}))
    return feats, secs


def chosen_settings(settings, args):
    return [settings[int(i)] for i in args.settings.split(",")] if args.settings else settings


def needed_views(settings):
    """The views the settings use, in the registry's stored order."""
    from featcache.embedding.views import parse_views

    return parse_views(",".join(f"{tr},{te}" for _, tr, te in settings))


def ordered(views, args):
    """``views`` in --view-order (those it names first), so parallel runs can embed different views."""
    from featcache.embedding.views import parse_views

    first = [v for v in parse_views(args.view_order) if v in views] if args.view_order else []
    first = first[1:] if args.view_order and not args.view_order.startswith("orig") else first
    return tuple(first + [v for v in views if v not in first])


LOGREG_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)  # featcache.heads.logreg.C_GRID


def make(head: str, C: float):
    from featcache.heads import LogRegHead, SVMHead

    return LogRegHead(C=C) if head == "logreg" else SVMHead(C=C, probability=False)


def scores(model, X: np.ndarray) -> np.ndarray:
    """Per-class scores to average over views: probabilities (logreg) or decision values (SVM), (n, classes)."""
    if hasattr(model, "predict_proba") and not hasattr(model, "decision_function"):
        return model.predict_proba(X)
    d = model.decision_function(X)
    return np.stack([-d, d], axis=1) if d.ndim == 1 else d  # binary: one value, > 0 means classes_[1]


_FITTED: dict = {}  # settings that train on the same views share one fit (the SVM's take minutes)


def fit_score(head: str, C: float, feats: dict, y: np.ndarray, train_rows, test_rows, y_test, train_views, test_views):
    """Fit on every train view of ``train_rows``; accuracy on ``test_rows`` with the test views' scores averaged."""
    key = (id(feats), head, C, tuple(train_views), np.asarray(train_rows).tobytes())
    if key not in _FITTED:
        X = np.concatenate([feats["train"][v][train_rows] for v in train_views])
        Y = np.tile(y[train_rows], len(train_views))
        t0 = time.perf_counter()
        _FITTED[key] = make(head, C).fit(X, Y), time.perf_counter() - t0
    model, fit_s = _FITTED[key]
    src = feats[test_rows[0]]
    avg = np.mean([scores(model, src[v][test_rows[1]]) for v in test_views], axis=0)
    acc = float(np.mean(model.classes_[np.argmax(avg, axis=1)] == y_test))
    return acc, fit_s


def run_settings(name, settings, feats, y_train, y_test, selection, heads, results, args):
    """Every (head, setting): held-out accuracy (selection), then test accuracy when fitted on all training images."""
    from featcache.embedding.views import parse_views

    n = len(y_train)
    for head_label in heads:
        head, C = HEADS[head_label]
        rows = []
        for label, tr, te in settings:
            trv, tev = [v.name for v in parse_views(tr)], [v.name for v in parse_views(te)]
            held, use_C = None, C
            for c in (LOGREG_GRID if C == "cv" else (C,)):
                h = [fit_score(head, c, feats, y_train, a, ("train", b), y_train[b], trv, tev)[0] for a, b in selection]
                if held is None or np.mean(h) > np.mean(held):  # ties: the stronger regularization (smaller C, first)
                    held, use_C = h, c
            test_acc, fit_s = fit_score(head, use_C, feats, y_train, np.arange(n), ("test", slice(None)), y_test, trv, tev)
            rows.append({"setting": label, "C": use_C, "train_views": trv, "test_views": tev, "heldout_accuracy": round(float(np.mean(held)), 4),
                         "test_accuracy": round(test_acc, 4), "fit_seconds": round(fit_s, 2), "train_rows": n * len(trv),
                         "load": load_avg()})
            print(f"{name} | {head_label} | {label} | held-out {np.mean(held):.4f} | test {test_acc:.4f} | fit {fit_s:.1f} s "
                  f"| load {load_avg()}", flush=True)
            results[name]["heads"][head_label] = rows
            dump(results, args)
        best = max(range(len(rows)), key=lambda i: (rows[i]["heldout_accuracy"], -i))  # ties: the cheaper, earlier one
        results[name]["chosen"][head_label] = rows[best]["setting"]
        dump(results, args)


def dump(results, args) -> None:
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def fashion(args, results) -> None:
    from sklearn.model_selection import StratifiedShuffleSplit

    from featcache.embedding.mapper import Mapper
    from featcache.sources import fashion_mnist

    src = fashion_mnist.load(args.fashion_dir, args.train_limit, args.test_limit)
    settings = chosen_settings(FASHION_SETTINGS, args)
    views = needed_views(settings)
    mapper = Mapper("mobilenet_v2", args.weights, 96, [args.fashion_layer], (28, 28), batch_size=args.batch_size)
    feats, secs = {}, {}
    t_build = time.perf_counter()
    mapper()
    t_build = time.perf_counter() - t_build
    for split in args.splits.split(","):
        s = src.splits[split]
        stem = Path(args.work_dir) / f"fashion_{len(s)}_{args.fashion_layer}_96" / split
        feats[split], secs[split] = embed_views(mapper, s.read(0, len(s)), ordered(views, args), args.batch_size, stem)
    if args.extract_only:
        return
    y_train, y_test = src.splits["train"].labels, src.splits["test"].labels
    results["fashion"] = {"layer": args.fashion_layer, "image_size": 96, "train_images": len(y_train), "test_images": len(y_test),
                          "build_seconds": round(t_build, 1), "extract_seconds": secs, "heads": {}, "chosen": {}, "load_start": load_avg()}
    dump(results, args)
    # One stratified hold-out of 20% of the training images (over images: all views of an image on one side).
    sel = list(StratifiedShuffleSplit(1, test_size=0.2, random_state=0).split(np.zeros(len(y_train)), y_train))
    run_settings("fashion", settings, feats, y_train, y_test, sel, args.heads.split(","), results, args)


def hymenoptera(args, results) -> None:
    from sklearn.model_selection import StratifiedKFold

    from featcache.embedding.mapper import Mapper
    from featcache.sources import images

    size = args.photo_size
    src = images.load(args.photos, size)
    settings = chosen_settings(PHOTO_SETTINGS, args)
    views = needed_views(settings)
    mapper = Mapper("mobilenet_v2", args.weights, size, [args.photo_layer], (size, size, 3), batch_size=64)
    feats, secs = {}, {}
    for split in args.splits.split(","):
        s = src.splits[split]
        stem = Path(args.work_dir) / f"hymenoptera_{len(s)}_{args.photo_layer}_{size}" / split
        feats[split], secs[split] = embed_views(mapper, s.read(0, len(s)), ordered(views, args), 64, stem)
    if args.extract_only:
        return
    y_train, y_test = src.splits["train"].labels, src.splits["test"].labels
    results["hymenoptera"] = {"layer": args.photo_layer, "image_size": size, "train_images": len(y_train), "test_images": len(y_test),
                              "skipped": len(src.skipped), "extract_seconds": secs, "heads": {}, "chosen": {}, "load_start": load_avg()}
    dump(results, args)
    sel = list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y_train)), y_train))
    run_settings("hymenoptera", settings, feats, y_train, y_test, sel, args.heads.split(","), results, args)


def markdown(results: dict) -> str:
    """The results as Markdown: per data set, accuracy per head and setting, then extraction seconds per view."""
    out = []
    for part in ("fashion", "hymenoptera"):
        if part not in results:
            continue
        r = results[part]
        out += [f"### {part}: {r['train_images']} train / {r['test_images']} test images, {r['image_size']} px, {r['layer']}", "",
                "| head | setting | held-out accuracy | test accuracy | fit s (train rows) | load |", "| --- | --- | ---: | ---: | ---: | --- |"]
        for head, rows in r["heads"].items():
            best = max(rows, key=lambda x: x["heldout_accuracy"])  # first of equals: the cheaper setting
            for x in rows:
                mark = (f" [C={x['C']:g}]" if "cv" in head else "") + (" (chosen on held-out)" if x is best else "")
                out.append(f"| {head} | {x['setting']}{mark} | {x['heldout_accuracy']:.4f} | {x['test_accuracy']:.4f} | "
                           f"{x['fit_seconds']:.1f} ({x['train_rows']}) | {x['load']} |")
        out += ["", "| view | " + " | ".join(f"{s} s ({r[s + '_images']} images)" for s in ("train", "test")) + " |", "| --- | ---: | ---: |"]
        for view in r["extract_seconds"]["train"]:
            out.append(f"| {view} | " + " | ".join(f"{r['extract_seconds'][s].get(view, float('nan')):.0f}" for s in ("train", "test")) + " |")
        out.append("")
    return "\n".join(out)


def merged(paths) -> dict:
    """Results files merged: later files add heads' settings rows and views to earlier ones."""
    res: dict = {}
    for path in paths:
        for part, r in json.loads(Path(path).read_text()).items():
            if not isinstance(r, dict):
                continue
            if part not in res:
                res[part] = r
                continue
            for head, rows in r["heads"].items():
                have = {x["setting"] for x in res[part]["heads"].setdefault(head, [])}
                res[part]["heads"][head] += [x for x in rows if x["setting"] not in have]
            for split, secs in r["extract_seconds"].items():
                res[part]["extract_seconds"].setdefault(split, {}).update(secs)
    return res


def main() -> int:
    args = parse_args()
    if args.table:
        print(markdown(merged(args.table)))
        return 0
    results = {"load_at_start": load_avg()}
    if args.part in ("hymenoptera", "both"):
        hymenoptera(args, results)
    if args.part in ("fashion", "both"):
        fashion(args, results)
    results["load_at_end"] = load_avg()
    dump(results, args)
    print(markdown(results))
    print(json.dumps({k: v for k, v in results.items() if not isinstance(v, dict)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
