"""One home for checking what a user passes in: each check returns the clean value or raises a one-line FeatcacheError.

Every message names the flag and the fix, so the CLI prints it as is
(``featcache CMD: error: ...``, exit 2) and the Python API raises the same
line. The CLI checks nothing of its own: argparse passes what the user typed
(``default=None``) and the API validates it here. ``arg_type`` turns a check
into an argparse ``type=`` where a flag must be refused before any work.

    list_items      a list argument's items: a comma list split, any other iterable listed, a number refused
    parse_list      comma lists (``"a,b"`` or a list), optionally from known names
    parse_sizes     whole numbers from a comma list (or a list of ints), sorted, unique
    whole_float     a number that is no int (2.0 too), which every whole-number setting refuses (scikit-learn's rule)
    not_whole       the one line of such a float: "epochs=2.0 is not a whole number; pass e.g. epochs=2"
    parse_seeds     a count K (seeds 0..K-1) or a list of seeds
    positive_int    a whole number from 1 to COUNT_MAX (2**31-1)
    nonnegative_int a whole number >= 0
    positive_number a positive finite number (a learning rate)
    check_jobs      --jobs: >= 1, or -1 for every core
    jobs_alias      jobs and its alias n_jobs (probe, learning_curve): one setting
    check_worker_cpus  --workers x --cpus-per-worker on this machine: at most its usable cores
    check_seed      0 <= seed < 2**32 (what NumPy's and Keras's seeding accept)
    check_limit     --train-limit style: the first N of the data's images, 1 <= N <= its size (None: all)
    check_fraction  0 < F < 1
    check_seconds   a finite number of seconds >= 0 (--lock-timeout)
    check_rows      Cache.features' rows: a slice, whole-number indices in any order, or a boolean mask
    parse_C         a number from C_MIN to C_MAX (C_RANGE: 1e-12 to 1e12), or 'cv'
    parse_params    --param NAME=VALUE (repeatable) or a dict -> a head's own parameters, values typed
    param_text      a parameter's value shown as a user types it (1e20, 0.001, true): every line that shows one
    check_path      an API's path argument: a str or os.PathLike, not empty (None was pathlib's TypeError), ~ expanded
    setting_path    a path a setting keeps (StoreSpec's out, a source's folder): check_path's rule, the user's type kept
    check_source    check_path of a file read, and a result featcache returned still the file it describes (Written)
    replaced_since  a result featcache returned whose file another was written over since (check_source's test)
    still_written   the file at a result's path still holds what the result recorded (evaluate names it then)
    expand_home     a leading ~ or ~user of a user's path expanded, its type kept (check_path's and the settings')
    check_number    a parameter given through the API: a (whole) number, not a bool or a string, in a range
    check_writable_dir  create a folder and prove a file can be written there
    check_out_dir   an output folder name: not a file, below a writable folder (creates nothing)
    check_out_file  an output file name: not a folder, the right suffix, in a writable folder
    check_replaceable  an existing output is a regular file (never a FIFO, device or socket)
    check_report_files  report files in a folder replace only a report featcache wrote, each still as it wrote it
    check_bool      an API's switch: True or False, never a truthy "no"
    require_splits  a cache holds the splits a command needs
    check_views     --train-views/--test-views: 'all' or view names, all of them in the cache; only:VIEWS without orig
    views_words     views as a reader is shown them, "(without the original view)" for only:VIEWS (without_words)
    pick_views      the one reading of a views option (only:VIEWS too) against the views had: a cache's, an export's
    FrozenMap       a settings object's mapping, checked: read-only and hashable, as its frozen dataclass (``frozen``);
                    its lists FrozenLists, given back as lists by ``thaw``
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import numbers
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

from featcache.errors import FeatcacheError, cli_running, clipped, example as eg, given, given_path, given_together, is_flag, option, python_text, unknown
from featcache.paths import folders_made_for, restore_killed
from featcache.progress import counted, size_text

F = TypeVar("F", bound=Callable[..., Any])

# NumPy's default_rng and Keras's set_random_seed take seeds below 2**32;
# a larger or negative one ends in a ValueError traceback inside them.
SEED_LIMIT = 2**32

# The largest count featcache takes (a head's epochs, batch_size, patience, max_iter, folds; positive_int's flags). Keras, NumPy and
# scikit-learn hand them to C as ints or longs: batch_size=<400 nines> was Keras's "Python int too large to convert to C
# long" and epochs=<400 nines> its "int too large to convert to float", tracebacks; max_iter=<4,000 digits> trained
# and printed all its digits (an adversarial tester; 2**62 still ran). A C int's largest, 2**31-1, is past any real
# run (two billion epochs) and within every library's type.
COUNT_MAX = 2**31 - 1


def list_items(value: str | Iterable[Any], flag: str = "the value", form: str | None = None) -> list[Any]:
    """A list argument's items: a str split at its commas, any other iterable (not bytes or a dict) as a list; anything
    else is one line, ``form`` (what ``flag`` takes, default a comma-separated str or a list) and what was given.
    probe(heads=5), probe(view_settings=5) and train(train_views=5) were "'int' object is not iterable" (an adversarial
    tester): the one home of the rule."""
    if isinstance(value, str):
        items = [s.strip() for s in value.split(",")]
        if not any(items):  # "" or "," names nothing: each caller's "is empty" line
            return []
        if "" in items:
            # "10,,20" was read as 10,20 while --views flip,,crop was refused: a doubled or stray comma is most often
            # a value lost in the typing, one rule for every comma list (a tester, h319's brief)
            raise empty_item(value, _noun(flag), flag=flag) if is_flag(flag) else empty_item(value, "item")
        return items
    # a 0-d NumPy array is Iterable by its type, yet iterating it is a TypeError: curve(sizes=np.array(20)) was
    # "iteration over a 0-d array", a traceback (an adversarial tester, h305)
    if isinstance(value, (bytes, dict)) or not isinstance(value, Iterable) or getattr(value, "ndim", None) == 0:
        raise FeatcacheError(f"{form or option(flag) + ' takes a comma-separated str or a list'} (got {shown(value)})")
    return list(value)


def empty_item(text: str, what: str, example: str | None = None, flag: str | None = None) -> FeatcacheError:
    """The one line of a comma list with an empty item (``10,,20``, ``flip,``): ``--sizes '10,,20' has an empty
    size; separate sizes with single commas``. ``what``: what one item is called; ``example``: a list written right;
    ``flag``: the option it was given to, where known."""
    said = given(flag, repr(text)) if flag else repr(text)
    return FeatcacheError(f"{said} has an empty {what}; separate {what}s with single commas"
                          + (f", e.g. {example}" if example else ""))


def view_items(views: Iterable[Any], flag: str | None = None) -> list[Any]:
    """The items of a views option given as no str (a list or tuple of names or views): ``list_items`` with the one
    line of what such an option takes, in the caller's words. curve(train_views=b"orig") iterated the bytes into
    "unknown view '111'", curve(test_views=5) was "'int' object is not iterable", and train(test_views=b"orig") named
    the command's --test-views to a Python call (an adversarial tester, 2026-12-07)."""
    name = option(flag) if flag else "views"
    return list_items(views, flag or "views", f"{name} takes 'all' or view names, e.g. 'orig,flip' or ['orig', 'flip']")


def _noun(flag: str) -> str:
    """``--heads`` -> ``head``: what one item of a list flag is called."""
    name = flag.lstrip("-").replace("-", " ")
    return name[:-1] if name.endswith("s") else name


