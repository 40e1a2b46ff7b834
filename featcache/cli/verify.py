"""featcache verify: read every chunk of a cache and check its checksums and content digest; or check a head's or
a model's content digest."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featcache.cli.common import add_json_flag, print_json

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a cache (every chunk, its content digest), or a head or model file "
                       "(its content digest)",
                       description="Read every chunk of every dataset of a cache, which HDF5 checks against its Fletcher-32 "
                       "checksum, and compare the SHA-256 digests of its labels, index, paths and settings and (caches "
                       "sealed since 2026-12-03) of every feature value. Given a head ('featcache train') or a model "
                       "('featcache export', 'featcache finetune'), read the whole file and compare its content digest "
                       "(files saved since 2026-12-03). Exit 0 when it "
                       "is intact, 2 with one line naming the damage otherwise.")
    p.add_argument("cache", help="a cache written by 'featcache extract', or a head or model file")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from featcache.errors import FeatcacheError
    from featcache.store.reader import verify

    from featcache.errors import NotHDF5

    try:
        kind = _zip_kind(args.cache)
        try:
            result = verify_file(args.cache, kind) if kind else verify(args.cache).to_dict()
        except NotHDF5 as exc:  # verify takes heads and models too: "pass a cache" alone sent a new user elsewhere
            raise exc.with_hint("pass a cache ('featcache extract'), a head ('featcache train') or a model "
                                "('featcache export', 'featcache finetune')") from None
    except FeatcacheError as exc:  # damaged, missing, not a cache, busy: the answer is "not ok" all the same
        if args.json:  # a script reads the answer from stdout: {"ok": false, ...} (it got nothing; a new user)
            print_json({"path": str(args.cache), "ok": False, "error": str(exc)})
        raise  # and the one line on stderr, exit 2, as without --json
    if args.json:
        print_json(result)
        return 0
    if kind:
        print(_file_line(result))
        return 0
    print(f"ok: {result['path']} is intact (format {result['format_version']}): {len(result['datasets'])} datasets, "
          f"{result['chunks']} chunks, {result['bytes_read'] / 2**20:.1f} MB read and checked, content digest matches"
          f"{', provenance digest matches' if result['provenance_digest'] else ''}"
          f"{', features digest matches' if result['features_digest'] else ' (no features digest: sealed before 2026-12-03)'}"
          f" ({result['seconds']:.2f} s)")
    return 0


def _zip_kind(path: str) -> str | None:
    """``"head"`` or ``"model"`` for a zip file featcache wrote as one (``heads.io.file_kind``); None for anything
    else, which the cache's verify takes (and names, if it is no cache). Only a regular file is opened: a FIFO would
    wait forever."""
    import zipfile

    from featcache.errors import FeatcacheError
    from featcache.heads.io import damaged_line, damaged_zip, file_kind

    p = Path(path)
    kind = file_kind(p) if p.is_file() and zipfile.is_zipfile(p) else None
    if kind is None and (damage := damaged_zip(p)) is not None:  # not "not a readable HDF5 file ... pass a cache"
        raise FeatcacheError(damaged_line(p, damage[0]))
    return kind


def verify_file(path: str | Path, kind: str) -> dict[str, Any]:
    """Check the content digest of the head or model file at ``path`` (``kind``), as every load does: what
    ``--json`` prints. A file saved before 2026-12-03 has none and cannot be verified: one line, exit 2, as for a
    format-1 cache (it was "ok", exit 0). A mismatch is the loaders' one line (a FeatcacheError)."""
    import warnings

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the note of a file without a digest: said in the answer instead
        if kind == "head":
            from featcache.heads.io import check_content, read_head_meta

            checked = check_content(path)
            meta = read_head_meta(path) or {}
        else:
            from featcache.deploy.model import check_content as check_model

            checked, meta = check_model(path)
            meta = meta or {}
    if not checked:  # nothing checked is no "ok": verify of an unchecked cache is refused too (an adversarial tester)
        from featcache.deploy.model import REEXPORT
        from featcache.errors import FeatcacheError
        from featcache.heads.io import RETRAIN

        raise FeatcacheError(f"{path} is a {kind} of format {meta.get('format_version', 1)} without a content digest "
                             "(saved before 2026-12-03, or its digest was removed) and cannot be verified; "
                             f"{RETRAIN if kind == 'head' else REEXPORT} to have it checked")
    return {"path": str(path), "ok": True, "kind": kind, "format_version": meta.get("format_version", 1),
            "content_digest": checked, "bytes_read": Path(path).stat().st_size,
            "seconds": round(time.perf_counter() - t0, 3)}


def _file_line(result: dict[str, Any]) -> str:
    n = result["bytes_read"]
    size = f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"
    return (f"ok: {result['path']} is intact ({result['kind']}, format {result['format_version']}): {size} read, "
            f"content digest matches ({result['seconds']:.2f} s)")
