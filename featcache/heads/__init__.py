"""Classifier heads on cached features, all scikit-learn estimators.

Every head has ``fit(X, y)``, ``predict``, ``predict_proba``, ``score`` and
its parameters in ``__init__``, so evaluation, learning curves and probing
treat them alike. ``make_head(name, **params)`` is the one way to build one
by name (CLI, curves, probing).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from featcache import _lazy
from featcache.errors import FeatcacheError, ParamsDisagree, cli_running, given, keyword_of, option, python_text, unknown
from featcache.heads.facts import FACTS, HeadFacts
from featcache.validate import ParamLabel, parse_C, parse_list, shown

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

    from featcache.heads.dense import DenseHead
    from featcache.heads.logreg import LogRegHead
    from featcache.heads.svm import SVMHead


# A new head is one class and its line here. Each class declares how it is stored (``file_suffix``: ".keras", a
# Keras model, DenseHead's; ".npz", fitted state as arrays and JSON, with ``state_classes`` and ``structure_ok``
# for heads.state and heads.io) and takes ``seed`` (train, curve and probe pass it to every head). Each class is
# imported when first looked up (``_lazy.Registry``): their modules import scikit-learn, which the heads' names
# (the CLI's parser, a choice's check) and this package's light modules (heads.io, heads.views) do not need.
HEADS: MutableMapping[str, type] = _lazy.Registry({"keras": "featcache.heads.dense:DenseHead",
                                                   "logreg": "featcache.heads.logreg:LogRegHead",
                                                   "svm": "featcache.heads.svm:SVMHead"})
# The classes under their own names too (``from featcache.heads import SVMHead``), imported as they are asked for.
_HOMES = {"DenseHead": "featcache.heads.dense", "LogRegHead": "featcache.heads.logreg", "SVMHead": "featcache.heads.svm"}
__getattr__ = _lazy.package_names(__name__, _HOMES)


def head_facts(name: str) -> Any:
    """What head ``name`` says of itself (``summary``, ``display_name``, ``article``, ``file_suffix``): its facts
    (``heads.facts``) while the registry has not imported its class, which imports scikit-learn (``train --help``
    quotes them); else its class, which takes them from there, or is a caller's own class set in (a test's head)."""
    if name in FACTS and not HEADS.loaded(name):  # type: ignore[attr-defined]  # HEADS is a _lazy.Registry
        return FACTS[name]
    return HEADS[name]


def head_default(name: str, param: str) -> Any:
    """Head ``name``'s default of ``param``, for help texts: its facts' where they quote it, else its class's."""
    about = head_facts(name)
    if isinstance(about, HeadFacts) and param in about.defaults:
        return about.defaults[param]
    return HEADS[name]().get_params()[param]


def head_summary(name: str) -> str:
    """What head ``name`` is, in a few words (``--head``'s help): its ``summary`` (``head_facts``), else its class's
    docstring's first line (a head registered without one must not stop every command's parser)."""
    about = head_facts(name)
    return getattr(about, "summary", None) or (about.__doc__ or name).strip().splitlines()[0]


def head_words(name: object) -> str:
    """Head ``name`` with its article and display name, for a line: "an SVM head", "a logreg head", "a Keras head"
    (its class's ``display_name`` and ``article``; "holds a svm head" read wrong to a new-user tester). A name
    featcache does not know (another version's record) is said as given: "a foo head"."""
    cls = head_facts(name) if isinstance(name, str) and name in HEADS else None
    shown = getattr(cls, "display_name", name)
    article = getattr(cls, "article", "an" if str(shown)[:1].lower() in "aeiou" else "a")
    return f"{article} {shown} head"


def head_suffix(name: str) -> str:
    """The file suffix of head ``name``'s files (``.keras`` or ``.npz``), as its class declares."""
    return head_facts(name).file_suffix


def saved_suffixes() -> frozenset[str]:
    """The suffixes head files are saved with (``.keras``, ``.npz``), as the head classes declare them."""
    return frozenset(about.file_suffix for about in map(head_facts, HEADS) if hasattr(about, "file_suffix"))


def suffixes_line() -> str:
    """Which heads are which files, for messages: "keras heads are .keras files; logreg and svm heads are .npz files"."""
    by: dict[str, list[str]] = {}
    for name in HEADS:
        about = head_facts(name)
        if hasattr(about, "file_suffix"):  # a head that is never saved (a test's stand-in) has none
            by.setdefault(about.file_suffix, []).append(name)
    return "; ".join(f"{', '.join(names[:-1]) + ' and ' if len(names) > 1 else ''}{names[-1]} heads are {suffix} files"
                     for suffix, names in by.items())


