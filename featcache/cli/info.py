"""featcache info: what a cache holds, or what a head or model was trained on and scored (recipes.files.info)."""

from __future__ import annotations

import textwrap
from collections.abc import Container
from typing import TYPE_CHECKING, Any

from featcache.cli.common import add_json_flag, print_json
from featcache.progress import counted
from featcache.validate import param_text

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a cache's metadata, shapes, class counts and completeness, or what a head or "
                       "model file was trained on and scored")
    p.add_argument("cache", help="path to a cache written by 'featcache extract', or a head or model file")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from featcache.recipes.files import info as describe

    info = describe(args.cache)
    if args.json:
        print_json(info)
        return 0
    if info.get("kind") in ("head", "model"):
        _print_file(info)
        return 0
    if "about" in info:  # a report's file or record, a predictions CSV or its record: what it is, a plain line
        from featcache.errors import one_line

        for line in info["about"].splitlines():
            print(one_line(line))
        return 0
    widths = info.get("layer_widths", {})
    from featcache.errors import one_line

    # Paths and class names shown escaped: a class folder "be\nes" (refused at extract since; a cache made before
    # keeps it) split the split line in two (an adversarial tester).
    print(one_line(f"cache       {info['path']}"))
    if info.get("partial"):
        print(one_line(f"partial     {info['partial']}: the unfinished extraction, described here; the cache appears when it completes"))
    print(one_line(f"complete    {'yes' if info.get('complete') else f'NO (running or interrupted; {_resume(info)})'}"))
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
    if info.get("runtime"):  # what ran the network: not part of the identity (features agree to about 2e-4)
        from featcache.store.layout import recorded_runtimes

        made = recorded_runtimes(info)  # in the order they ran (filtering out the last one's name lost an earlier run)
        print(f"runtime     {info['runtime']} (keras backend {info.get('keras_backend')})"
              + (f"; resumed, rows made by {', then '.join(made)}" if len(made) > 1 else ""))
    print(f"versions    featcache {info.get('featcache_version')}, keras {info.get('keras_version')}, tensorflow {info.get('tensorflow_version')}")
    print(f"created     {info.get('created') or 'not recorded'}  completed {info.get('completed', '-')}")
    others, copies = info.get("skipped") or [], info.get("copies") or []  # apart: ``decode.left_out_json``
    if others or copies:
        from featcache.sources.decode import copy_listed, left_out_words, skipped_listing

        # counted as extract's and evaluate's lines count them (their words): a copy counted once is a photo, not a
        # file skipped; "skipped 3 file(s)" here was "2 file(s) skipped, 1 copy counted once" in extract's line of the
        # same cache (a new-user tester); each part only where there is one (a cache of copies only said "0 file(s),
        # 1 copy counted once"; a reader). The files skipped are listed first, then the copies, each by the photo it
        # copies: "counted once" is said in the count, not again of every copy (a brief).
        parts = left_out_words(others, copies, labelled=True)
        listed = [*others, *((c["path"], copy_listed(c["same_as"])) for c in copies)]
        print(f"skipped     {', '.join(parts)}: {skipped_listing(listed, 10, ' (all in --json)')}")
    for name, (done, n) in info.get("progress", {}).items():
        print(f"{name:<11} {done} of {n} images embedded so far")
    for name, s in info.get("splits", {}).items():
        counts = ", ".join(f"{c}: {n}" for c, n in s["class_counts"].items())
        print(one_line(f"{name:<11} {counted(s['n'], 'image')}  ({counts})"))
    return 0


def _print_file(info: dict[str, Any]) -> None:
    from featcache.errors import one_line
    from featcache.recipes.files import FILE_FIELDS

    keys = [k for k in FILE_FIELDS if k in info]
    width = max(len(_label(k)) for k in (*keys, "digest")) + 1
    print(one_line(f"{'file':<{width}} {info['path']} (a {info['kind']})"))  # "head PATH" above "head keras" (a new user)
    if info.get("record_edited"):  # the file's kind is its network's; its record says another (heads.io.edited)
        print(one_line(f"{'record':<{width}} {info['record_edited']}"))
    for key in keys:
        # only those the row shows: n_jobs (None, so not shown) was named unused beside them (a new-user tester)
        unused = [k for k in info.get("unused_params") or () if info[key].get(k) is not None] if (
            key == "params" and isinstance(info[key], dict)) else None
        if key == "finetune" and isinstance(info[key], dict):  # a paragraph, each line under the first
            for i, line in enumerate(_finetune_lines(info[key])):
                print(one_line(f"{'finetune' if i == 0 else '':<{width}} {line}"))
            continue
        if key == "train_images" and isinstance(held := info.get("validation_images"), int):  # 87 of a fit on 69
            print(one_line(f"{_label(key):<{width}} {info[key]} ({info[key] - held} fitted, {held} held out for validation)"))
            continue
        print(one_line(f"{_label(key):<{width}} {_value_words(key, info[key])}" + (f" ({', '.join(unused)}: not used by this fit)" if unused else "")))
    print(f"{'digest':<{width}} " + ("checked: as saved" if info["content_digest_checked"] else
                                     "none (saved before 2026-12-03): nothing checks that it is as saved"))