def _whole(value: Any, flag: str, example: str, fits: Callable[[int], bool] | None = None) -> int:
    """An int from an int (NumPy's too) or, in a command, a string of digits; bools (NumPy's too) are not numbers here,
    nor is a float, 2.0 included (``whole_float``: ``fits`` says which int a refusal may suggest)."""
    if _is_bool(value):
        raise FeatcacheError(f"{given(flag, shown(value))} is not a whole number; pass e.g. {eg(flag, example)}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        raise not_whole(flag, value, example, fits)
    try:
        return int(str(value).strip())
    except ValueError:
        # '9' * 5000 is a whole number, beyond the digits int() reads: said so, not "is not a whole number"
        problem = typed_number_problem(value, math.inf) if isinstance(value, str) and _reads_infinite(value) else None
        said, fix = problem or ("is not a whole number", "pass")
        raise FeatcacheError(f"{given(flag, shown(value))} {said}; {fix} e.g. {eg(flag, example)}") from None


def whole_float(value: Any) -> bool:
    """Whether ``value`` is a number that is no int (a float, NumPy's too, a Fraction), which every whole-number
    setting refuses, 2.0 as 2.5: the one rule, scikit-learn's (``n_estimators=2.0`` is refused there; NumPy's ints
    are ints). epochs=2.0, seeds=2.0, top_k=2.0 and RayEngine(workers=2.0) were read as 2 while jobs=2.0 and every
    head parameter (``head_params={'keras': {'epochs': 2.0}}``, ``KerasHead(epochs=2.0)``) were refused, and a
    command's ``--epochs 2.0`` too (an adversarial tester; h301's brief). A float where a count goes is most often
    a computed one (``n / 2``) that happens to be whole this time."""
    return isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and not _is_bool(value)


def _integral(value: Any) -> int | None:
    """The int a float is equal to (2.0 -> 2), None where it is none (2.5, inf, nan)."""
    x = _as_float(value)
    return int(x) if math.isfinite(x) and x.is_integer() else None


def not_whole(name: str, value: Any, example: Any, fits: Callable[[int], bool] | None = None) -> FeatcacheError:
    """The one line of a whole-number setting given a float (``whole_float``), in the words of the others' ("epochs='5'
    is not a whole number; pass e.g. epochs=10"): ``epochs=2.0 is not a whole number; pass e.g. epochs=2``, the int
    it equals where the setting takes it (``fits``; default: from -COUNT_MAX to COUNT_MAX), else ``example``. ``name``:
    a flag (its keyword in a call) or a head parameter's ``ParamName`` (``KerasHead(epochs=2)``, ``--param epochs=2``)."""
    n = _integral(value)
    ok = fits if fits is not None else (lambda k: abs(k) <= COUNT_MAX)
    fix = n if n is not None and ok(n) else example
    said = setting(name, fix) if isinstance(name, ParamName) else eg(name, str(fix))
    return FeatcacheError(f"{typed_as(name, value)} is not a whole number; pass e.g. {said}")


def _text_for_number(value: Any) -> bool:
    """Whether ``value`` is a number's text given through the Python API, which a typed setting refuses: a command
    passes its flags as typed (argparse's text, read here), a Python call the number. FinetuneSettings(epochs="5") and
    ProbeSpec(holdout="0.2") were taken (probe's once it ran), as True was 1 epoch before ``_is_bool``: each check of a
    number refuses it in the line it gives a command's value that is no number (helper-281's brief). A list option's
    comma list (sizes="100,250") and a head's --param values are typed where they are read, not here; a list's
    items are numbers (sizes=["20"] is refused: ``parse_sizes``). Nor is any other value
    that is no number a number here (numbers are ``numbers.Real``, NumPy's included): bytes, UserString, Path and a 0-d
    array of text read as their number (FinetuneSettings(learning_rate=b'0.2'), epochs=UserString('5'); an adversarial
    tester), as did Decimal for epochs where seed refused it; bools are each check's own."""
    if isinstance(value, str):
        return not cli_running()
    return not isinstance(value, numbers.Real)


def _typed_whole(value: Any, flag: str, example: str, fits: Callable[[int], bool] | None = None) -> int:
    """``_whole`` of a setting that is one number: its text only from a command (``_text_for_number``), refused in
    ``_whole``'s words for text that is no number ("epochs='5' is not a whole number; pass e.g. epochs=10"), as is a
    float (``whole_float``; ``fits``: the ints the setting takes, for the one a refusal suggests)."""
    if _text_for_number(value):
        raise FeatcacheError(f"{given(flag, shown(value))} is not a whole number; pass e.g. {eg(flag, example)}")
    return _whole(value, flag, example, fits)


def _typed_float(value: Any, flag: str, example: str | None = None) -> float:
    """A setting that is one number, as a float: NaN for its text outside a command (``_text_for_number``) and for
    what is no number, which the caller refuses in its own words. With ``example``, a typed text that is no finite
    number is refused in ``_flag_number``'s words; without, it is read as it is (``_as_float``: a fraction's
    --holdout inf is no fraction, in the fraction's words)."""
    if _text_for_number(value):
        return math.nan
    if example is not None:
        return _flag_number(value, flag, example)
    try:
        return _as_float(value)
    except (TypeError, ValueError):
        return math.nan


def parse_list(value: str | Iterable[str], flag: str, known: Sequence[str] | None = None) -> list[str]:
    """Names from ``"a,b"`` or a list, in order, without repeats; each one of ``known`` when given."""
    items = list(dict.fromkeys(str(s).strip() for s in list_items(value, flag)))
    items = [s for s in items if s]
    choices = f" ({', '.join(known)})" if known else ""
    if not items:
        raise FeatcacheError(f"{option(flag)} is empty; give {_noun(flag)} names separated by commas{choices}")
    for name in items:
        if known is not None and name not in known:
            raise FeatcacheError(f"{option(flag)}: {unknown(f'{_noun(flag)} {name!r}', known)}")
    return items


def parse_sizes(sizes: str | Iterable[Any], flag: str = "--sizes") -> list[int]:
    """Sizes from ``"100,250,500"`` (a command's text, or the same comma list in a call) or a list of whole numbers;
    sorted, without repeats, each at least 1. A list's items are numbers, as every typed setting's are: its text
    (``sizes=["20"]``, ``np.array(["20"])``) is refused outside a command (``_text_for_number``), and a float, 20.0
    too (``whole_float``); both were read as 20 (an adversarial tester; h301's brief)."""
    items = list_items(sizes, flag)
    if not items:
        raise FeatcacheError(f"{option(flag)} is empty; pass training-set sizes like 100,250,500,1000")
    out = set()
    like = option("100,250,500,1000", "[100, 250, 500, 1000]")  # a Python call's sizes are a list
    for s in items:
        # every item that is no whole number gets the one fix (True and None went on to _whole's "pass e.g.
        # sizes=[...]" while 'x' and 1.5 said "pass sizes like [...]"; a review)
        if not _is_size_like(s, from_text=isinstance(sizes, str)):
            raise FeatcacheError(f"{given(flag + ':', repr(s) if isinstance(s, str) else shown(s))} is not a whole number; "
                                 f"pass sizes like {like}")
        n = _whole(s, f"{flag}:", "100,250,500,1000")
        if n < 1:
            raise FeatcacheError(f"{given(flag + ':', shown(n))} must be at least 1; pass sizes like {like}")
        out.add(n)
    return sorted(out)


def _is_size_like(s: Any, from_text: bool) -> bool:
    """Whether a sizes item reads as a whole number: a string of digits from a comma list's text (``from_text``) or,
    in a list, from a command alone (``_text_for_number``); else an int (NumPy's too), never a bool or a float."""
    if isinstance(s, str):
        # "-5" is a whole number: refused below as less than 1, not as "not a whole number" (a tester)
        return (from_text or not _text_for_number(s)) and re.fullmatch(r"\s*[+-]?\d+\s*", s) is not None
    return isinstance(s, numbers.Integral) and not _is_bool(s)


def check_bool(value: Any, name: str, why: str = "") -> bool:
    """A switch given through the API: True or False (NumPy's too), never a truthy "no" or 1 (an adversarial tester's
    trust_pickle="no" ran a pickle's code; standardize="no" standardized)."""
    if not _is_bool(value) and getattr(name, "assign", " ") == "=":  # a --param's: as its other values (typed_as; a review)
        raise FeatcacheError(f"{typed_as(name, value)} is not valid; use true or false")
    if not _is_bool(value):
        raise FeatcacheError(f"{name} must be True or False (got {shown(value)}){'; ' + why if why else ''}")
    return bool(value)


# What a switch does, said when it is given as anything but True or False (``checks_switches``): the API's
# switches whose wrong value would cost the user something (a file replaced, code run, images left unread).
SWITCH_WHY = {
    "force": "only True replaces a file featcache did not write, or one of another job",
    "trust_pickle": "only True loads a pickle, which runs any code in it",
    "recursive": "True reads the image files of every subfolder too",
}


def checks_switches(fn: F) -> F:
    """Check, before ``fn`` runs, every argument given for a parameter whose default is True or False
    (``check_bool``, with ``SWITCH_WHY``'s reason), and pass it on as a plain bool: the one home of that check for
    the API's switches. export(force="no") replaced a user's file, probe(on_test="no") scored on the test split
    and verbose="no" printed, where train's and save_head's own check_bool refused (an adversarial tester); each
    function checked the switches it remembered to."""
    import functools
    import inspect

    sig = inspect.signature(fn)
    switches = [name for name, p in sig.parameters.items() if isinstance(p.default, bool)]

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = sig.bind_partial(*args, **kwargs)
        except TypeError:  # a wrong call: Python's own error, from the call itself
            return fn(*args, **kwargs)
        for name in switches:
            if name in bound.arguments:
                bound.arguments[name] = check_bool(bound.arguments[name], name, SWITCH_WHY.get(name, ""))
        return fn(*bound.args, **bound.kwargs)

    return checked  # type: ignore[return-value]


def positive_int(value: Any, flag: str, high: int | None = COUNT_MAX, example: str = "10") -> int:
    """A whole number from 1 to ``high`` (epochs, batch sizes, limits, counts; None: the caller bounds it, with its
    own words): finetune's --batch-size <400 nines> was taken and recorded in the model (an adversarial tester); each
    goes to Keras or NumPy as a C int. ``example``: the value a refusal suggests."""
    n = _typed_whole(value, flag, example, lambda k: 1 <= k <= (COUNT_MAX if high is None else high))
    if n < 1:
        raise FeatcacheError(f"{given(flag, _as_given(value, n))} must be at least 1")
    if high is not None and n > high:
        raise FeatcacheError(f"{given(flag, _as_given(value, n))} is too large; use a whole number from 1 to {high}")
    return n


def _as_given(value: Any, n: int) -> str:
    """A whole number's value in a refusal as the call gave it (top_k=-0.0 was said as "top_k=0", an adversarial
    tester; a float is refused before since h301, ``whole_float``); a command's text as the number it reads as
    (--epochs ' 0' is 0)."""
    return shown(n) if isinstance(value, str) else shown(value)


def nonnegative_int(value: Any, flag: str, example: str = "20") -> int:
    """A whole number of at least 0 (finetune's --unfreeze: 0 trains the head alone). 1.5 is refused, not rounded:
    unfreeze=1.5 unfroze a layer without weights and saved a model fine-tuned on nothing (an adversarial tester)."""
    n = _typed_whole(value, flag, example, lambda k: 0 <= k <= COUNT_MAX)
    if n < 0:
        raise FeatcacheError(f"{option(flag)} must be 0 or more (got {_as_given(value, n)}); pass e.g. {eg(flag, example)}".strip())
    if n > COUNT_MAX:  # unfreeze=10**400 was made, to fail only when run (an adversarial tester); the model's own
        # bound (its layers) is checked when it is loaded
        raise FeatcacheError(f"{given(flag, _as_given(value, n))} is too large; use a whole number from 0 to {COUNT_MAX}")
    return n


def _flag_number(value: Any, flag: str, example: str) -> float:
    """A number flag's value as a float (NaN for what is no number, never a bool); a typed text that is no finite
    number (inf, nan) or reads as another number (1e400 as inf, 1e-400 as 0) is refused in ``typed_number_problem``'s
    words, ``example`` after them. A number the API is given is left to the caller's own check."""
    if _is_bool(value):  # NumPy's too: C=np.bool_(True) trained with C=1.0 (an adversarial tester)
        return math.nan
    try:
        x = _as_float(value)
    except (TypeError, ValueError):
        return math.nan
    problem = typed_number_problem(value, x) if isinstance(value, str) else None  # what was typed; the API's are its own
    if problem:  # --param C=1e-400 as --param's other lines say a typed number (typed_as); --C '1e400' as before
        raise FeatcacheError(f"{typed_as(flag, value)} {problem[0]}; {example}".strip())
    return x


def _reads_infinite(text: str) -> bool:
    try:
        return math.isinf(float(text))
    except ValueError:
        return False


def _is_number_text(text: Any) -> bool:
    """Whether ``text`` reads as a number (``float`` takes it). Anything else is no number's text: None, a list or
    1j given as a learning rate was float()'s TypeError, a traceback (a review, helper-298)."""
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _as_float(value: Any) -> float:
    """``float(value)``, a whole number beyond a float's range as an infinity of its sign: float(10**400) is an
    OverflowError, a traceback for train's --param l2=<400 nines> (an adversarial tester)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def positive_number(value: Any, flag: str, example: str) -> float:
    """A positive finite number (a learning rate), from a number (its text in a command); never a bool. A number's
    text in a Python call is refused in the words the other typed settings use (``_typed_whole``), suggesting the
    number it reads as: "learning_rate='1e-5' is not a number; pass e.g. learning_rate=1e-05" (it was "must be a
    positive number (got '1e-5')", of a positive number; a review)."""
    if _text_for_number(value):
        meant = _as_float(value) if _is_number_text(value) else math.nan
        fix = repr(meant) if meant > 0 and math.isfinite(meant) else example
        raise FeatcacheError(f"{given(flag, shown(value))} is not a number; pass e.g. {eg(flag, fix)}")
    x = _flag_number(value, flag, f"pass e.g. {eg(flag, example)}")
    if not (x > 0 and math.isfinite(x)):
        raise FeatcacheError(f"{option(flag)} must be a positive number (got {shown(value)}); pass e.g. {eg(flag, example)}".strip())
    return x


def _is_bool(value: Any) -> bool:
    """Python's bool or NumPy's (``np.bool_``, not a subclass of bool), or NumPy's ``timedelta64``: the one test by
    which every check here refuses a value that passes for a number and is none. np.bool_(True) slipped past
    ``isinstance(value, bool)``: train(C=np.bool_(True)) trained with C=1.0, StoreSpec(lock_timeout=np.bool_(True))
    waited 1 s (an adversarial tester). A timedelta64 is a subclass of NumPy's signed integers, so an Integral:
    curve(seeds=[np.timedelta64(2)]) ran seed 2 and a head parameter's comparison with a bound was a traceback
    (``probe(head_params={'logreg': {'max_iter': np.timedelta64(2)}})``: UFuncTypeError; h305)."""
    # NumPy 2 names its bool type "bool", NumPy 1 "bool_"
    return type(value).__name__ in ("bool", "bool_") or type(value).__name__ == "timedelta64"


def _num(x: float) -> str:
    """A bound of a range in a message, as a reader expects it (``number_text``: ">= 1", "< 1")."""
    return str(int(x)) if isinstance(x, numbers.Integral) else number_text(x)


@dataclass(frozen=True)
class ParamLabel:
    """The words a head's ``check_params`` names a parameter with: ``prefix`` before its name and ``assign`` between
    it and a value in an example. A head made in Python names its class ("LogRegHead max_iter 0 is not valid",
    ``of_class``); a value given as a command's ``--param`` is named as the user gave it ("--param max_iter 0 ...",
    "e.g. --param logreg.C=0.03"; ``of_flag``). Passed into the check, so its message is made right the first time:
    heads.check_param_values rewrote the class's words after the fact, by matching the text."""

    prefix: str
    assign: str = " "
    call: str = ""  # the class a parameter is a keyword of, for an example a Python call can take (of_class)
    python: bool = False  # a dict of a Python call (of_option): the name subscripted, a value as Python writes it

    @classmethod
    def of_class(cls, head: Any) -> "ParamLabel":
        """A head's class (or the head): "LogRegHead C 0 is not ...; e.g. LogRegHead(C=0.03)"."""
        name = (head if isinstance(head, type) else type(head)).__name__
        return cls(f"{name} ", call=name)

    @classmethod
    def of_flag(cls, flag: str) -> "ParamLabel":
        """``--param`` (NAME=VALUE) or ``--param logreg.`` (HEAD.NAME=VALUE)."""
        return cls(flag if flag.endswith(".") else f"{flag} ", "=")

    @classmethod
    def of_option(cls, flag: str, keyword: str, head: str | None = None) -> "ParamLabel":
        """A head's parameters given with an option, in the words of who gave them (``errors.option``'s rule): the
        command's ``flag`` (``--param C=nan``; with ``head``, ``--param logreg.C=nan``), or in a Python call the dict
        ``keyword`` (``params['C']=nan``, ``head_params['logreg']['C']=nan``). A curve's ``head_params`` dict was
        named "LogRegHead C nan", and train's ``params`` dict "--param C=nan" (an API tester)."""
        if cli_running():
            return cls.of_flag(f"{flag} {head}." if head else flag)
        return cls(keyword + (f"[{head!r}]" if head else ""), "=", python=True)

    def __call__(self, param: str) -> str:
        name = ParamName(f"{self.prefix}[{param!r}]" if self.python else f"{self.prefix}{param}")
        name.assign, name.call, name.param, name.python = self.assign, self.call, param, self.python
        return name


class ParamName(str):
    """A parameter's name in a message (``ParamLabel``'s), which knows how a value typed for it is joined to it:
    ``typed_as`` says ``--param max_iter=1e-400``, the form of parse_params' own lines (``--param max_iter=1e400 is
    not a finite number``), not ``--param max_iter '1e-400'`` (a review), for every value (a later review: "--param
    max_iter=1e-400 is too small" beside "--param max_iter 2.5 is not valid")."""

    assign: str = " "
    call: str = ""
    param: str = ""
    python: bool = False


def setting(name: str, value: Any) -> str:
    """``name`` set to ``value`` (as typed) in an example, in the words of who gave it: ``--C 0.03`` in a command,
    ``C=0.03`` (``C='cv'``) in a Python call (``errors.given``), ``--param logreg.C=0.03`` as --param is typed, and
    ``LogRegHead(C=0.03)`` for a parameter of a head made in Python (``ParamLabel.of_class``; it said "e.g. SVMHead
    C 0.03 or SVMHead C cv", words of no call; a tester)."""
    # a value that is no text (False) as Python writes it in a call, as param_text in a command
    python, text = (python_text(value), value) if isinstance(value, str) else (repr(value), param_text(value))
    call = getattr(name, "call", "")
    if call:
        return f"{call}({name.param}={python})"
    if getattr(name, "assign", " ") == "=":
        return f"{name}={python if getattr(name, 'python', False) else text}"
    return given(name, text, python)


def typed_as(name: str, value: Any) -> str:
    """``name`` and ``value`` for a message, the one form of a parameter's value in every line that names one: after a
    ``ParamName`` joined by "=", as typed (``--param max_iter=1e-400``, a text cut as parse_params cuts it;
    ``--param max_iter=2.5``, a value parse_params typed), else ``name`` and ``shown(value)`` (``LogRegHead max_iter
    '1e-400'``, ``--C '1e-400'``)."""
    if getattr(name, "python", False):  # a Python dict's value: as Python writes it ('1e-400' is text)
        return f"{name}={shown(value)}"
    if getattr(name, "assign", " ") == "=":
        return f"{name}={clipped(value.strip() if isinstance(value, str) else param_text(value, typed=True), 57)}"
    return given(name, shown(value))


def check_number(value: Any, name: str, *, whole: bool = False, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, example: Any = None, or_words: str = "") -> int | float:
    """A head's numeric parameter given through the API: a finite number (a whole one with ``whole``), never a bool or a
    string, from ``low`` to ``high`` (``low_open``/``high_open``: that end excluded). Returns it as int or float.

    The heads' ``check_params`` use it, so a curve's ``head_params={"keras": {"epochs": 0}}`` is refused in one line
    naming the parameter (it fitted nothing and wrote its accuracy as a result; an adversarial tester). ``or_words``:
    the other values it takes besides numbers ("or 'scale' or 'auto'"), said after the rule."""
    kind = "a whole number" if whole else "a number"
    if whole and whole_float(value) and (k := _integral(value)) is not None and not _broken(k, low, high, low_open, high_open):
        # 2.0 in the line of every whole-number setting (not_whole: "KerasHead(epochs=2)"); it said "is not valid; use
        # a whole number >= 1 and <= 2147483647", bounds 2.0 meets. Out of them, or 2.5: the bounds, as before
        raise not_whole(name, value, k)
    ok = not _is_bool(value) and isinstance(value, numbers.Integral if whole else numbers.Real)
    if ok:
        # a whole number is finite however long: math.isfinite(10**400) was an OverflowError's traceback (found here)
        ok = (isinstance(value, numbers.Integral) or math.isfinite(value)) and (low is None or (value > low if low_open else value >= low)) and (
            high is None or (value < high if high_open else value <= high))
    problem = typed_number_problem("", _as_float(value)) if ok and not whole else None  # a whole number read as a float
    if problem:
        raise FeatcacheError(f"{typed_as(name, value)} {problem[0]}; {problem[1]}" + (f", e.g. {example!r}" if example is not None else ""))
    if not ok:
        eg = f", e.g. {example!r}" if example is not None else ""
        underflow = _underflow(value)
        if underflow and not _broken(0.0, low, high, low_open, high_open):
            # typed too small to read where 0 is valid (dropout=1e-400): refused as not what was typed (it ran as 0; an
            # adversarial tester) with typed_number_problem's fix, "give 0 or a larger number". The bounds were said,
            # "use a number >= 0 and < 1", which the 0 it reads as meets (a review)
            raise FeatcacheError(f"{typed_as(name, value)} {underflow[0]}; {underflow[1]}{eg}")
        # else said with the bounds the 0 it reads as breaks (max_iter's >= 1), as any other value's are
        rule = _rule(0.0 if underflow else value, low, high, low_open, high_open)
        raise FeatcacheError(f"{typed_as(name, value)} {underflow[0] if underflow else 'is not valid'}; "
                             f"use {kind}{' ' + rule if rule else ''}" + (f" {or_words}" if or_words else "") + eg)
    return int(value) if whole else float(value)


def _rule(value: Any, low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """The bounds ``check_number`` says: those a number breaks, else (not a number, not whole, NaN) all of them.
    Every count's line ended "and <= 2147483647" (COUNT_MAX), also for an epochs of 0 that broke the low bound alone
    (a review)."""
    number = not _is_bool(value) and isinstance(value, numbers.Real) and not (isinstance(value, float) and math.isnan(value))
    broken = _broken(value, low, high, low_open, high_open) if number else []
    return " and ".join(broken or [text for text, _ in _bounds(low, high, low_open, high_open)])


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> list[tuple[str, Callable[[Any], bool]]]:
    """``check_number``'s bounds as (words, test) pairs."""
    bounds = [(f"{'>' if low_open else '>='} {_num(low)}", lambda x: x > low if low_open else x >= low) if low is not None else None,
              (f"{'<' if high_open else '<='} {_num(high)}", lambda x: x < high if high_open else x <= high) if high is not None else None]
    return [b for b in bounds if b]


def _broken(value: float | int, low: float | None, high: float | None, low_open: bool, high_open: bool) -> list[str]:
    """The words of the bounds the number ``value`` breaks ([] for none)."""
    return [text for text, holds in _bounds(low, high, low_open, high_open) if not holds(value)]


def check_seed_param(value: Any, name: str) -> int:
    """A head's ``seed`` parameter by ``check_number``'s rules (a whole number, never a str or a bool), 0 <= seed <
    SEED_LIMIT: the one check of every head's ``check_params`` (four heads had a copy). ``check_seed`` is the flags'
    (``--seed``), which also reads a string of digits."""
    return int(check_number(value, name, whole=True, low=0, high=SEED_LIMIT, high_open=True, example=0))


def check_seed(seed: Any, flag: str = "--seed") -> int:
    """A seed NumPy and Keras accept: a whole number, 0 <= seed < 2**32, read as every count is (``_whole``): a float
    is refused, 3.0 too (``whole_float``), as is a number's text outside a command."""
    if _is_bool(seed) or not isinstance(seed, (numbers.Real, str)):
        raise FeatcacheError(f"{given(flag, shown(seed))} is not a whole number; use one from 0 to {SEED_LIMIT - 1}")
    n = _typed_whole(seed, flag, "0", lambda k: 0 <= k < SEED_LIMIT)
    if not 0 <= n < SEED_LIMIT:
        raise FeatcacheError(f"{given(flag, shown(n))} is out of range; use a whole number from 0 to {SEED_LIMIT - 1}")
    return n


# Seeds per point of a curve: each is one more fit per size and head. --seeds 99999999999 built the list of
# seeds first and died in a MemoryError traceback (an adversarial tester); 1,000 fits per point is already days.
MAX_SEEDS = 1000
# Worker processes per CPU core at most: --jobs 100000 started hundreds of processes on 2 cores and drove the
# load to 80 (an adversarial tester). CPU-bound fits gain nothing past one or two per core.
MAX_JOBS_PER_CORE = 4


def parse_seeds(seeds: Any, flag: str = "--seeds") -> list[int]:
    """A count K (seeds 0..K-1, at most MAX_SEEDS) or a list of seeds, without repeats. A count is read as every
    count is (``positive_int``): seeds=1.0 was refused as "not a count or a list" (a session's note); it is "not a
    whole number", as 2.5 is and as every whole-number setting refuses a float (``whole_float``)."""
    if isinstance(seeds, (numbers.Real, str)) and not _is_bool(seeds):
        k = positive_int(seeds, flag, high=None)
        if k > MAX_SEEDS:
            raise FeatcacheError(f"{given(flag, shown(k))} is more seeds than featcache runs (each is a fit per size and head); "
                                 f"use at most {MAX_SEEDS}")
        return list(range(k))
    # seeds=True: "'bool' object is not iterable"; np.array('5') is an Iterable that iterates as a TypeError
    if isinstance(seeds, (bool, bytes, dict)) or not isinstance(seeds, Iterable) or getattr(seeds, "ndim", None) == 0:
        raise FeatcacheError(f"{option(flag)} takes a count K (seeds 0..K-1) or a list of seeds (got {shown(seeds)})")
    out = [check_seed(s, f"{flag}:") for s in seeds]
    if not out:
        raise FeatcacheError(f"{option(flag)} is empty; pass a count K (seeds 0..K-1) or a list of seeds")
    return list(dict.fromkeys(out))


def check_jobs(n: Any, flag: str = "--jobs") -> int:
    """Processes in parallel: a positive number (at most MAX_JOBS_PER_CORE per core), or -1 for every core. A float
    that is one of those is refused in ``not_whole``'s line (jobs=2.0: pass e.g. jobs=2), as every whole number's."""
    if whole_float(n) and (k := _integral(n)) is not None and (k == -1 or 1 <= k <= MAX_JOBS_PER_CORE * usable_cores()):
        raise not_whole(flag, n, k)
    if _is_bool(n) or not isinstance(n, numbers.Integral) or n == 0 or n < -1:
        # --param n_jobs=1e-400 (kept as typed: parse_params) is said to read as 0, as every other parameter's (a review)
        underflow = _underflow(n)
        raise FeatcacheError(f"{typed_as(flag, n)} {underflow[0] if underflow else 'is not valid'}; use a "
                             "positive number of processes, or -1 for every core")
    cores = usable_cores()
    most = MAX_JOBS_PER_CORE * cores
    if n > most:
        # the bound named, with where it comes from: "more processes than the 2 cores can run; use at most 8"
        # read as a contradiction (an adversarial tester)
        raise FeatcacheError(f"{given(flag, shown(n))} is more than featcache runs: at most {MAX_JOBS_PER_CORE} processes "
                             f"per core, {most} on the {counted(cores, 'core')} this process may use; use at most {most}, or -1 for "
                             "one per core")
    return int(n)


# The default of ``jobs`` in every function that takes it (probe, learning_curve: the CLI's --jobs).
JOBS_DEFAULT = 1


class _NotGiven(int):
    """``JOBS_DEFAULT`` as the signature default of ``jobs``: reads as that number (help(), the CLI's --jobs default
    via ``cli.common.api_default``), and is told from a ``jobs=1`` the caller gave by identity (``jobs_alias``)."""

    __slots__ = ()


JOBS_NOT_GIVEN = _NotGiven(JOBS_DEFAULT)


def jobs_alias(jobs: Any, n_jobs: Any) -> Any:
    """The number of worker processes of a function that takes ``jobs`` (the CLI's --jobs; default
    ``JOBS_NOT_GIVEN``, which is ``JOBS_DEFAULT``) and its alias ``n_jobs`` (scikit-learn's name; default None), the
    one rule of the two: the one given, else ``JOBS_DEFAULT``; both given is one line, whatever their values
    (``jobs=1, n_jobs=2`` ran 2 workers where ``jobs`` equalled its default). probe's main keyword was n_jobs with
    jobs its alias, learning_curve's the other way round, each with its own call of this (a notebook tester)."""
    if jobs is JOBS_NOT_GIVEN:
        # n_jobs checked under its own name: n_jobs=2.0 was refused as "jobs=2.0 is not a whole number; pass e.g.
        # jobs=2", a keyword the caller never typed (an adversarial tester, h305)
        return JOBS_DEFAULT if n_jobs is None else check_jobs(n_jobs, "--n-jobs")  # a Python call's n_jobs=
    if n_jobs is not None:
        # no flag in it: a command has no n_jobs, so only a Python call meets this line (errors.option's rule)
        raise FeatcacheError("jobs and n_jobs are one setting (the number of worker processes); give one of them")
    return jobs


def check_worker_cpus(workers: int, cpus_per_worker: int | None) -> None:
    """Ray actors on a private instance on this machine: ``workers`` x ``cpus_per_worker`` (default 1 at least) CPUs
    must be among its usable cores, as --jobs is bounded by them. --workers 2 --cpus-per-worker 8 ran on 2 cores
    (docs/ray.md says featcache refuses it), and --workers 1000 would have started 1000 actors (an adversarial tester)."""
    cores = usable_cores()
    per = cpus_per_worker or 1
    if workers * per > cores:
        w = min(workers, cores)
        both = given_together(given("--workers", str(w)), given("--cpus-per-worker", str(cores // w)))
        raise FeatcacheError(f"{given('--workers', str(workers))} x {given('--cpus-per-worker', str(per))} is {workers * per} CPUs, "
                             f"more than the {counted(cores, 'core')} of this machine featcache may use; ask for at most {cores} in all "
                             f"(e.g. {both}), or pass {option('--address', 'address=')} of a Ray cluster that has them")


def usable_cores() -> int:
    """The cores this process may run on: joblib's count, which honours CPU affinity and container limits
    (os.cpu_count() is the host's: 64 in a 2-CPU container, a review)."""
    from joblib import cpu_count

    return max(1, int(cpu_count()))


def workers_for(jobs: int, tasks: int) -> int:
    """joblib's n_jobs for ``tasks`` tasks: never more workers than tasks (--jobs 60 started 60 processes for 3 fits).
    Where joblib cannot start worker processes at all, one line says the tasks run one at a time (``SerialJobsNote``),
    and they run as --jobs 1 runs them, in this process: 1. joblib, given more, ran them one at a time too, through
    the workers' calls (``solver.call_in_worker``) and with a probe's features read again for each fold: a probe of
    two heads took 17.9 s at --jobs 2 there, 5.1 s at --jobs 1, the same results (h314's review)."""
    wanted = usable_cores() if jobs < 0 else jobs
    if jobs != 1 and tasks > 1 and not _worker_processes():
        from featcache.errors import warn

        warn(f"{given('--jobs', str(jobs))}: joblib cannot start worker processes here (it could not make a process "
             "semaphore: /dev/shm full or not writable, or a file size limit such as ulimit -f), so the "
             f"{tasks} fits run one at a time", SerialJobsNote)
        return 1
    return max(1, min(wanted, tasks))


def _worker_processes() -> bool:
    """Whether joblib can start worker processes: it cannot where its import failed to make a semaphore, and then it
    runs every Parallel one task at a time (its ``mp`` None), which it said only in its own import-time warning, a
    UserWarning the CLI leaves out (``cli._start``)."""
    from joblib import _multiprocessing_helpers

    return _multiprocessing_helpers.mp is not None


class SerialJobsNote(UserWarning):
    """``--jobs`` above 1 where joblib cannot start worker processes: the tasks run one at a time."""

    label = "note"  # the results are the same; the CLI says "note:"


def check_limit(limit: int | None, n_total: int, flag: str, what: str) -> int:
    """How many of the first images a ``--train-limit`` style option takes: ``limit``, at least 1 and at most the
    ``n_total`` ``what`` there are (``"train images"``), or all of them when None."""
    if limit is None:
        return n_total
    if limit < 1:
        raise FeatcacheError(f"{option(flag)} must be at least 1 (got {shown(limit)})")
    if limit > n_total:
        raise FeatcacheError(f"{given(flag, shown(limit))} is beyond the {n_total} {what}; use at most {n_total}")
    return limit


def check_fraction(value: Any, flag: str) -> float:
    """A number strictly between 0 and 1 (its text in a command: ``_text_for_number``)."""
    f = _typed_float(value, flag)
    if _is_bool(value) or not 0 < f < 1:
        text = clipped(value, 57) if isinstance(value, str) else shown(value)  # as typed, unquoted, cut
        raise FeatcacheError(f"{given(flag, text, shown(value))} is not a fraction; use a number between 0 and 1, e.g. "
                             f"{eg(flag, '0.2')}")
    return f


def check_seconds(value: Any, flag: str) -> float:
    """A duration: a finite number of seconds, 0 or more (0: do not wait at all)."""
    t = _typed_float(value, flag, f"use 0 or more seconds, e.g. {given(flag or '--lock-timeout', '60')}")
    if math.isfinite(t) and t < 0:  # a number, and what is wrong with it said: "-1 is not a number" read as false
        raise FeatcacheError(f"{given(flag, shown(value))} is negative; use 0 or more seconds (0: do not wait), e.g. "
                             f"{given(flag or '--lock-timeout', '60')}")
    if not (t >= 0 and math.isfinite(t)):
        raise FeatcacheError(f"{given(flag, shown(value))} is not a number of seconds; use 0 or more, e.g. "
                             f"{given(flag or '--lock-timeout', '60')}")
    return t


def check_lock_timeout(value: Any) -> float | None:
    """``--lock-timeout`` (``lock_timeout=``) of every command that waits on a lock (extract's ``StoreSpec``, predict,
    evaluate, curve) as checked seconds, or None, each command's own default: one home, where four spelled it."""
    return None if value is None else check_seconds(value, "--lock-timeout")


def check_rows(rows: Any, n: int, flag: str = "rows") -> "slice | Any | None":
    """Which of ``n`` rows to read: None (all), a slice with a positive step (returned as is), or an int64 index array
    in the order asked (repeats kept; negative indices count from the end, as NumPy's) from a list, tuple, range or
    array of whole numbers, or from a boolean mask of exactly ``n``. Anything else is one line: a tuple (1, 2) read
    a 0-d scalar, [3, 1] was h5py's "increasing order" TypeError, floats and short masks a bare IndexError (an
    adversarial tester)."""
    import numpy as np

    if rows is None:
        return None
    example = f"pass a slice such as slice(0, 100), a list of row numbers from 0 to {n - 1}, or a boolean mask of {n} values"
    if isinstance(rows, slice):
        try:
            start, stop, step = rows.indices(n)
        except (TypeError, ValueError) as exc:
            raise FeatcacheError(f"{flag} {rows!r} is not a slice of rows ({exc}); {example}") from None
        if step > 0:
            return slice(start, stop, step)
        return np.arange(start, stop, step, dtype=np.int64)  # h5py reads only increasing slices
    if isinstance(rows, (bool, str, bytes, dict, set, frozenset)) or isinstance(rows, numbers.Number) \
            or not isinstance(rows, (list, tuple, range, np.ndarray)):
        raise FeatcacheError(f"{flag} {rows!r} is not a selection of rows; {example}")
    try:
        arr = np.asarray(rows)
    except (TypeError, ValueError):  # a ragged list
        raise FeatcacheError(f"{flag} is not a flat list of row numbers; {example}") from None
    if arr.size == 0:
        return np.empty(0, np.int64)
    if arr.ndim != 1:
        raise FeatcacheError(f"{flag} has shape {arr.shape}, not one row number (or mask value) per entry; {example}")
    if arr.dtype == bool:
        if len(arr) != n:
            raise FeatcacheError(f"{flag} is a boolean mask of {len(arr)} values for {n} rows; {example}")
        return np.flatnonzero(arr).astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise FeatcacheError(f"{flag} holds {arr.dtype} values, not whole row numbers (nor a boolean mask); {example}")
    bad = arr[(arr < -n) | (arr >= n)]
    if len(bad):
        raise FeatcacheError(f"{flag} names row {bad[0]}, beyond the {n} rows there are; {example}")
    return (arr.astype(np.int64) % n) if n else arr.astype(np.int64)


# The C values a fit can use (train's and probe's --C, every head's C). Measured on real cached features
# (MobileNetV2 at 96 px, out_relu and block_13_expand_relu: 245 ants/bees photos, 2,000 Fashion-MNIST images,
# and subsets of 20 and 200), logreg and the SVM at every power of ten from 1e-320 to 1e308:
# - Below: logistic regression's penalty, 1 / (C * rows) in float32, overflows once C * rows < 3e-39 (C=1e-42 on both
#   caches: 204 RuntimeWarnings and lbfgs's ABNORMAL stop at iteration 0, a constant head; --C 1e-310 printed 18
#   lines), and its weights are lost to float32 rounding once C * rows is below about 2e-9 (every image then gets the
#   same probabilities: at C=1e-11 on 20 and 200 rows, at 1e-12 on 2,000). The smallest C that did better than the
#   majority class was 1e-5 for logreg (1e-10 on 2,000 images, barely) and 1e-2 for the SVM; logreg's scales with
#   1 / rows, so a cache of a million rows (60,000 images x 16 views) would start near 1e-9. C_MIN stays more than
#   two decades under that, and 27 above the overflow.
# - Above: nothing changes past it: logreg's probabilities are bit-identical from C=1e12 to 1e308 (at all four sizes;
#   1e10 still differed by up to 1e-6), the SVM's decision values from C=1e2 on.
C_MIN, C_MAX = 1e-12, 1e12


C_RANGE = f"{C_MIN:.0e} to {C_MAX:.0e}".replace("+", "")  # "1e-12 to 1e12", for the help and the errors (1e+12 reads as a sum)


def parse_C(value: Any, flag: str = "--C", assign: str = " ") -> float | str:
    """A regularization strength: a number from ``C_MIN`` to ``C_MAX``, or ``"cv"`` (chosen by cross-validation).
    ``flag`` names it, ``assign`` joins it to a value in the example: "--C 0.03", "--param logreg.C=0.03"."""
    if isinstance(value, str) and value.strip() == "cv":
        return "cv"
    name = flag or "--C"
    if assign != getattr(name, "assign", " "):  # a plain str joined as typed (--param logreg.C=...)
        name = ParamName(name)
        name.assign = assign
    example = f"e.g. {setting(name, '0.03')} or {setting(name, 'cv')}"
    # a number is a number, its text only a command's: train(C="1") trained with C=1.0, C=b"5" as 5.0 (an adversarial
    # tester); 'cv' alone is C's text
    c = _typed_float(value, flag, example)
    if not (c > 0 and math.isfinite(c)):  # --param C=abc as every --param value (typed_as)
        raise FeatcacheError(f"{typed_as(flag, value)} is not a positive number or 'cv'; {example}")
    if not C_MIN <= c <= C_MAX:  # 1e-310 passed, and fitted a constant head under 18 lines of scikit-learn's warnings
        raise FeatcacheError(f"{typed_as(flag, value)} is out of range: use a number from {C_RANGE} (below, the "
                             f"head ignores the features; above, every C gives the same head), or 'cv'; {example}")
    return c


def _param_value(text: str) -> Any:
    """A --param value as typed: true/false, none, a whole number, a number, else the text itself (gamma=scale);
    spaces around it dropped for each (a number's were, so 'gamma= scale' was ' scale', refused as not 'scale')."""
    text = text.strip()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if text.isascii():  # a full-width or Arabic-Indic digit is no number a user typed as one (a tester)
        for kind in (int, float):
            try:
                value = kind(text)
            except ValueError:
                continue
            # 1e4 is the whole number 10000 (max_iter=1e4 was refused as "10000.0 is not valid; use a whole number")
            return int(value) if kind is float and "e" in low and value.is_integer() and abs(value) < 2**63 else value
    return text


def _nonzero_digit(text: str) -> bool:
    """Whether a number's mantissa, as typed, has a digit other than 0 (``1e-400`` and ``0.000...0001`` with 400
    zeros do, both read as 0; ``0.0e5`` does not)."""
    text = text.strip().lower()
    if not text.isascii():
        return False
    mantissa = text.split("e", 1)[0]
    return any(c in "123456789" for c in mantissa)


def _underflow(value: Any) -> tuple[str, str] | None:
    """``typed_number_problem``'s (problem, fix) for a text that reads as 0 but types a smaller number (``1e-400``),
    else None."""
    if not isinstance(value, str):
        return None
    try:
        x = float(value)
    except ValueError:
        return None
    return typed_number_problem(value, x) if x == 0 else None


def typed_number_problem(text: str, value: float | int) -> tuple[str, str] | None:
    """Why ``value``, read from the number typed as ``text``, is not that number, as (problem, fix); None when it is.

    1e400 reads as inf and 1e-400 as 0: a check of the value then named a value never typed (a review: "--param
    max_iter inf"; testers: "--C 1e400 is not a positive number"). One home for --param's values and the number
    flags (--C, --lr, --lock-timeout), so each says the same words."""
    digits = text.strip().lstrip("+-")
    if isinstance(value, float) and not math.isfinite(value) and digits.isascii() and digits.isdigit() \
            and len(digits) > sys.get_int_max_str_digits() > 0:
        # int() refuses a text of more than 4,300 digits (Python's limit): "beyond a float's range" was said of a whole
        # number's --param max_iter=<5,000 digits> (an adversarial tester)
        return (f"has {len(digits)} digits, more than the {sys.get_int_max_str_digits()} Python reads in a whole number",
                "give a smaller number")
    if isinstance(value, float) and not math.isfinite(value):  # a whole number is finite, however long
        beyond = " (beyond a float's range, about 1.8e308)" if not any(w in text.lower() for w in ("inf", "nan")) else ""
        return f"is not a finite number{beyond}", "give a finite one"
    if value == 0 and _nonzero_digit(text):
        return "is too small for a float (below about 5e-324, it reads as 0)", "give 0 or a larger number"
    return None


def parse_params(value: Any, flag: str = "--param", head: str = "", keyword: str = "params") -> dict[str, Any]:
    """A head's own parameters: ``["dropout=0.5", "gamma=scale"]`` (the CLI's repeated ``--param``) or a dict.

    Names must be Python identifiers and given once; a value from the command
    line is typed by ``_param_value``, and a number it reads as infinite or NaN
    is refused here; one too small to read (1e-400) is kept as typed, for the
    head's check to refuse with the parameter's bounds (``check_number``). Whether the head takes the name and the value is the head's
    own check (``heads.make_head``, its ``check_params``). ``head``: the head
    the items named (``HEAD.NAME=VALUE``; ``heads.parse_head_params``), for
    the messages; ``keyword``: the API's name of the option (train's ``params``), whose messages say a Python dict.
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        pairs = dict(value)
    else:
        pairs = {}
        for item in [value] if isinstance(value, str) else list_items(value, flag):
            name, sep, text = str(item).partition("=")
            name = name.strip()
            if not sep:
                raise FeatcacheError(_not_name_value(item, name, flag, keyword))
            if name in pairs:  # the second kept without a word is a run the user did not ask for
                raise FeatcacheError(f"{option(flag, keyword)} gives {name!r} twice; give each parameter once")
            pairs[name] = _param_value(text)
            # No head takes an infinite or NaN number; keras.dropout=1e-400 ran with dropout 0 (an adversarial tester)
            problem = (typed_number_problem(text, pairs[name])
                       if isinstance(pairs[name], (int, float)) and not isinstance(pairs[name], bool) else None)
            if problem and pairs[name] == 0:
                # too small to read (1e-400): kept as typed, so the head's check refuses it with the parameter's own
                # bounds; "give 0 or a larger number" was said of max_iter, which takes 1 or more (an adversarial tester)
                pairs[name] = text.strip()
            elif problem:
                shown_item = f"{head + '.' if head else ''}{name}={clipped(text.strip(), 57)}"
                said = f"{flag} {shown_item}" if cli_running() else f"{keyword} item {shown_item!r}"
                raise FeatcacheError(f"{said} {problem[0]}; {problem[1]}")
    for name in pairs:
        if not isinstance(name, str) or not name.isidentifier():
            # no head's parameter as the example: 'logreg.=3' in a curve was shown the Keras head's dropout (a tester)
            fix = (f"write {flag} NAME=VALUE, NAME one of the head's parameters" if cli_running() else
                   f"the keys of {keyword} are the head's parameter names, e.g. {keyword}={{'max_iter': 2000}}")
            raise FeatcacheError(f"{option(flag, keyword)}: {shown(name)} is no parameter name; {fix}")
    return pairs


def _not_name_value(item: Any, name: str, flag: str, keyword: str) -> str:
    """The line for an item of ``--param`` without "=": the command's (its flag, the user's own word in the example:
    'train --head logreg --param max_iter' was shown dropout=0.5), or a Python call's, which says ``keyword`` is a
    dict there (``params=[("C", 1)]`` was told to write "--param NAME=VALUE"; an API tester)."""
    if cli_running():
        example = f"{name}=..." if name.isidentifier() else "NAME=VALUE"
        return f"{flag} {item!r} is not NAME=VALUE; write e.g. {flag} {example}"
    pair = item if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) else None
    example = (f"{{{pair[0]!r}: {shown(pair[1])}}}" if pair else
               f"{{{name!r}: ...}}" if name.isidentifier() else "{'max_iter': 2000}")
    return (f"{keyword} item {shown(item)} is not 'NAME=VALUE'; in Python, {keyword} is a dict of the head's "
            f"parameters, e.g. {keyword}={example}")


def check_path(value: Any, name: str, what: str, keyword: str | None = None) -> Path:
    """A path given through the API: a str, bytes or os.PathLike naming something, ``~`` expanded (``expand_home``).
    None, a number or a list ended in pathlib's "expected str, bytes or os.PathLike object" TypeError (an
    adversarial tester's open_cache(None), train(None), predict(model, None)); ``what`` says what to pass instead.
    ``keyword``: the call's parameter where it is not ``name`` (``load_head(123)`` said "head must be a path", a
    keyword load_head has not)."""
    return Path(setting_path(value, name, "a path", keyword, fix=f"pass {what}"))


def setting_path(value: Any, name: str, what: str, keyword: str | None = None, fix: str = "") -> str | Path:
    """A path a setting keeps (StoreSpec's ``out``, FashionMNIST's ``data_dir``, PhotoFolder's ``root``), by
    ``check_path``'s rule: a str, bytes or os.PathLike naming something, ``~`` expanded. Kept as the user's type
    (a str a str, an os.PathLike a Path), bytes decoded as ``os.fsdecode`` does, as os's functions and
    ``check_path`` take them: ``StoreSpec(out=b"c.h5")`` and ``FashionMNIST(data_dir=b"fm")`` were refused, where
    ``open_cache(b"c.h5")`` and ``train(out=b"h.npz")`` took them (an API tester). ``what``: "a file path", "a folder
    path"; ``fix``: what to pass, after the line."""
    if isinstance(value, (str, bytes, os.PathLike)):
        text = os.fsdecode(value)
        if text:
            return expand_home(Path(text) if isinstance(value, os.PathLike) else text)
    raise FeatcacheError(f"{option(name, keyword)} must be {what} (got {shown(value)}){'; ' + fix if fix else ''}")


@dataclass(frozen=True)
class Written:
    """What a result of a file featcache wrote (TrainResult, ExportResult, FinetuneResult, ExtractResult) recorded of
    it, to tell that the file at its path is still that one: ``record`` (a head's or model's content digest, a cache's
    fingerprint) and ``what`` the file is ("head", "model", "cache"). Each result gives it as ``written()``, with
    ``now(path)``: the record of the file there now, None where it has none (the reader says what it is); ``again``:
    how to have a result of the file there now ("train again")."""

    record: str | None
    what: str
    now: Callable[[Path], str | None]
    again: str


def check_source(value: Any, name: str, what: str, keyword: str | None = None) -> Path:
    """``check_path`` of a file to read, and where ``value`` is a result featcache returned of a file it wrote (its
    ``written()``: ``Written``), that the file at its path is still that one. A result goes where its path goes
    (``os.PathLike``), but it describes the file as written, and a train, export or extract to the same path since
    replaced it: ``export(r1)`` exported the head the second train saved there, while ``evaluate(r1)`` scored the
    first, kept in memory (an adversarial tester). Checked where the file is opened, not in ``__fspath__``: the
    result's path stays a path to move or remove the file by. A file gone or of no record is left to the reader.
    ``keyword``: the call's keyword where it is not ``name`` (``load_head(path)``: "pass the path as a str (head=...)"
    named a keyword load_head has not; a review)."""
    path = check_path(value, name, what, keyword)
    record = replaced_since(value, path)
    if record is not None:
        kind = type(value).__name__
        raise FeatcacheError(f"{path} is no longer the {record.what} this {kind} describes (another {record.what} was "
                             f"written there since); pass the path as a str ({option(name, keyword)}={str(path)!r}) to use "
                             f"the {record.what} there now, or {record.again} to have a result of it")
    return path


def replaced_since(value: Any, path: Path) -> Written | None:
    """``value``'s record (``Written``) where it is a result featcache returned of a file it wrote and the file at
    ``path`` is another one now, written there since; else None: still that file, gone, damaged or of no record (left
    to the reader), or ``value`` a plain path. ``check_source`` refuses such a result; ``evaluate`` scores a
    TrainResult's head from memory and names no file for it."""
    written = getattr(value, "written", None)
    if isinstance(value, (str, bytes, Path)) or not callable(written):
        return None
    record = written()
    if not isinstance(record, Written) or record.record is None:
        return None
    try:  # a regular file only: a FIFO put at the path blocked load_head(result) in open(), before its reader's check
        now = record.now(path) if path.is_file() else None
    except FeatcacheError:
        now = None  # damaged, busy: the reader says so
    return record if now is not None and now != record.record else None


def still_written(value: Any, path: Path) -> bool:
    """Whether the file at ``path`` still holds what ``value`` (a result featcache returned of a file it wrote: its
    ``written()``) recorded of it: False where another was written there since (``replaced_since``), or it is gone,
    cannot be read (damaged, busy) or holds no record now. A result of no record is taken as its file while that is
    there. ``evaluate`` names a TrainResult's file only while this holds: it named a gone or damaged one for the head
    it scored from memory (a reviewer, 2026-12-06)."""
    if not path.is_file():
        return False
    written = getattr(value, "written", None)
    record = written() if callable(written) and not isinstance(value, (str, bytes, Path)) else None
    if not isinstance(record, Written) or record.record is None:
        return True
    try:
        return record.now(path) == record.record
    except (FeatcacheError, OSError):  # damaged, busy, unreadable: not a file to name for the head held
        return False


def check_file_name(value: Any, flag: str, keyword: str, example: str) -> None:
    """A file to write named with a separator at its end (``out/``, ``h.npz/``) is refused as it was given, before
    pathlib drops the separator: ``predict --csv out/``, ``train --out h.npz/`` and ``extract --out x.h5/`` wrote a
    file where the user named a folder (an adversarial tester). The one rule of every file output, the CLI's and the
    API's: ``flag`` and ``keyword`` name the option (``keyword`` may be a form, ``"StoreSpec(out={})"``), ``example``
    a file name to suggest in that folder. A ``Path`` keeps no separator at its end: nothing to see there."""
    if not isinstance(value, (str, bytes)):
        return
    text = os.fsdecode(value)
    seps = tuple(sep for sep in (os.sep, os.altsep) if sep)
    # A last part "." (or "..") after a separator names a folder too, and pathlib drops a trailing "." as it does
    # the separator: 'extract --out "x.h5/."' wrote x.h5 (a reviewer, 2026-12-06). Said by its ending as typed ('/.',
    # '/..'). A bare "." or ".." is left to the checks that say "is a folder".
    last = text
    for sep in seps:
        last = last.rsplit(sep, 1)[-1]
    dotted = last in (".", "..") and len(text) > len(last)
    end = text[-(len(last) + 1):] if dotted else text[-1:]
    if not text.endswith(seps) and not dotted:
        return
    named, suggested = (given_path(flag, name, keyword, word=True)
                        for name in (text, text.rstrip("".join(seps)) + os.sep + example))
    raise FeatcacheError(f"{named} ends in {end!r}, which names a folder, not a file; drop the {end!r}, "
                         f"or name a file in that folder, e.g. {suggested}")


P = TypeVar("P", str, Path)


def expand_home(path: P) -> P:
    """A user's path with a leading ``~`` or ``~user`` expanded as a shell does (``os.path.expanduser``), of the type
    given and otherwise as given: the one home of the rule, for ``check_path`` and the settings that keep a path
    (PhotoFolder's root, FashionMNIST's data_dir, ModelSpec's weights, StoreSpec's out). A shell expands ``~`` before
    the CLI sees it; the API took open_cache("~/x.h5") and PhotoFolder("~/photos") for a folder named ``~`` in the
    current one (a notebook tester)."""
    return type(path)(os.path.expanduser(path)) if isinstance(path, Path) else os.path.expanduser(path)


def number_text(value: float, typed: bool = False) -> str:
    """A float as a reader expects it, in Python's ``%g`` form with the fewest significant digits that read back as
    the same float: positional from 1e-4 up to 10**6 (or as many digits as it has), else an exponent without '+' or
    leading zeros: ``10``, ``500``, ``0.001``, ``200.5``, ``1e20``, ``1e-5``. ``--param gamma=1e20`` was echoed as
    ``1e+20`` and ``info`` showed ``100000000000000000000.0000`` (a tester); then the fewest digits in ``%g``'s
    exponent rule (``%.1g``) made 10 ``1e1`` and 500 ``5e2`` (a new-user tester: "C 1e1, cache_size 5e2").

    ``typed``: as it is typed back to read as a float: a whole one keeps ``.0`` (``2.0``), as ``--param`` reads
    ``2`` as a whole number, and "max_iter 2 is not a whole number" would contradict itself."""
    x = float(value)
    if not math.isfinite(x):
        return repr(x)  # inf, -inf, nan
    from decimal import Decimal

    shortest = Decimal(repr(x)).normalize()  # repr's digits: the fewest that read back as x (5e-324, not 4.94066e-324)
    # %g's rule, its precision at least these digits: no exponent for 10, 123456 or 1234567 (7 digits), one for 1e6
    if -4 <= shortest.adjusted() < max(len(shortest.as_tuple().digits), 6):
        text = format(shortest, "f")
        return f"{text}.0" if typed and "." not in text else text
    mantissa, _, exponent = format(shortest, "e").partition("e")
    return f"{mantissa}e{int(exponent)}"


def param_text(value: Any, typed: bool = False) -> str:
    """A parameter's value shown to a user, the one form of every line that shows one (train's status line, probe's
    suggested train command and notes, ``info``, a curve's legend): ``true``/``false``, ``none``, a whole number's
    digits, a float by ``number_text`` (``typed``: as typed after ``--param NAME=`` to read back as a float), a text as
    is. Python's str and repr had each site its own: ``gamma=1e+20``, ``probability=False``, ``gamma
    100000000000000000000.0000`` (a tester)."""
    if _is_bool(value):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, numbers.Integral):
        try:
            return str(int(value))
        except ValueError:  # int's str refuses more than 4,300 digits
            return f"<a whole number of {_digits(value)} digits>"
    if isinstance(value, numbers.Real):
        return number_text(value, typed)
    return value if isinstance(value, str) else shown(value)


def shown(value: Any, limit: int = 60) -> str:
    """``value`` for a one-line message: its repr on one line, cut to ``limit`` characters (``errors.clipped``), an
    array as its type, shape and dtype (predict given a list of arrays put each array's repr, many lines, in its error;
    a tester), a whole number too long for ``repr`` (``sys.get_int_max_str_digits``) as its count of digits.
    A 5,000-digit --param value was printed whole: a 5,100-character "one line" (an adversarial tester)."""
    if hasattr(value, "shape") and hasattr(value, "dtype") and getattr(value, "shape", None) != ():
        # an array; a NumPy scalar is its repr (np.True_): "--seed a bool of shape () and dtype bool" (found here)
        return f"a {type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    try:
        # a float as typed (1e20, not repr's 1e+20; a tester); a str keeps its quotes ('1e-400' is text, not a number)
        text = number_text(value, typed=True) if type(value) is float else repr(value).replace("\n", " ")
    except ValueError:  # int's repr refuses more than 4,300 digits
        return f"<a whole number of {_digits(value)} digits>"
    return text if len(text) <= limit else clipped(text, limit - 3)


def _digits(n: int) -> int:
    """How many decimal digits ``n`` has, without ``str`` (which refuses a very long one)."""
    n = abs(int(n))
    if n == 0:
        return 1
    d = int(math.log10(n))  # a float's log10: off by one just below a power of ten, corrected here
    d += (10 ** (d + 1) <= n) - (10**d > n)
    return d + 1


def check_writable_dir(path: str | Path, flag: str = "--out") -> Path:
    """Create ``path`` and prove a file can be written there, before any long work."""
    import tempfile

    directory = check_path(path, flag, "a folder for the output files")
    _check_not_other(directory, flag)  # not "cannot write in FILE (File exists)"
    try:
        with folders_made_for(directory):  # removed again where no file can be written (a full disk)
            directory.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-test.")
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        from featcache.errors import is_no_space, no_space

        if is_no_space(exc):  # the full-disk line, not "cannot write in DIR (No space left on device); choose a
            # writable --out" (a review's full-disk pass); its one home, which also tells a file size limit
            # the probe file's path: no_space names the disk of its parent, the folder itself (a mount point too)
            raise no_space(directory / ".write-test", advice=f"choose {option(flag)} elsewhere", exc=exc) from None
        raise cannot_write_in(directory, exc.strerror, option(flag)) from None
    return directory


def cannot_write_in(directory: str | Path, why: str, out: str) -> FeatcacheError:
    """The one line for an output folder this process cannot write in (``why``: the system's words), ``out`` the
    option (or field) that chooses it: checked before the work (``check_writable_dir``, ``check_out_dir``), and
    met during it (extract's folder made read-only mid-run named featcache's hidden temporary file; a tester)."""
    return FeatcacheError(f"cannot write in {directory} ({why}); choose a writable {out}")


def mount_point(path: str | Path) -> Path:
    """The mount point of the file system ``path`` is on (or would be on: its nearest existing folder)."""
    d = Path(os.path.abspath(path))
    while not d.exists() and d != d.parent:
        d = d.parent
    while not os.path.ismount(d) and d != d.parent:
        d = d.parent
    return d


def _check_not_other(path: Path, flag: str) -> None:
    """``path`` is a folder or absent; a FIFO (or a link to one) is named as one, not as "a file" (an adversarial tester)."""
    if os.path.lexists(path) and not path.is_dir():
        what = "a file" if path.is_file() else kind_of(path)
        raise FeatcacheError(f"{given_path(flag, path)} is {what}, not a folder; name a folder for the output files")


def check_out_dir(path: str | Path, flag: str = "--out") -> Path:
    """An output folder's name before any work, creating nothing: not a file, below a folder this process can write in."""
    path = check_path(path, flag, "a folder for the output files")
    _check_not_other(path, flag)
    parent = Path(os.path.abspath(path))
    # os.path.exists, not Path.exists: below a folder this process cannot search, Path.exists raised
    # PermissionError (a traceback; an adversarial tester); the climb then stops at that folder, refused below
    while not os.path.exists(parent) and parent != parent.parent:
        parent = parent.parent
    if not os.path.isdir(parent):
        raise FeatcacheError(f"{given_path(flag, path)}: {parent} is a file, not a folder; name a folder for the output files")
    if not os.access(parent, os.W_OK | os.X_OK):
        # access(2) says no on a read-only mount too: said as the other commands' writes say it (an adversarial tester)
        why = os.strerror(errno.EROFS) if _read_only_mount(parent) else "permission denied"
        raise cannot_write_in(parent, why, option(flag))
    return path


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def closest(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice nearest to a mistyped ``name`` (difflib's ratio at least ``cutoff``), for a "did you mean" hint."""
    import difflib

    near = difflib.get_close_matches(name, list(choices), n=1, cutoff=cutoff)
    return near[0] if near else None


def kind_of(path: Path) -> str:
    """What a path that is not a regular file is, in words."""
    import stat

    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            if not path.exists():
                return "a link to nothing"
            mode = path.stat().st_mode  # a link to a FIFO is described by its target (a review)
    except OSError:
        return "not readable"
    if stat.S_ISREG(mode) and made_as_read(path):
        return MADE_AS_READ
    return kind_of_mode(mode)


# What ``kind_of`` says of a regular file the kernel makes as it is read (``made_as_read``).
MADE_AS_READ = "a file the system makes as it is read (as in /proc and /sys)"


def made_as_read(path: str | Path) -> bool:
    """Whether the regular file at ``path`` holds other than the bytes its size says: one the kernel makes as it is
    read (/proc/self/status is 0 bytes by its size and some 1.4 KB read, twice alike never; a /sys file says 4,096
    and holds fewer). ``--weights /proc/self/status`` was hashed for the cache's identity, then read again to load
    and said to have "changed while it was being loaded", after the network was built (a brief, h309). Its last
    byte and the one after are read, nothing more; False for a file that does not open (its reader says why)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO put there meanwhile does not block the open
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        tail = os.pread(fd, 2, max(st.st_size - 1, 0))
    except OSError:
        return False
    finally:
        os.close(fd)
    return len(tail) != min(st.st_size, 1)


def kind_of_mode(mode: int) -> str:
    """``kind_of`` of a file's ``st_mode`` (from an ``fstat`` of what was opened, with no second look at the name)."""
    import stat

    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return name
    return "not a regular file"


def check_replaceable(path: str | Path, flag: str = "--out") -> None:
    """An output about to be written, before anything reads it: absent, or a regular file (or a link to one).

    Whether featcache wrote an existing output is decided by reading it, and
    opening a FIFO to read blocks until someone writes to it: forever.
    A device, socket or dangling link is nobody's report either.
    """
    path = Path(path)
    if os.path.lexists(path) and not path.is_file():
        raise FeatcacheError(f"{path} exists and is not a regular file ({kind_of(path)}); choose another {option(flag)}")


# The key in a report's machine-readable file (evaluation.json, probe.json, curve.json) under which it records the
# SHA-256 of every other file of the report it wrote, by file name: a rerun replaces only what still has it.
REPORT_DIGESTS = "written_sha256"
# And of itself (``store.atomic.write_json`` adds it to every document that records REPORT_DIGESTS): notes a user
# added to evaluation.json or probe.json were replaced without a word by the next run, where every other file of
# the report was refused once changed (an adversarial tester).
RECORD_DIGEST = "record_sha256"


def record_seal(doc: Mapping[str, Any]) -> str:
    """The SHA-256 of a report's JSON document as parsed, less ``RECORD_DIGEST``: keys sorted, no spaces."""
    import hashlib
    import json

    body = {k: v for k, v in doc.items() if k != RECORD_DIGEST}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, as hex: the one home (weights files, model files, report files)."""
    return file_digest(path, "sha256", chunk)


def write_private(folder: str | Path, name: str, data: bytes) -> Path:
    """``data`` written as a new file ``folder/name`` of mode 0600 (never an existing file or link followed): the
    copy of bytes a loader that takes only a path is given (``private_copy``; ``heads.io``'s of a .keras file)."""
    path = Path(folder) / name
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(data)
    return path


@contextlib.contextmanager
def private_copy(data: bytes, name: str) -> Iterator[Path]:
    """A copy of bytes the caller read once and checked (their digest), for a loader that takes only a path (ONNX
    Runtime's of a converted model for OpenVINO and TFLite, Keras's ``load_weights``): mode 0600 in a new temp
    folder of mode 0700, removed when the block ends. Loading the checked file again by its path loaded whatever
    was put there after the check (a brief, helper-285). A full temp folder is the full-disk line naming it."""
    import shutil
    import tempfile

    from featcache.errors import is_no_space, no_space

    folder = tempfile.mkdtemp(prefix="featcache-")
    try:
        try:
            copy = write_private(folder, name, data)
        except OSError as exc:
            if is_no_space(exc):
                raise no_space(Path(folder) / name, len(data), exc=exc,
                               advice=f"set TMPDIR to a folder with room (featcache copies {name} there to load it)") from None
            raise
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# The most bytes of a head or model file featcache reads (``validate.read_at_most``): each is read whole, to check
# the bytes that load, and a multi-GB file given as one (a data set's zip, a crafted file) cost its size in memory
# before it was refused (a brief, helper-299). The largest real files on this machine on 2026-12-06: an SVM head of
# 41.9 MB (8,796 support vectors x 576 features in float64, 97% of the file: 8.1-8.3 bytes of head per support
# vector and feature, measured), an SVM head's model of 34.7 MB, a fine-tuned MobileNetV2 model of 9.7 MB
# (ResNet50's weights are some 100 MB more). The largest an SVM head of Fashion-MNIST could be: its 60,000 training
# images x 4 views = 240,000 rows, every one a support vector (measured: about rows^0.75 of them, 6,382 of 16,000),
# at ResNet50's 2,048 features: 240,000 x 2,048 x 8 bytes = 3.9 GB (its model holds them as float32: 2.0 GB).
# 4 GiB is past that, and about 100 x the largest measured.
MAX_FILE_BYTES = 4 << 30


def read_at_most(path: str | Path, limit: int, what: str, fix: str, *, ours: bool = True) -> bytes:
    """The whole of the file at ``path``, read once, where it holds at most ``limit`` bytes (the most of any ``what``
    featcache writes); else one line naming the file, its size, the limit and ``fix``, before a byte is read. The
    size is the opened file's (``fstat``), so it is of the file read, not of one put at the path after a stat; at
    most ``limit + 1`` bytes are read, so a file grown past ``limit`` since is refused too. A head or model is read
    whole to check the bytes that load (``heads.io``, ``deploy.model``): a multi-GB file given as one cost its size
    in memory before it was refused (a brief, helper-299). An OSError (removed, made unreadable) is the caller's.
    ``ours``: whether featcache writes such files (a backbone's weights are Keras's: the bound is then of what
    featcache takes)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise FeatcacheError(_too_big(path, size, limit, what, fix, ours))
        data = f.read(limit + 1)
    if len(data) > limit:
        raise FeatcacheError(_too_big(path, len(data), limit, what, fix, ours))
    return data


def check_size(path: str | Path, limit: int, what: str, fix: str, *, ours: bool = True) -> None:
    """``read_at_most``'s refusal of a file past ``limit`` bytes, for a check that reads the file in parts (verify's,
    info's of a head or model): what a loader refuses unread is never "intact"; or before the work that comes ahead
    of the read (``--weights``: a network built first). ``ours`` as ``read_at_most``'s."""
    size = os.stat(path).st_size
    if size > limit:
        raise FeatcacheError(_too_big(path, size, limit, what, fix, ours))


def _too_big(path: str | Path, size: int, limit: int, what: str, fix: str, ours: bool = True) -> str:
    """The one wording of a file past the size of any ``what`` featcache writes (``read_at_most``'s), or, not
    ``ours``, takes."""
    return (f"{path} is {size_text(size)} ({size:,} bytes), more than the {size_text(limit)} ({limit:,} bytes) of any "
            f"{what} featcache {'writes' if ours else 'takes'}; {fix}")


def is_sha256(value: Any) -> bool:
    """Whether ``value`` is a SHA-256 as ``file_sha256`` writes it (64 lowercase hex digits): what a record holds of a
    file, read back, is one, or the record is damaged (it vouches for nothing)."""
    import re

    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) is not None


def file_digest(path: str | Path, algorithm: str, chunk: int = 1 << 20) -> str:
    """The hex digest of a file's bytes by ``algorithm`` (hashlib's name: Keras checks weights by md5 or sha256)."""
    import hashlib

    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


# HDF5's format signature, and where the spec lets a file keep it: offset 0, else after a user block of 512, 1024,
# 2048, ... bytes (HDF5 File Format Specification, "Format Signature"; h5py's userblock_size).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def hdf5_signature_at(fd: int, size: int) -> bool:
    """Whether the file open at ``fd`` (``size`` bytes) carries HDF5's signature where HDF5 looks for it: a file
    without it is no HDF5 file at all, for certain, and nothing opens it as one. Reads 8 bytes at each place, at most
    some 22 of them for a 1 GiB file; the system's OSError is the caller's to word."""
    offset = 0
    while offset + len(HDF5_SIGNATURE) <= size:
        if os.pread(fd, len(HDF5_SIGNATURE), offset) == HDF5_SIGNATURE:
            return True
        offset = 512 if offset == 0 else offset * 2
    return False


def starts_with(path: str | Path, signature: bytes) -> bool:
    """Whether the file at ``path`` begins with ``signature`` (a format's magic bytes); False where it cannot be read.
    One home for the sniffing: an HDF5 cache cut short, a zip that no longer reads."""
    try:
        with open(path, "rb") as f:
            return f.read(len(signature)) == signature
    except OSError:
        return False


def outside_storage(f: Any) -> str | None:
    """The first link or dataset of ``f`` whose target or data is not inside ``f`` itself, in words; None where all is.

    featcache writes hard links and datasets stored in the file only, and so does Keras. An external link, a dataset with external raw
    storage or a virtual dataset makes HDF5 open another file when it is read: a FIFO there blocked ``info``, ``verify``
    and ``train`` in C, deaf to Ctrl-C and SIGTERM (an adversarial tester), and any other file there was read as this
    cache's. The link table is walked without resolving a link (``H5Lvisit`` enters groups by hard links only), and
    each dataset's creation properties are read from its header: opening a dataset reads no data and opens no
    other file (checked with a FIFO behind an external link, external storage and a virtual dataset).
    """
    import h5py  # here: the CLI imports this module before any command needs h5py

    found: list[str] = []
    failed: list[Exception] = []

    def look(name: bytes, info: Any) -> int | None:
        try:
            problem = _outside(h5py, f, name, info)
        except Exception as exc:  # raised through HDF5's C walk it became a SystemError: kept, raised after
            failed.append(exc)
            return 1  # stop the walk
        if problem:
            found.append(problem)
            return 1
        return None

    f.id.links.visit(look, info=True)
    if failed:
        raise failed[0]
    return found[0] if found else None


def _outside(h5py: Any, f: Any, name: bytes, info: Any) -> str | None:
    """What of the link ``name`` (its ``info`` from the walk) reaches outside ``f``, in words; None if nothing."""
    shown = name.decode("utf-8", "replace")
    if info.type != h5py.h5l.TYPE_HARD:
        words = {h5py.h5l.TYPE_SOFT: "a soft link", h5py.h5l.TYPE_EXTERNAL: "an external link to another file"}
        return f"{shown} is {words.get(info.type, 'a user-defined link')}"
    obj = h5py.h5o.open(f.id, name)
    if not isinstance(obj, h5py.h5d.DatasetID):
        return None
    plist = obj.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        return f"{shown} is a virtual dataset (its data is in other files)"
    if plist.get_external_count():
        return f"{shown} keeps its data in external files"
    return None


def report_digests(files: Iterable[str | Path], kept: Mapping[str, str] | None = None,
                   sha256: Callable[[str | Path], str] = file_sha256) -> dict[str, str]:
    """What a report's machine-readable file records under ``REPORT_DIGESTS``, written after the files: ``kept``
    (``check_report_files``' answer: files of the report left from before and unchanged) and the SHA-256 of each of
    ``files`` (those this run wrote), by file name. ``sha256``: a report's writers pass ``store.atomic.written_sha256``,
    the digest of the bytes they published (this foundation module imports no stage)."""
    return {**(kept or {}), **{Path(f).name: sha256(f) for f in files if Path(f).is_file()}}


def drop_stale(file: str | Path, kept: Mapping[str, str] | None) -> dict[str, str]:
    """A report's file this run does not write again (its plot, with ``plot=False`` / ``--no-plot``): the one left from
    an earlier run shows that run's results beside this run's table, so it goes, and ``kept`` (``check_report_files``'
    answer, which vouched for it as featcache's and unchanged) no longer lists it. Call it inside the report's
    ``store.atomic.output_files`` block: a failure later in the block puts the file back. Until 2026-12-04 the old plot
    stayed (a probe of other heads kept the first probe's picture)."""
    import os

    try:
        os.unlink(file)
    except FileNotFoundError:
        pass
    return {k: v for k, v in (kept or {}).items() if k != Path(file).name}


def recorded_digests(marker: str | Path) -> dict[str, str] | None:
    """The ``REPORT_DIGESTS`` a report's JSON file records; None when it records none (a report from before
    digests, or a file that does not read as one)."""
    import json

    try:
        doc = json.loads(Path(marker).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    # Records its files' digests but not its own: the seal deleted along with an edit, which read as a report from
    # before digests (a tester; records were sealed a few hours after they first recorded digests, 2026-12-03)
    unsealed = isinstance(doc, dict) and REPORT_DIGESTS in doc and RECORD_DIGEST not in doc
    if unsealed or isinstance(doc, dict) and RECORD_DIGEST in doc and doc[RECORD_DIGEST] != record_seal(doc):
        before = " (or written on 2026-12-03 before records were sealed)" if unsealed else ""
        raise FeatcacheError(f"{marker} was changed since featcache wrote it{before}; choose another {option('--out')}, or move the "
                             f"report in {Path(marker).parent} away (its files go together)")
    digests = doc.get(REPORT_DIGESTS) if isinstance(doc, dict) else None
    if not isinstance(digests, dict):
        return None
    return {str(k): str(v) for k, v in digests.items()}


def check_report_files(files: Sequence[Path], ours: Callable[[], bool], flag: str = "--out",
                       digests: Callable[[], Mapping[str, str] | None] | None = None,
                       recorded: Sequence[Path] = (), since_digests: Sequence[Path] = ()) -> dict[str, str]:
    """Before the work: the report files about to be written into a folder replace only a report featcache wrote,
    and of it only files still as featcache wrote them.

    ``ours()`` says whether the folder holds featcache's report (its
    machine-readable file reads back as one); if it does not, an existing file
    of the same name is the user's (notes called evaluation.txt, a picture
    called confusion.png) and is refused rather than replaced.

    ``digests()`` reads what that file records under ``REPORT_DIGESTS``: the
    SHA-256 of each of ``recorded`` (the report's files other than itself and
    files checked otherwise, such as curve.csv's checksummed rows) that the
    run wrote. An existing one of them is replaced only if it still has its
    digest; one changed since (notes added to evaluation.txt, a picture
    copied over confusion.png), or one the report does not list, is refused,
    naming it. Until 2026-12-03 ``ours()`` alone let every file there be
    replaced (an adversarial tester). A report from before digests were
    recorded (``digests()`` gives None) is taken as before: its files are
    replaced, except ``since_digests``, files of the report that featcache
    first wrote after digests were recorded (lesson.png): such a file in an
    older report is the user's and is refused (a review).

    Returns the digests of ``recorded`` files that exist and may be
    replaced, by name: the writer records them again beside the digests of
    what it writes (``report_digests``), so a file the run leaves alone stays
    vouched for (a plot not drawn this time is dropped instead: ``drop_stale``).
    """
    restore_killed(files)  # a rerun of a report killed halfway (SIGKILL): the old report back, then checked
    for p in files:
        check_replaceable(p, flag)  # before ours() reads any of them
    existing = [Path(p) for p in files if Path(p).exists()]
    if existing and not ours():
        # the folder by its path, not as the option: lesson's heads/ and eval/ are folders inside its --out ("--out
        # les1/heads holds logreg_cv.npz" of a lesson run with --out les1; an adversarial tester)
        raise FeatcacheError(f"{existing[0].parent} holds {existing[0].name}, which is not part of a report featcache "
                             f"wrote; choose another {option(flag)} (or delete {existing[0].name})")
    # read whenever the report is there: its record's own digest is checked too (recorded_digests)
    known = digests() if digests is not None and existing else None
    present = [Path(p) for p in recorded if Path(p).exists()]
    if not present:
        return {}
    found = {p.name: file_sha256(p) for p in present}
    if known is None:  # a report from before digests: its files are featcache's, as before, but for newer ones
        for p in present:
            if p in [Path(q) for q in since_digests]:
                raise FeatcacheError(f"{p} is not a file featcache wrote in this report (the report is from before featcache wrote a {p.name}); "
                                     f"choose another {option(flag)} or move {p} away")
        return found
    for p in present:
        if p.name not in known:
            raise FeatcacheError(f"{p} is not a file featcache wrote in this report (its record of the files it wrote "
                                 f"does not list it); choose another {option(flag)} or move {p} away")
        if known[p.name] != found[p.name]:
            raise FeatcacheError(f"{p} was changed since featcache wrote it; choose another {option(flag)} or move {p} away")
    return found


def check_out_file(path: str | Path, suffix: str, what: str, suffixes: str, flag: str = "--out", example: str = "head") -> Path:
    """An output file's name, before any work: not a folder, ending in ``suffix``, in a folder a file can be written to
    (checked, not created: the atomic write makes it).

    ``what`` names the file ("a logreg head"), ``suffixes`` says which suffix
    goes with what ("keras heads .keras, logreg and svm heads .npz"),
    ``example`` is the file name suggested inside a folder given as ``path``.
    """
    path = check_path(path, flag, f"the {suffix} file to write")
    if path.is_dir():
        raise FeatcacheError(f"{given_path(flag, path)} is a folder; name the file to write in it, e.g. "
                             f"{given_path(flag, path / (example + suffix), word=True)} ({suffixes})")
    if path.suffix != suffix:
        raise FeatcacheError(f"{given_path(flag, path)}: {what} is saved as a {suffix} file ({suffixes}); use "
                             f"{given_path(flag, path.with_suffix(suffix), word=True)}")
    check_replaceable(path, flag)
    if path.parent.is_dir():  # a file written and removed there: access(2) says yes where root's writes fail (NFS)
        check_writable_dir(path.parent, flag)
    else:
        check_out_dir(path.parent, flag)  # creates no folder: a refused run leaves none behind
    return path


def require_splits(cache: Any, *names: str, why: str | None = None) -> None:
    """Refuse a cache that lacks any of the splits ``names``."""
    for split in names:
        if split not in cache.sizes:
            # Caches have train and test splits only (a photo folder's val/ becomes test): naming the
            # splits it has is the fix for a wrong --split, a new extraction for a missing one.
            fix = why or (f"use {option('--split', 'split=')} with one of those (a val/ folder of photos is the test split)"
                          if split not in ("train", "test") else f"extract a cache with a {split} split")
            raise FeatcacheError(f"{cache.path} has no {split!r} split (it has {', '.join(cache.sizes) or 'none'}); {fix}")


# K-fold scoring holds out each image once: 1 fold holds out every image and fits on none.
MIN_FOLDS = 2


def check_folds(value: Any, flag: str = "--folds") -> int:
    """A fold count: a whole number of at least MIN_FOLDS (the one home of the bound). --folds 0 said "must be at
    least 1", and 1 was then refused too (an adversarial tester)."""
    n = _typed_whole(value, flag, "5", lambda k: MIN_FOLDS <= k <= COUNT_MAX)
    if n < MIN_FOLDS:
        raise FeatcacheError(f"{given(flag, shown(n))} must be at least {MIN_FOLDS} (each fold holds out its images; "
                             f"one fold would fit on none); pass e.g. {eg(flag, '5')}")
    return positive_int(n, flag)  # and not past COUNT_MAX


def check_two_per_class(y: Any, needs: str, fix: str, class_names: Sequence[str] | None = None) -> None:
    """The one check that every class has 2 training images, for what splits them into folds (``--folds``,
    ``--C cv``, the SVM's probability calibration): one line naming the class, its count and ``fix``."""
    import numpy as np

    classes, counts = np.unique(np.asarray(y), return_counts=True)
    if len(counts) and counts.min() < 2:
        c = classes[counts.argmin()]
        name = repr(class_names[int(c)]) if class_names is not None else str(c)
        raise FeatcacheError(f"{needs} needs at least 2 training images of every class, and class {name} has "
                             f"{int(counts.min())}; {fix}")


def arg_type(check: Callable[..., Any], name: str | None = None) -> Callable[[str], Any]:
    """An argparse ``type=`` from a check: its message becomes argparse's ("argument --x: ...")."""

    def convert(text: str) -> Any:
        from featcache.errors import cli_words

        try:
            with cli_words():  # a command's text, read as its flags are (``_text_for_number``), however it is parsed
                return check(text, "")
        except FeatcacheError as exc:
            raise argparse.ArgumentTypeError(str(exc).lstrip(": ").strip()) from None

    convert.__name__ = name or check.__name__
    return convert


# --train-views/--test-views only:VIEWS: these views without the original (h137). Every other spelling always adds
# the original view (a head's, a curve folder's and train's test_accuracy_orig rely on that reading), so scoring a head
# on the flipped test images alone, to see how robust it is, had no spelling. A prefix on the whole value, not one more
# name in the list: the list keeps extract --views' grammar (name:argument, as shift:DX,DY and crop:tl), a leading
# "-orig" is taken by argparse for an option (--test-views -orig,flip), and a prefix cannot be read as a view.
ONLY = "only:"


def without_orig(views: Sequence[str]) -> bool:
    """Whether checked views (``check_views``' result, or a head's record of them) leave the original view out: they
    were asked as ``only:VIEWS``. Every other spelling includes it, so a record without it is only that."""
    return "orig" not in views


# How views without the original are said beside them (h137), in one place: it was spelled inline in six places,
# "without orig" in the curve's label and nothing where one view was averaged (a review).
WITHOUT_ORIG_WORDS = "without the original view"


def without_words(views: Sequence[str], form: str = ", {}") -> str:
    """``form`` filled with "without the original view" for views that leave it out (``only:VIEWS``), else "":
    ``(30 images, without the original view)``; ``" ({})"`` and ``" {}"`` where a comma would not read."""
    return form.format(WITHOUT_ORIG_WORDS) if without_orig(views) else ""


def views_words(views: Sequence[str], sep: str = ", ") -> str:
    """Views as a reader is shown them: ``orig, flip``, or for ``only:VIEWS`` (the original left out) ``flip,
    shift:+2,+2 (without the original view)``, so a score of those is never read as one with the original (h137)."""
    return sep.join(views) + without_words(views, " ({})")


def views_counted(views: Sequence[str]) -> str:
    """How many views, in words that agree with the count: ``the original view alone``, ``the flip view alone,
    without the original view`` (only:flip), ``3 views``, ``2 views without the original view``. An export's note said
    a head "fitted on 1 views" (a session's note), finetune's once "fitted on 1 cached views" (a review)."""
    if len(views) == 1:
        return "the original view alone" if views[0] == "orig" else f"the {views[0]} view alone{without_words(views)}"
    return f"{len(views)} views{without_words(views, ' {}')}"


def views_spec(views: Sequence[str]) -> str:
    """The spelling ``check_views`` reads back as ``views`` (its result): ``orig,flip`` as before, ``only:flip`` for
    views without the original. How a recorded list (a head's ``test_views``) is asked for again."""
    return (ONLY if without_orig(views) else "") + ",".join(views)


def _only_rest(views: Any, flag: str, allowed: bool) -> tuple[bool, Any]:
    """(True, the views after ``only:``) for ``only:VIEWS`` (a str, or a list whose first item starts with it, as the
    str splits), else (False, ``views``). Anywhere else in the value, or where ``allowed`` is false: one line."""
    items = [views] if isinstance(views, str) else list(views) if isinstance(views, (list, tuple)) else []
    marked = [i for i, item in enumerate(items) if isinstance(item, str) and ONLY in item]
    if not marked:
        if allowed:
            _refuse_misspelled_only(items, flag)
        return False, views
    if not allowed:
        raise FeatcacheError(f"{option(flag)} takes no {ONLY} (its settings always score the original view too); score a head "
                             f"on views without the original with train or evaluate {option(f'--test-views {ONLY}VIEWS', 'test_views=' + repr(ONLY + 'VIEWS'))}")
    if marked != [0] or not items[0].lstrip().startswith(ONLY) or items[0].count(ONLY) > 1:
        raise FeatcacheError(f"{given(flag, shown(views))}: {ONLY} goes once, before the whole list of views, e.g. "
                             f"{eg(flag, ONLY + 'flip,shift')}")
    rest = [r for r in [items[0].lstrip()[len(ONLY):], *items[1:]] if not isinstance(r, str) or r.strip()]
    if not rest:
        raise FeatcacheError(f"{given(flag, ONLY, repr(ONLY))} names no view; name the views to use without the original, e.g. "
                             f"{eg(flag, ONLY + 'flip')}")
    return True, rest[0] if isinstance(views, str) else rest


def _refuse_misspelled_only(items: list[Any], flag: str) -> None:
    """One line naming ``only:VIEWS`` for a view that looks like a misspelled ``only:`` (``ONLY:flip``, ``only``,
    ``only;flip``): "unknown view 'ONLY:flip'; use orig, flip, ..." never said that only: exists, in lower case and
    with its colon (an adversarial tester)."""
    import re

    for item in items:
        for token in re.split(r"[,\s]+", item) if isinstance(item, str) else []:
            if re.fullmatch(r"only(\W.*)?", token, re.IGNORECASE):
                raise FeatcacheError(f"{given(flag, shown(token))}: unknown view; for views without the original write "
                                     f"{ONLY}VIEWS in lower case with its colon, before the whole list, e.g. {eg(flag, ONLY + 'flip')}")


def pick_views(have: Sequence[str], views: str | Sequence[Any] | None, flag: str,
               resolve: Callable[[Any], Sequence[str]], *, only: bool = True, every: Sequence[str] | None = None,
               none_left: str = "") -> tuple[str, ...]:
    """The one reading of a views option against the views ``have`` (in their canonical order): ``"all"`` or None is
    ``every`` (default ``have``); names and groups are what ``resolve`` makes of them (it refuses one not had), plus
    the original view; ``only:VIEWS`` is those without it, ``only:all`` ``every`` without it. The result is in
    ``have``'s order. ``only``: whether ``only:`` is taken; ``none_left``: the one line for an ``only:all`` that
    leaves no view. A cache's options (``check_views``) and export's ``--views`` (``deploy.export.graph_views``:
    its only:flip took extract's reading and refused it, a review) read the spelling here."""
    given_views, every = views, tuple(have if every is None else every)
    leave_out, views = _only_rest(views, flag, only)
    everything = views is None or (isinstance(views, str) and views.strip() == "all") or (
        leave_out and isinstance(views, list) and [str(v).strip() for v in views] == ["all"])
    asked = set(every) if everything else set(resolve(views))
    if not leave_out:
        return tuple(v for v in have if v in asked | {"orig"})  # the original view is always read
    if "orig" in asked and not everything:
        raise FeatcacheError(f"{given(flag, shown(given_views))} names orig, and {ONLY} leaves the original view out; drop orig, or "
                             f"drop {ONLY} to average the original view with the others")
    chosen = tuple(v for v in have if v in asked and v != "orig")
    if not chosen:
        raise FeatcacheError(none_left or f"{given(flag, ONLY + 'all', repr(ONLY + 'all'))} leaves no view: there is none but the original")
    return chosen


def check_views(cache: Any, views: str | Sequence[Any] | None, flag: str, *, only: bool = True) -> tuple[str, ...]:
    """The cache's views that ``views`` names, in the cache's stored order; None or ``"all"``: every view it has.

    ``views`` takes ``parse_views`` syntax (``orig,flip,shift``; ``orig`` is
    always included), or ``only:VIEWS`` (``only:flip``, ``only:all``; a list
    ``["only:flip", "shift"]``): those views without the original. The
    cache's order makes the result canonical: ``flip,shift`` and
    ``shift,flip`` are one setting (one resume key, one head file name).
    ``only``: whether ``only:`` is taken (probe's settings refuse it). The reading is ``pick_views``'.
    """
    return pick_views(tuple(cache.views), views, flag, lambda asked: cache.resolve_views(asked, flag), only=only,
                      none_left=f"{given(flag, ONLY + 'all', repr(ONLY + 'all'))}: {cache.path} holds no view but the original; "
                                f"extract with {option('--views (e.g. --views flip)', 'ModelSpec(views=...) (e.g. views=' + repr('flip') + ')')} "
                                "to have others")


# The first release whose every file carries its digests: caches (format 2 began on 2026-12-01, in 0.1.0's life; the
# last format-1 cache was 0.1.0's), heads and models. A file that says a later release wrote it without them has had
# them removed.
DIGESTS_SINCE = (0, 2, 0)


def release(version: str) -> tuple[int, ...]:
    """``"0.2.0"`` -> ``(0, 2, 0)``; the leading numbers of each part (``"0.2.0rc1"`` -> ``(0, 2, 0)``), 0 for none:
    how a file's ``featcache_version`` is compared with the release that began a format."""
    import re

    return tuple(int(m.group()) if (m := re.match(r"\d+", part)) else 0 for part in version.split(".")[:3])


class FrozenMap(dict):
    """A mapping a frozen settings object keeps (``ProbeSpec``'s ``C`` and ``head_params``, ``CurveSpec``'s
    ``head_params`` and ``baseline_params``): read-only and hashable, as the object itself is, where a dict made
    ``hash(ProbeSpec(C={...}))`` a TypeError and let a caller's later change of its dict change the settings. A dict
    whose changes are refused, so what took the plain dict takes it: ``json.dumps``, ``dataclasses.asdict``, pickle,
    ``copy``, scikit-learn's checks (a ``Mapping`` of its own, it made a ProbeSpec one nothing could pickle, copy or
    write as JSON: a review). Equal to a dict of the same items; shown as one."""

    __slots__ = ()

    def __init__(self, items: Mapping[Any, Any] | Iterable[tuple[Any, Any]] = ()) -> None:
        super().__init__((k, frozen(v)) for k, v in dict(items).items())

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its items: pickle's and copy's default refill a dict by item assignment, which is refused
        return (FrozenMap, (dict(self),))

    def _refused(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a FrozenMap cannot be changed; make a new settings object, or change a dict of it "
                        "(dict(value) or value.thawed())")

    __setitem__ = __delitem__ = __ior__ = _refused  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _refused  # type: ignore[assignment]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a FrozenMap cannot be changed")

    def __repr__(self) -> str:
        return repr(dict(self))

    def thawed(self) -> dict[Any, Any]:
        """A plain dict of it, of the kinds given (for what changes it): its mappings dicts, its lists lists (a
        ``FrozenList``), its tuples tuples, at any depth. A list given came back a tuple (a head parameter given as
        [64, 32] was (64, 32) to the code that changed it; a brief, helper-299)."""
        return thaw(self)


class FrozenList(tuple):
    """A list a frozen settings object keeps (``frozen``): a tuple (read-only, hashable, equal to the tuple of its
    items and hashed as it, so a setting given as [1, 2] or (1, 2) makes equal settings) that was given as a list,
    so ``thaw`` gives a list back, and equal to a list of its items too, as the dict a ``FrozenMap`` was made of
    is equal to it. Shown as a tuple; pickle, copy, ``dataclasses.asdict`` and ``json.dumps`` take it as one."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return tuple.__eq__(self, tuple(other) if isinstance(other, list) else other)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = tuple.__hash__


def frozen(value: Any) -> Any:
    """``value`` as a frozen settings object keeps it: a mapping a ``FrozenMap``, a list a ``FrozenList``, a tuple a
    tuple (their items too); anything else as it is."""
    if isinstance(value, Mapping):
        return value if isinstance(value, FrozenMap) else FrozenMap(value)
    if isinstance(value, (list, FrozenList)):
        return FrozenList(frozen(v) for v in value)
    if isinstance(value, tuple):
        return tuple(frozen(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """``value`` as it was given to ``frozen``: a ``FrozenMap`` a dict, a ``FrozenList`` a list, a tuple a tuple
    (their items too); anything else as it is."""
    if isinstance(value, FrozenMap):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, FrozenList):
        return [thaw(v) for v in value]
    if isinstance(value, tuple):
        return tuple(thaw(v) for v in value)
    return value
