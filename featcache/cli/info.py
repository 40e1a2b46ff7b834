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
    p = sub.add_parser("info", help="show a cache's metadata, shapes, class counts and completeness")
    p.add_argument("cache", help="path to a cache written by 'featcache extract'")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    info = describe(args.cache)
    info.pop("settings", None)
    info.pop("content_digest", None)
    if args.json:
        print_json(info)
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
        from featcache.heads.io import not_a_cache

        said = not_a_cache(path)
        if said is not None:
            raise FeatcacheError(said) from None
        raise
    # An incomplete file is worth describing too: that is how a user finds out.
    return open_cache(path).summary() if meta.get("complete") else {"path": path, **meta}


def _source_words(source) -> str:
    """A source's settings as ``key value`` pairs (they are stored as a dict; printed raw they read like Python)."""
    if not isinstance(source, dict):
        return "" if source is None else str(source)
    return ", ".join(f"{k} {v}" for k, v in source.items() if v is not None and k != "kind")