def _finetune_lines(record: dict[str, Any]) -> list[str]:
    """A fine-tuned model's ``finetune`` record as a few lines: its settings as finetune's options name them, what it
    ran and scored, and the rest as ``key value`` pairs. It was one line of raw values (``improved True``,
    ``seconds_per_epoch 20.5400``; a new-user tester). A key an older model lacks is left out."""
    from featcache.deploy.model import FINETUNE_FIT_KEYS
    from featcache.progress import seconds_text

    rec = {k: v for k, v in record.items() if v is not None}
    settings = [f"{words.removeprefix('fine-tuning ')} {param_text(rec.pop(k))}" for k, words in FINETUNE_FIT_KEYS.items()
                if k in rec]
    lines = ["settings: " + ", ".join(settings)] if settings else []
    epochs, best = rec.pop("epochs", None), rec.pop("best_epoch", None)
    # finetune records the count too (epochs_run): said once, not again among the rest (a new-user tester)
    run = len(epochs) if isinstance(epochs, list) else rec.get("epochs_run")
    if isinstance(run, int) and not isinstance(run, bool):
        rec.pop("epochs_run", None)
    ran = [f"{counted(run, 'epoch')} run"] if isinstance(run, int) and not isinstance(run, bool) else []
    if isinstance(best, int) and not isinstance(best, bool):
        ran.append(f"best epoch {best}" if best > 0 else "no epoch beat the frozen head on validation (its weights kept)")
    rec.pop("improved", None)  # best epoch > 0, said above
    if isinstance(rec.get("diverged_epoch"), int):
        ran.append(f"diverged at epoch {rec.pop('diverged_epoch')}")
    if isinstance(spe := rec.pop("seconds_per_epoch", None), (int, float)):
        ran.append(f"{seconds_text(spe)} per epoch")
    if ran:
        lines.append("ran: " + ", ".join(ran))
    images = [f"{counted(rec.pop(k), what)}" for k, what in (("train_images", "training image"), ("val_images", "validation image"))
              if isinstance(rec.get(k), int)]
    if images:
        lines.append("on: " + ", ".join(images))
    scores = [f"{words} {_words(rec.pop(k))}" for k, words in (
        ("frozen_val_accuracy", "frozen head's validation accuracy"), ("frozen_val_loss", "loss"),
        ("test_accuracy", "fine-tuned test accuracy"), ("frozen_test_accuracy", "frozen head's"),
        ("head_views_test_accuracy", "the head's with its views averaged")) if isinstance(rec.get(k), (int, float))]
    if scores:
        lines.append("scores: " + ", ".join(scores))
    if isinstance(layers := rec.pop("unfrozen_layers", None), list):
        lines.append(f"unfrozen: {counted(len(layers), 'layer')} of the backbone" + (f" ({layers[0]} to {layers[-1]})" if layers else ""))
    rest = {k.replace("_", " "): v for k, v in rec.items()}
    if rest:
        lines.append(_words({k: ("yes" if v is True else "no" if v is False else v) for k, v in rest.items()}))
    return lines


def _param_keys(field: str, record: Any) -> Container[str]:
    """The keys of ``field``'s ``record`` that are parameters a user gave (shown as typed, ``validate.param_text``):
    each of a head's ``params`` and a model's ``head_params``; fine-tuning's settings (not its scores)."""
    if field in ("params", "head_params") and isinstance(record, dict):
        return set(record)
    if field == "finetune":
        from featcache.deploy.model import FINETUNE_FIT_KEYS

        return FINETUNE_FIT_KEYS
    return ()


def _label(key: str) -> str:
    """A head's or model's row label: the field's name, train_digest_count's shorter (a row label of its 18
    characters widened every row, and a fine-tuned model's settings line past 120 characters)."""
    from featcache.recipes.files import DIGEST_COUNT

    return "train_digests" if key == DIGEST_COUNT else key


def _value_words(key: str, value: Any) -> str:
    """A head's or model's field as words: seconds as seconds (fit_seconds was 6.1670, as an accuracy; a reviewer)."""
    from featcache.recipes.files import DIGEST_COUNT

    if key == DIGEST_COUNT:  # what the count is for, and what none means
        # a Fashion-MNIST model's digests are of arrays, which a photo folder's never match (docs/photos.md): the
        # advice is a photo-folder model's, said so (a new-user tester was sent to check photos with one)
        return (f"{value} kept (of the training images: for a model of a photo folder, evaluate MODEL FOLDER says "
                "which photos it was trained on)" if value is not None
                else "none (exported before 2026-12-06, or from a head without them: evaluate MODEL FOLDER cannot "
                     "tell which photos the model was trained on)")
    if key.endswith("_seconds") and isinstance(value, (int, float)) and not isinstance(value, bool):
        from featcache.progress import seconds_text

        return seconds_text(value)
    return _words(value, _param_keys(key, value))


def _words(value: Any, params: Container[str] = ()) -> str:
    """A metadata value as words: dicts as ``key value`` pairs (nested ones in parentheses), lists of plain values
    joined, a list of records counted (its entries are in --json), floats to 4 places (small ones in 3 figures).
    Fine-tuning's record printed as a Python dict, its epochs and all (a new-user tester). A dict's keys in
    ``params`` are parameters, shown as the user types them (``validate.param_text``): a head's gamma 1e20 was
    ``100000000000000000000.0000``, its C 1e-5 ``1e-05`` and probability ``False`` (a tester)."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {param_text(v) if k in params and not isinstance(v, (dict, list)) else _nested(v)}"
                         for k, v in value.items() if v is not None)
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


def _resume(info: dict) -> str:
    """What resumes an unfinished cache (store.reader.resume_words, the words extract says too), of the file described:
    the partial where one was read for ``path``."""
    from pathlib import Path

    from featcache.store.reader import resume_words

    return resume_words(Path(info.get("partial") or info["path"]), info)
