"""featcache info: what a cache holds."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featcache.cli.common import add_json_flag, print_json
from featcache.errors import FeatcacheError

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a cache's metadata, shapes, class counts and completeness, or what a head or "
                       "model file was trained on and scored")
    p.add_argument("cache", help="path to a cache written by 'featcache extract', or a head or model file")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    info = describe(args.cache)
    info.pop("settings", None)
    info.pop("content_digest", None)
    if args.json:
        print_json(info)
        return 0
    if info.get("kind") in ("head", "model"):
        _print_file(info)
        return 0
    widths = info.get("layer_widths", {})
    from featcache.errors import one_line

    # Paths and class names shown escaped: a class folder "be\nes" (refused at extract since; a cache made before
    # keeps it) split the split line in two (an adversarial tester).
    print(one_line(f"cache       {info['path']}"))
    if info.get("partial"):
        print(one_line(f"partial     {info['partial']}: the unfinished extraction, described here; the cache appears when it completes"))
    print(f"complete    {'yes' if info.get('complete') else 'NO (running or interrupted; re-run the same extract command to resume)'}")
    print(f"fingerprint {info.get('fingerprint')}")
    print(one_line(f"data        {info.get('dataset')}  {_source_words(info.get('source'))}"))
    # The weights' identity (a content hash) only where it adds to the source ("random (untrained) (random)" did not)
    ident = "" if info.get("weights_random") or info.get("weights") == info.get("weights_source") else f" ({info.get('weights')})"
    print(f"backbone    {info.get('backbone')}  weights {info.get('weights_source')}{ident}"
          + ("  [RANDOM WEIGHTS]" if info.get("weights_random") else ""))
    print(f"image size  {info.get('image_size')}  preprocessing {info.get('preprocessing')}")
    layers = ", ".join(f"{l} ({widths.get(l, '?')})" for l in info.get("layers", [])) + f"; default {info.get('default_layer')}"
    # 17 blocks made one 600-character line (a new user): wrapped, each continuation under the first
    print(textwrap.fill(layers, width=100, initial_indent="layers      ", subsequent_indent=" " * 12, break_on_hyphens=False))
    print(f"views       {', '.join(info.get('views') or ['orig'])}")
    print(f"dtype       {info.get('dtype')}")
    if "checksums" in info:  # complete caches: checked when opened ('featcache verify' reads every chunk)
        print(f"checksums   {info['checksums']}")
    if info.get("runtime"):  # what ran the network: not part of the identity (features agree to about 1e-4)
        made = info.get("runtimes") or []  # in the order they ran (filtering out the last one's name lost an earlier run)
        print(f"runtime     {info['runtime']} (keras backend {info.get('keras_backend')})"
              + (f"; resumed, rows made by {', then '.join(made)}" if len(made) > 1 else ""))
    print(f"versions    featcache {info.get('featcache_version')}, keras {info.get('keras_version')}, tensorflow {info.get('tensorflow_version')}")
    print(f"created     {info.get('created')}  completed {info.get('completed', '-')}")
    if info.get("skipped"):
        from featcache.sources.decode import skipped_listing

        print(f"skipped     {len(info['skipped'])} file(s): {skipped_listing(info['skipped'], 10, ' (all in --json)')}")
    for name, (done, n) in info.get("progress", {}).items():
        print(f"{name:<11} {done} of {n} images embedded so far")
    for name, s in info.get("splits", {}).items():
        counts = ", ".join(f"{c}: {n}" for c, n in s["class_counts"].items())
        print(one_line(f"{name:<11} {s['n']} images  ({counts})"))
    return 0


def describe(path: str) -> dict[str, Any]:
    """What ``info`` shows of ``path``: a complete cache's summary, or an unfinished one's attributes and progress.

    A path whose extraction has not finished is described by its partial (``<path>.partial.h5``), named in
    ``partial``: "is not finished" alone hid how far it got (a new-user tester). A head or model file passed
    instead of a cache is named as such, with the command that takes it."""
    from featcache.errors import NotHDF5
    from featcache.store.layout import partial_path
    from featcache.store.reader import open_cache, read_attrs

    partial = partial_path(Path(path))
    if not Path(path).exists() and partial.exists():
        try:
            return {"path": path, "partial": str(partial), **read_attrs(partial, peek=True)}
        except FeatcacheError:
            pass  # a partial that cannot be described: read_attrs(path) says it is not finished and how to finish it
    try:
        meta = read_attrs(path, peek=True)
    except NotHDF5:
        from featcache.heads.io import file_kind

        kind = file_kind(path)
        if kind is not None:  # a head or a model: what it holds (info refused it; a new user had no way to see it)
            return describe_file(path, kind)
        from featcache.heads.io import damaged_line, damaged_zip

        if (damage := damaged_zip(path)) is not None:  # a head or model whose metadata no longer reads
            raise FeatcacheError(damaged_line(path, damage[0])) from None
        raise
    # An incomplete file is worth describing too: that is how a user finds out.
    return open_cache(path).summary() if meta.get("complete") else {"path": path, **meta}


# What info shows of a head or model file, in this order (the rest is in --json).
FILE_FIELDS = ("head", "preset", "params", "head_params", "layer", "backbone", "image_size", "weights_source", "dataset",
               "class_names", "train_images", "train_size", "seed", "train_views", "test_views", "views", "test_accuracy",
               "test_accuracy_orig", "single_view_test_accuracy", "views_test_accuracy", "cache_fingerprint", "finetune",
               "featcache_version", "format_version", "created")


def describe_file(path: str, kind: str) -> dict[str, Any]:
    """A head's or model's metadata, its content digest checked first (as every load does): what it was trained on,
    with which settings, and how it scored."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a file without a digest: said in "content_digest" instead
        if kind == "head":
            from featcache.heads.io import check_content, read_head_meta

            checked, meta = check_content(path), read_head_meta(path) or {}
        else:
            from featcache.deploy.model import check_content as check_model, read_meta

            checked, meta = check_model(path)  # the metadata as its digest checked it: not hashed again by read_meta
            meta = meta if meta is not None else read_meta(path)
    return {"path": str(path), "kind": kind, "content_digest_checked": bool(checked),
            **{k: meta[k] for k in FILE_FIELDS if meta.get(k) is not None}}


