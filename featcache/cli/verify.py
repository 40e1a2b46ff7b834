"""featcache verify: read every chunk of a cache and check its checksums and content digest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from featcache.cli.common import add_json_flag, print_json

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a cache: read every chunk (Fletcher-32) and compare its content digest",
                       description="Read every chunk of every dataset of a cache, which HDF5 checks against its Fletcher-32 "
                       "checksum, and compare the SHA-256 digests of its labels, index, paths and settings and (caches "
                       "sealed since 2026-12-03) of every feature value. Exit 0 when it "
                       "is intact, 2 with one line naming the damage otherwise.")
    p.add_argument("cache", help="a cache written by 'featcache extract'")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from featcache.errors import FeatcacheError
    from featcache.store.reader import verify

    try:
        result = verify(args.cache)
    except FeatcacheError as exc:  # damaged, missing, not a cache, busy: the answer is "not ok" all the same
        if args.json:  # a script reads the answer from stdout: {"ok": false, ...} (it got nothing; a new user)
            print_json({"path": str(args.cache), "ok": False, "error": str(exc)})
        raise  # and the one line on stderr, exit 2, as without --json
    if args.json:
        print_json(result.to_dict())
        return 0
    print(f"ok: {result.path} is intact (format {result.format_version}): {len(result.datasets)} datasets, "
          f"{result.chunks} chunks, {result.bytes_read / 2**20:.1f} MB read and checked, content digest matches"
          f"{', provenance digest matches' if result.provenance else ''}"
          f"{', features digest matches' if result.features else ' (no features digest: sealed before 2026-12-03)'}"
          f" ({result.seconds:.2f} s)")
    return 0
