"""featcache verify: read every chunk of a cache and check its checksums and content digest; or check a head's or
a model's content digest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featcache.cli.common import add_json_flag, print_json
from featcache.progress import counted, size_text  # the one home of a size in a message

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a cache (every chunk, its content digest), a head or model file "
                       "(its content digest), or a report or predictions CSV (against its record)",
                       description="Read every chunk of every dataset of a cache, which HDF5 checks against its Fletcher-32 "
                       "checksum, and compare the SHA-256 digests of its labels, index, paths and settings and (caches "
                       "sealed since 2026-12-03) of every feature value. Given a head ('featcache train') or a model "
                       "('featcache export', 'featcache finetune'), read the whole file and compare its content digest "
                       "(files saved since 2026-12-03), then check what loading checks past it (an .npz head read as "
                       "evaluate reads it; training-image digests; not a .keras network, which Keras reads). Given a report's record (evaluation.json, probe.json, "
                       "curve.json, lesson.json), check it and each file of the report it lists (given one of those "
                       "files, the same, through its record); a curve whose run was stopped before the end is said "
                       "unfinished (re-run the same curve command). Given a predictions CSV ('featcache predict "
                       "--csv'), compare its SHA-256 with the one recorded beside it (.NAME.featcache). Exit 0 when it "
                       "is intact, 2 with one line naming the damage (or what is unfinished) otherwise. Given several files, each is checked "
                       "and said in turn; exit 2 when any is not intact (--json: a list).")
    p.add_argument("cache", nargs="+", metavar="FILE", help="a cache written by 'featcache extract', a head or "
                   "model file, a report's record (curve.json, ...) or file, or a predictions CSV; several may be "
                   "given")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from featcache.errors import FeatcacheError

    if len(args.cache) == 1:
        return _verify_one(args.cache[0], args.json)
    # 'verify c.h5 h.keras h.npz' was "unrecognized arguments" (a new-user tester): each in turn, every damaged one
    # said on its own line (the others still checked), exit 2 if any
    results, failed = [], 0
    for path in args.cache:
        try:
            results.append(_verify_one(path, args.json, collect=True))
        except FeatcacheError as exc:
            import sys

            from featcache.errors import one_line

            failed += 1
            results.append({"path": str(path), "ok": False, "error": str(exc)})
            print(f"featcache verify: error: {one_line(str(exc))}", file=sys.stderr)
    if args.json:
        print_json(results)
    return 2 if failed else 0


def _verify_one(path: str, as_json: bool, collect: bool = False) -> Any:
    """Check one file: its line (or, ``as_json``, its dict) printed; ``collect``: the dict returned for a list."""
    from featcache.errors import FeatcacheError, one_line
    from featcache.recipes.files import CsvVerifyResult, FileVerifyResult, ReportVerifyResult, verify

    try:
        checked = verify(path)
        result = checked.to_dict()
    except FeatcacheError as exc:  # damaged, missing, not a cache, busy: the answer is "not ok" all the same
        if as_json and not collect:  # a script reads the answer from stdout: {"ok": false, ...} (a new user)
            print_json({"path": str(path), "ok": False, "error": str(exc)})
        raise  # and the one line on stderr, exit 2, as without --json
    if as_json:
        if collect:
            return result
        print_json(result)
        return 0
    if isinstance(checked, FileVerifyResult):
        print(one_line(_file_line(result)))
        return result if collect else 0
    if isinstance(checked, ReportVerifyResult):
        # a report's file is checked through its record, which is named: what was checked, and what to pass
        given = f"{checked.given} is intact, checked through its report's record {result['path']}: its" if (
            checked.given is not None) else f"{result['path']} is intact (a report's record): its own"
        print(one_line(f"ok: {given} digest and {counted(len(result['files']), 'file')} it vouches for match "
                       f"({', '.join(result['files']) or 'none'})"))
        return result if collect else 0
    if isinstance(checked, CsvVerifyResult):
        print(one_line(f"ok: {result['path']} is intact (a predictions CSV): its SHA-256 is the one its record "
                       f"{checked.record.name} holds; {checked.model_line} ({result['seconds']:.2f} s)"))
        return result if collect else 0
    print(one_line(f"ok: {result['path']} is intact (format {result['format_version']}): {len(result['datasets'])} datasets, "
          f"{result['chunks']} chunks, {size_text(result['bytes_read'])} read and checked, content digest matches"
          f"{', provenance digest matches' if result['provenance_digest'] else ''}"
          f"{', completion digest matches' if result['completion_digest'] else ''}"
          f"{', features digest matches' if result['features_digest'] else ' (no features digest: sealed before 2026-12-03)'}"
          f" ({result['seconds']:.2f} s)"))
    return result if collect else 0


def _file_line(result: dict[str, Any]) -> str:
    return (f"ok: {result['path']} is intact ({result['kind']}, format {result['format_version']}): "
            f"{size_text(result['bytes_read'])} read, "
            f"content digest matches ({result['seconds']:.2f} s)")
