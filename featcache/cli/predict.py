"""featcache predict: top-k classes of images with an exported or fine-tuned model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from featcache.cli.common import add_json_flag, api_default, given, positive_int, print_json, seconds
from featcache.deploy.predict import DEFAULT_TOP_K, predict
from featcache.embedding.runtimes import DEFAULT_RUNTIME
from featcache.embedding.runtimes import AUTO_MIN_IMAGES, RUNTIMES, lock_timeout_help

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="top-k classes of image files, folders or .npy arrays with an exported model",
                       description="Classify image files (PNG, JPEG, BMP, GIF, ...: decoded to RGB at the model's image size), "
                       "the image files of a folder (sorted by name), or .npy arrays of uint8 images shaped (N, H, W) or "
                       "(N, H, W, C) with C = 1 or 3. Image files that do not decode are skipped and listed on stderr "
                       "(exit 0 if any image was predicted, 2 if none).")
    p.add_argument("model", help="model file written by 'featcache export' or 'featcache finetune'")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, folders of images and/or .npy arrays")
    p.add_argument("--top-k", type=positive_int, metavar="K", help=f"classes to show per image, all of them if the model has fewer (default: {DEFAULT_TOP_K})")
    p.add_argument("--csv", metavar="PATH", help="also write the predictions to this CSV file (input, class_1, probability_1, ...); "
                   "its checksum is recorded beside it (.NAME.featcache), and a rerun replaces it only while it is as "
                   "featcache wrote it; a predictions CSV there with no such record (an older featcache's) is kept as "
                   "NAME.before-<YYYYmmdd-HHMMSS>.csv, and another file is refused (--force replaces it); a link to a "
                   "file is written through, its target replaced and recorded")
    p.add_argument("--force", action="store_true", default=None,
                   help="replace --csv even if it was changed since featcache wrote it, or featcache did not write it "
                   "(your edits are lost; a predictions CSV with no record is still kept aside)")
    add_batch_size_arg(p)
    p.add_argument("--recursive", action="store_true", default=None,
                   help="also read the image files of each folder's subfolders (a class-folder tree such as DIR/val)")
    add_runtime_arg(p)
    add_lock_timeout_arg(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def add_batch_size_arg(p: argparse.ArgumentParser) -> None:
    """--batch-size of a command that runs a model file on images (predict, evaluate of a model)."""
    p.add_argument("--batch-size", type=positive_int, metavar="N",
                   help=f"images decoded and run at a time, fewer where a pass would need over extract's memory bound "
                   f"(default: {api_default(predict, 'batch_size')})")


def add_runtime_arg(p: argparse.ArgumentParser) -> None:
    """--runtime of a command that runs a model file on images (predict, evaluate of a model)."""
    p.add_argument("--runtime", metavar="NAME", help=f"what runs the model: {', '.join(RUNTIMES)} (default: "
                   f"{DEFAULT_RUNTIME}: the fastest installed, converting the model once, cached by its content, when "
                   f"there are {AUTO_MIN_IMAGES:,} images or more (each view of a model that averages views counts) or a "
                   "conversion is cached; else tensorflow); "
                   "the probabilities agree across runtimes")


def add_lock_timeout_arg(p: argparse.ArgumentParser) -> None:
    """--lock-timeout of a command that runs a model file on images (predict, evaluate of a model): its wait for
    another process converting the same model, as extract's (it took none, and waited for as long as a stopped
    holder lived; a brief). Not given: the API's default (None)."""
    p.add_argument("--lock-timeout", type=seconds, metavar="SECONDS", help=lock_timeout_help())


def run(args: argparse.Namespace) -> int:
    from featcache.deploy.predict import predict, say_notes
    from featcache.errors import FeatcacheError, one_line
    from featcache.progress import note  # stderr closed or failing (2>&-) is ignored there: the predictions still come

    # The progress bar on stderr as every command's (plain lines off a terminal), with --json too: stdout is the
    # predictions. The API says what it skipped or left out (stderr); with --json too, but the runtime's note is the
    # JSON's. --csv - is refused by the API's check of --csv (deploy.predict.check_csv).
    preds = predict(args.model, args.images, **given(args, "top_k", "batch_size", "csv", "runtime", "recursive", "force",
                                                  "lock_timeout"), verbose=not args.json)
    if args.json:
        say_notes(preds, runtime_note=False)
    if args.top_k and preds.top_k < args.top_k and not args.json:  # shown, not refused: one --top-k for every model
        note(f"predict: --top-k {args.top_k}: the model has {preds.top_k} classes; showing all of them")
    if args.json:
        print_json(preds.to_dict())
        return 0
    # One line per image, the path (and the class names of a model made before such names were refused) shown
    # escaped as the skipped files are: a folder "in\nput" split every line in two (an adversarial tester).
    if preds.values_words is not None:  # an SVM head's model: its numbers are said for what they are, for it, once
        said = (f"its output is {preds.values_words}: each line names the class" if preds.decision_only
                else f"the numbers are {preds.values_words}")
        note(one_line(f"predict: {args.model} is an SVM head's model: {said} (docs/commands.md, export)"))
    for p in preds:
        top = p.top[:1] if preds.decision_only else p.top  # its 1.000 and 0.000 were no score (deploy.model.one_vote)
        print(one_line(f"{p.input}: " + ", ".join(c if preds.decision_only else f"{c} {prob:.3f}" for c, prob in top)))
    if args.csv:
        # on stderr with the other status lines: stdout is the predictions alone, for a pipe (a new-user tester)
        link = preds.csv_written.link if preds.csv_written is not None else None  # written through a link: said
        note(one_line(f"predict: predictions -> {args.csv}{f' -> {link}' if link else ''}{_replaced(preds)}"))
    return 0


def _replaced(preds) -> str:
    """What --csv replaced, said as train and export say "replaced" (a rerun on one photo replaced a folder's 70 rows
    without a word; a new-user tester): from what the run found there as it wrote (not whether a file was there
    before the run: an empty file was said to hold earlier predictions). A file with no record was kept aside and
    is said on a line of its own (``deploy.predict.kept_line``)."""
    from featcache.deploy.predict import CSV_EMPTY, CSV_FORCED, CSV_OURS

    found = preds.csv_written.found if preds.csv_written is not None else None
    if found == CSV_OURS:  # two runs at once on one CSV: the second takes its turn and says whose it replaced
        return (" (replaced the predictions another featcache run wrote there during this one)" if preds.csv_meanwhile
                else " (replaced the earlier predictions there)")
    return {CSV_EMPTY: " (replaced the empty file there)", CSV_FORCED: " (replaced the file there: --force)"}.get(found, "")