def make_head(name: str, **params: Any) -> BaseEstimator:
    """Head ``name`` with ``params``, every one of them checked (``check_params``: one line naming a bad one)."""
    if not isinstance(name, str):  # train(cache, ["logreg"]): "unhashable type: 'list'" (an adversarial tester)
        from featcache.validate import shown

        raise FeatcacheError(f"a head is named by a str, one of: {', '.join(HEADS)} (got {shown(name)})")
    try:
        cls = HEADS[name]
    except KeyError:
        raise FeatcacheError(unknown(f"head {name!r}", HEADS)) from None
    check_param_names(name, params)
    try:
        head = cls(**params)
    except TypeError as exc:
        raise FeatcacheError(f"bad parameters for head {name!r} ({exc}); pass only parameters that head takes") from None
    check_head_params(head)
    return head


def head_params(name: str) -> list[str]:
    """The parameters head ``name``'s class takes (scikit-learn's ``get_params`` of a default one), sorted; [] for a
    head without ``get_params`` (a test's stand-in)."""
    cls = HEADS[name]
    return sorted(cls().get_params()) if hasattr(cls, "get_params") else []


def parse_head_params(value: Any, heads: Sequence[str], flag: str = "--param",
                      own: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """``{head: {name: value}}`` from ``["logreg.max_iter=5000", "keras.dropout=0.5"]`` (a command's repeated
    ``--param``) or a dict of dicts; ``NAME=VALUE`` alone when ``heads`` is one head. Every head named must be
    among ``heads`` and take the name (``head_params``); ``own``: names set by an option of their own, refused with
    what to give instead. Values are typed by ``validate.parse_params``; the head's ``check_params`` checks them."""
    from featcache.validate import parse_params

    if value is None:
        return {}
    if isinstance(value, Mapping):
        groups = {str(h): parse_params(p, flag, keyword="head_params") for h, p in value.items()}
    else:
        if not isinstance(value, (str, Iterable)):  # head_params=5 was "TypeError: 'int' object is not iterable" (helper-276)
            raise FeatcacheError(f"head_params takes a dict of each head's parameters or a list of 'HEAD.NAME=VALUE' "
                                 f"(got {value!r}); pass e.g. head_params={{'logreg': {{'max_iter': 5000}}}}")
        items: dict[str, list[str]] = {}
        for item in [value] if isinstance(value, str) else list(value):
            name, sep, _ = str(item).partition("=")
            if not sep:  # parse_params would say it of the NAME alone: 'max_iter' for 'logreg.max_iter', and dropout=0.5
                form = f"{'NAME' if len(heads) == 1 else 'HEAD.NAME'}=VALUE"
                if cli_running():
                    raise FeatcacheError(f"{flag} {str(item)!r} is not {form}; "
                                         f"write e.g. {flag} {str(item).strip() or 'logreg.max_iter'}=...")
                head, dot, rest = str(item).strip().partition(".")
                example = _head_params_example(head if dot else (heads or ["logreg"])[0], rest if dot else head, "...")
                raise FeatcacheError(f"head_params item {shown(item)} is not '{form}'; {example}")
            head, dot, _ = name.partition(".")
            if not dot and len(heads) != 1:
                # the example's head is one that takes the name: probe's 'gamma=0.01' was shown 'logreg.gamma=...'
                takes = [h for h in heads if h in HEADS and name.strip() in head_params(h)]
                some = (takes or heads or ['logreg'])[0]
                if cli_running():
                    raise FeatcacheError(f"{flag} {item!r} names no head, and there are {len(heads)} ({', '.join(heads)}); "
                                         f"write HEAD.NAME=VALUE, e.g. {flag} {some}.{name or 'max_iter'}=...")
                raise FeatcacheError(f"head_params item {item!r} names no head, and there are {len(heads)} "
                                     f"({', '.join(heads)}); {_head_params_example(some, name, str(item)[len(name) + 1:])}")
            items.setdefault(head.strip() if dot else heads[0], []).append(str(item)[len(head) + 1:] if dot else str(item))
        groups = {h: parse_params(p, flag, h, "head_params") for h, p in items.items()}
    for head, params in groups.items():
        if head not in heads:
            said = option(flag, "head_params")
            raise FeatcacheError(f"{said} names head {head!r}, which is not among the heads ({', '.join(heads)}); "
                                 f"add it to {option('--heads')} or drop it from {said}")
        label = ParamLabel.of_option(flag, "head_params", head)  # --param logreg.C in a command, head_params['logreg']['C']
        for name in params:
            if own and name in own:
                raise FeatcacheError(f"{label(name)}: {own[name]}")
        check_param_names(head, params, hidden=own or ())
        check_param_values(head, params, label)
    return groups


def check_param_names(name: str, params: Mapping[str, Any], hidden: Collection[str] = (), cls: type | None = None) -> None:
    """Every name in ``params`` is a parameter of head ``name`` (``head_params``), or one line listing them: Python's
    "got an unexpected keyword argument" named none the head does take. ``hidden``: names the caller sets itself,
    left out of the list (it offered ``seed`` and ``n_classes``, which ``--param`` then refused; a review). ``cls``:
    the estimator class when ``name`` is not a registered head (a curve's scratch baseline)."""
    known = head_params(name) if cls is None else sorted(cls().get_params()) if hasattr(cls, "get_params") else []
    unknown = [k for k in params if known and k not in known]
    if unknown:
        listed = [k for k in known if k not in hidden]
        raise FeatcacheError(f"head {name!r} has no parameter {unknown[0]!r}; its parameters: {', '.join(listed)}")


def _head_params_example(head: str, name: str, value: str) -> str:
    """The fix of a Python call's ``head_params`` item that is no HEAD.NAME=VALUE: the dict it is in Python (probe's
    ``head_params=["max_iter=3"]`` was told "write HEAD.NAME=VALUE, e.g. --param logreg.max_iter=...", a flag)."""
    name = name.strip() if name.strip().isidentifier() else "max_iter"
    shown_value = "..." if value.strip() in ("", "...") else python_text(value.strip())
    return (f"in Python, head_params is a dict of each head's parameters, e.g. "
            f"head_params={{{head.strip()!r}: {{{name!r}: {shown_value}}}}}")


def check_param_values(name: str, params: Mapping[str, Any], flag: ParamLabel | str = "--param") -> None:
    """The values in ``params`` (names checked) by head ``name``'s own ``check_params``, a bad one named as the user
    gave it (``flag``: "--param" or "--param logreg."): ``--param max_iter 0 is not valid ...``, not the class's
    words a head made in Python is named with (``LogRegHead max_iter``, a class name a CLI user never wrote; a
    tester). The words go into the check (``validate.ParamLabel``), so the message is made right the first time.
    The defaults are valid, so a complaint is about one of ``params``, except two that disagree (``ParamsDisagree``):
    that is the caller's, whose full check of the head it builds adds a preset's values."""
    check = getattr(HEADS[name](**params), "check_params", None)
    if check is None:
        return
    label = flag if isinstance(flag, ParamLabel) else ParamLabel.of_flag(flag)
    try:
        check(label)
    except ParamsDisagree:
        # A pair's complaint against a class default (validation_split=0 with DenseHead's early_stopping=True) is
        # not the command's: curve's and train --preset lesson's keras head has early_stopping=False, and such a
        # --param was refused. But check_params stops at its first complaint: each parameter is checked alone too,
        # so that a bad one after the pair is still said here, in --param's words (--param validation_split=0
        # --param patience=-1 said "DenseHead patience -1", the class's words, from the caller's check; a review)
        for k, v in params.items():
            try:
                HEADS[name](**{k: v}).check_params(label)
            except ParamsDisagree:
                pass


# Parameters that change how a head runs, not what it fits (scikit-learn's names): left out of a train default file
# name and of a curve's identity, so --param n_jobs=1 neither makes another head file nor another curve (a review).
RUN_ONLY_PARAMS = ("n_jobs", "verbose", "cache_size")


def fit_params(cls: type, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with each run-only one (``RUN_ONLY_PARAMS``) at ``cls``'s default: what decides the fit, for
    comparing two settings. Defaults, not dropped, so identities recorded before keep their value."""
    defaults = cls().get_params() if hasattr(cls, "get_params") else {}
    return {k: (defaults[k] if k in RUN_ONLY_PARAMS and k in defaults else v) for k, v in params.items()}


def unused_params(name: str, params: Mapping[str, Any]) -> list[str]:
    """The parameters in ``params`` that head ``name``'s fit with them does not read (its ``unused_params``): [] for a
    head without the method, an unknown head or parameters it does not take (a file from another version)."""
    cls = HEADS.get(name)
    try:
        head = cls(**params) if cls is not None else None
    except TypeError:
        return []
    unused = getattr(head, "unused_params", None)
    return [p for p in unused() if p in params] if unused else []


def load_backend(head: Any) -> None:
    """Import what ``head`` fits with before a timed fit: Keras and TensorFlow take 6-11 s the first time in a
    process, which 'train --head keras' counted as fitting ('fit 10.1 s' where its epochs took 3 s; a new-user
    tester). Heads that fit in scikit-learn have nothing to import."""
    if getattr(head, "uses_keras", False):
        from featcache._lazy import keras

        keras()


def check_head_params(head: Any, label: ParamLabel | None = None) -> None:
    """A head's own check of its parameters (``check_params``), naming them with ``label`` (default: the head's
    class); a head without one (a test's stand-in, a new head) is taken as it is."""
    check = getattr(head, "check_params", None)
    if check is not None:
        check() if label is None else check(label)


def fold_reason(head: Any) -> str | None:
    """What in ``head``'s fit splits its training images into folds (``folds_needed``), or None: nothing, or a head
    without the method (the Keras head)."""
    needed = getattr(head, "folds_needed", None)
    return needed() if needed else None


def folds_needed(name: str, params: Mapping[str, Any]) -> str | None:
    """What in head ``name``'s fit (with ``params``) splits its training images into folds, or None.

    Such a fit needs 2 images of every class among the rows it is given; train,
    curve and probe check that on their own fit rows before any fit
    (``validate.check_two_per_class``), so the heads' own ValueError is not
    what a user sees. A head without the method (the Keras head) needs none.
    """
    return fold_reason(make_head(name, **params))


def _heads_with_C(heads: Sequence[str]) -> list[str]:
    return [h for h in heads if h in HEADS and "C" in HEADS[h]().get_params()]


def heads_with_C() -> list[str]:
    """The registered heads that have a ``C`` (``--C``'s heads), for messages that name them."""
    return _heads_with_C(list(HEADS))


def parse_C_per_head(C: Any, heads: Sequence[str], flag: str = "--C") -> dict[str, float | str]:
    """``0.03`` (every head), ``"logreg=0.03,svm=10"`` or a dict -> ``{head: C}``; None -> ``{}``.

    A bare value applies to every head in ``heads``; a head named must be one
    of ``heads`` and must have a C.
    """
    if C is None:
        return {}
    if isinstance(C, dict):
        pairs = {str(h): parse_C(v, flag) for h, v in C.items()}
    elif not isinstance(C, str) or "=" not in C:
        c = parse_C(C, flag)
        pairs = {h: c for h in heads}
    else:
        pairs = {}
        said = given(flag, repr(C))  # --C 'logreg=1,2' in a command, C='logreg=1,2' in a Python call
        parts = [part.partition("=") for part in parse_list(C, flag)]  # the one splitter of comma lists
        if not all(sep for _, sep, _ in parts):
            pairs_eg = option(f"{flag} logreg=0.03,svm=10", f"{keyword_of(flag)}={{'logreg': 0.03, 'svm': 10}}")
            raise FeatcacheError(f"{said} mixes a bare value with head=value pairs; use e.g. {pairs_eg}")
        for head, _, value in parts:
            if head.strip() in pairs:  # logreg=cv,logreg=1 kept the last without a word (an adversarial tester)
                raise FeatcacheError(f"{said} gives head {head.strip()!r} two values; give each head one")
            if value.strip() != "cv" and not cli_running():  # a number is a number in a Python call, never its text
                raise FeatcacheError(f"{said} gives a number as text; pass a dict of numbers, e.g. "
                                     f"{keyword_of(flag)}={{'logreg': 0.03, 'svm': 'cv'}}")
            pairs[head.strip()] = parse_C(value.strip(), flag)
    with_C = _heads_with_C(heads)
    for head in pairs:
        if head not in heads:
            raise FeatcacheError(f"{option(flag)} names head {head!r}, which is not among the heads ({', '.join(heads)}); "
                                 f"add it to {option('--heads')} or drop it from {option(flag)}")
        if head not in with_C:
            raise FeatcacheError(f"head {head!r} has no C parameter; give {option(flag)} only for "
                                 f"{', '.join(with_C) or ' or '.join(heads_with_C())}")
    return pairs


__all__ = ["HEADS", "head_default", "head_facts", "head_suffix", "head_summary", "heads_with_C", "make_head", "head_params", "parse_head_params", "check_param_names", "check_param_values", "fit_params", "RUN_ONLY_PARAMS", "unused_params", "check_head_params", "fold_reason", "folds_needed", "parse_C_per_head", "DenseHead", "LogRegHead", "SVMHead"]