def _print_file(info: dict[str, Any]) -> None:
    from featcache.errors import one_line

    keys = [k for k in FILE_FIELDS if k in info]
    width = max(len(k) for k in (*keys, "digest")) + 1
    print(one_line(f"{'file':<{width}} {info['path']} (a {info['kind']})"))  # "head PATH" above "head keras" (a new user)
    for key in keys:
        print(one_line(f"{key:<{width}} {_words(info[key])}"))
    print(f"{'digest':<{width}} " + ("checked: as saved" if info["content_digest_checked"] else
                                     "none (saved before 2026-12-03): nothing checks that it is as saved"))


def _words(value: Any) -> str:
    """A metadata value as words: dicts as ``key value`` pairs (nested ones in parentheses), lists of plain values
    joined, a list of records counted (its entries are in --json), floats to 4 places (small ones in 3 figures).
    Fine-tuning's record printed as a Python dict, its epochs and all (a new-user tester)."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_nested(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        if any(isinstance(v, (dict, list)) for v in value):
            return f"{len(value)} entries (in --json)"
        return ", ".join(map(_words, value))
    if isinstance(value, float):
        return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.3g}"
    return str(value)


def _nested(value: Any) -> str:
    return f"({_words(value)})" if isinstance(value, dict) else _words(value)


def _source_words(source) -> str:
    """A source's settings as ``key value`` pairs (they are stored as a dict; printed raw they read like Python)."""
    if not isinstance(source, dict):
        return "" if source is None else str(source)
    return ", ".join(f"{k} {v}" for k, v in source.items() if v is not None and k != "kind")
