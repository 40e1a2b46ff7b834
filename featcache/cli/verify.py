"""featcache verify: read every chunk of a cache and check its checksums and content digest; or check a head's or
a model's content digest."""

from __future__ import annotations

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
    from featcache.errors import FeatcacheError, one_line
    from featcache.recipes.files import FileVerifyResult, verify

    try:
        checked = verify(args.cache)
        result = checked.to_dict()
    except FeatcacheError as exc:  # damaged, missing, not a cache, busy: the answer is "not ok" all the same
        if args.json:  # a script reads the answer from stdout: {"ok": false, ...} (it got nothing; a new user)
            print_json({"path": str(args.cache), "ok": False, "error": str(exc)})
        raise  # and the one line on stderr, exit 2, as without --json
    if args.json:
        print_json(result)
        return 0
    if isinstance(checked, FileVerifyResult):
        print(one_line(_file_line(result)))
        return 0
    print(one_line(f"ok: {result['path']} is intact (format {result['format_version']}): {len(result['datasets'])} datasets, "
          f"{result['chunks']} chunks, {result['bytes_read'] / 2**20:.1f} MB read and checked, content digest matches"
          f"{', provenance digest matches' if result['provenance_digest'] else ''}"
          f"{', features digest matches' if result['features_digest'] else ' (no features digest: sealed before 2026-12-03)'}"
          f" ({result['seconds']:.2f} s)"))
    return 0


def _file_line(result: dict[str, Any]) -> str:
    n = result["bytes_read"]
    size = f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"
    return (f"ok: {result['path']} is intact ({result['kind']}, format {result['format_version']}): {size} read, "
            f"content digest matches ({result['seconds']:.2f} s)")
