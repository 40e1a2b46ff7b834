"""featcache info: what a cache holds."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from featcache.cli.common import add_json_flag, print_json

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a cache's metadata, shapes, class counts and completeness")
    p.add_argument("cache", help="path to a cache written by 'featcache extract'")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from featcache.store.reader import open_cache, read_attrs

    meta = read_attrs(args.cache, peek=True)
    if not meta.get("complete"):
        # An incomplete file is worth describing too: that is how a user finds out.
        info = {"path": args.cache, **meta}
    else:
        info = open_cache(args.cache).summary()
    info.pop("settings", None)
    info.pop("content_digest", None)
    if args.json:
        print_json(info)
        return 0
    widths = info.get("layer_widths", {})
    print(f"cache       {info['path']}")
    print(f"complete    {'yes' if info.get('complete') else 'NO (interrupted; re-run the extract command to resume)'}")
    print(f"fingerprint {info.get('fingerprint')}")
    print(f"data        {info.get('dataset')}  {_source_words(info.get('source'))}")
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
        print(f"{name:<11} {s['n']} images  ({counts})")
    return 0


def _source_words(source) -> str:
    """A source's settings as ``key value`` pairs (they are stored as a dict; printed raw they read like Python)."""
    if not isinstance(source, dict):
        return "" if source is None else str(source)
    return ", ".join(f"{k} {v}" for k, v in source.items() if v is not None and k != "kind")
