"""The one exception type the CLI turns into a one-line message and exit code 2, and the one line of a full disk."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

T = TypeVar("T")

# Characters that break a line or drive a terminal: the C0 and C1 controls and DEL (Unicode category Cc: "\n", "\r",
# "\t", "\x0b", "\x0c", "\x1b" that starts a terminal's escape sequences, "\x85") and the line and paragraph
# separators (Zl, Zp), on which str.splitlines breaks too. Not all that str.isprintable() rejects: format characters
# (Cf: the zero-width non-joiner in Persian words, the joiner in emoji sequences), the no-break space (Zs) and code
# points newer than Python's Unicode database are parts of real names and print on one line.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# What a suggested command writes as bytes in bash's $'...': control characters, and a path's bytes that are not
# UTF-8 (Python's surrogateescape holds them as U+DC80-U+DCFF; printed as they were, a strict stream refused them)
_UNQUOTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\udc80-\udcff]")
_SURROGATE = re.compile("[\udc80-\udcff]")


def one_line(text: str) -> str:
    """``text`` on one line whatever it quotes: a control character in a file or folder name ("\\n", "\\r", "\\x1b",
    ...; ``CONTROL``) is shown escaped, as Python writes it (a raw one split a listed name over two lines, or made a
    terminal show another)."""
    return CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def printable(text: str) -> str:
    """``text`` with a path's bytes that are not UTF-8 (held as surrogates, Python's surrogateescape) written as
    ``\\xHH``, the byte they stand for, as extract lists such file names: printed as they are, a UTF-8 stream refused
    them, and its fallback wrote Python's ``\\udce9``, which names no byte of the file."""
    if not _SURROGATE.search(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte (U+D800-U+DC7F, U+DD00-U+DFFF): Python's escape
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def clipped(text: str, limit: int = 40) -> str:
    """``text``'s first ``limit`` characters, ``printable``, and "..." only where it was cut: the one way a message
    names a data set's, folder's or file's name that may be long (a photo folder's is up to about 210 characters,
    printed whole, twice; a tester). Two copies had drifted: one added "..." after any name ("made from the data set
    name fashion_mnist...")."""
    return printable(text[:limit]) + ("..." if len(text) > limit else "")


def shell_word(text: str) -> str:
    """``text`` as one word of a bash command a user can paste: ``shlex.quote``'s, or where it holds a control
    character (``CONTROL``), bash's ``$'...'`` with that character escaped (a path with a newline in a suggested
    command was ``'a\\nb'`` once ``one_line`` had escaped it: pasted, a backslash and an n; a session's note)."""
    import shlex

    if not _UNQUOTABLE.search(text):
        return shlex.quote(text)
    return "$'" + "".join(_bash_escaped(c) for c in text) + "'"


def _not_an_option(path: str, keep_dash: bool = False) -> str:
    """``path`` with ``./`` before it where it starts with ``-``, which a command would read as an option
    ('featcache verify -h.npz' showed the help; an adversarial tester). ``keep_dash``: ``-`` alone (stdin's or
    stdout's) stays, where the flag takes it."""
    return f"./{path}" if path.startswith("-") and not (keep_dash and path == "-") else path


def shell_path(path: str) -> str:
    """A path as one word of a suggested command: ``shell_word``'s, and ``./`` before a relative path that starts
    with ``-`` (``_not_an_option``; ``-`` alone too)."""
    return shell_word(_not_an_option(path))


def _bash_escaped(ch: str) -> str:
    """One character inside bash's ``$'...'``: the named escapes, a backslash or quote escaped, any other control
    character as its UTF-8 bytes, ``\\xHH`` each (bash's ``\\uHHHH`` depends on the locale: under LC_ALL=C it
    stays text; a review), the rest as is."""
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", "'": "\\'"}
    if ch in named:
        return named[ch]
    if _UNQUOTABLE.fullmatch(ch):
        return "".join(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogateescape"))
    return ch


def first_line(exc: BaseException, limit: int | None = None, empty: str | None = None) -> str:
    """The first line of ``exc``'s message that says something (h5py's, Ray's and the converters' run to several
    lines), stripped and cut to ``limit`` characters; where it says nothing, ``empty`` (default: its type's name).
    The one home: the store and the decoder had a helper each and eleven places their own line, of which
    ``str(exc).splitlines()[0]`` was an IndexError traceback for an error without a message (a review)."""
    line = next((s.strip() for s in str(exc).splitlines() if s.strip()), None)
    if line is None:
        return type(exc).__name__ if empty is None else empty
    return line if limit is None else line[:limit]


def in_words(exc: BaseException, empty: str) -> str:
    """What ``exc`` says is wrong, for a user's line: its message (``first_line``), never its type's name, which says
    nothing to a user ("(OSError: ...)", "(KeyError)", "EOFError" in a line; a brief, h315); ``empty`` where it
    says nothing. A KeyError's message is its key's repr (h5py's say "'Unable to open object ...'"): shown unquoted."""
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        exc = Exception(exc.args[0])
    return first_line(exc, empty=empty)


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _import_machinery(filename: str) -> bool:
    """Whether a frame is Python's import machinery, which ``warnings.warn`` skips in counting ``stacklevel``."""
    return "importlib" in filename and "_bootstrap" in filename  # as warnings' own _is_internal_frame reads it


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn(message, category)`` attributed to the line of the caller's code that called into featcache:
    the innermost frame on the stack that is neither featcache's nor the import machinery's (Python 3.12's
    ``skip_file_prefixes``). A fixed ``stacklevel`` pointed into featcache itself wherever a wrapper
    (``validate.checks_switches``) or a helper stood between, and Python shows a DeprecationWarning only when
    attributed to ``__main__``: extract()'s old keyword form and ``import featcache.extraction`` (0.1's module
    names) warned unseen, and a note named heads/views.py's line (a notebook tester). Where nothing outside
    featcache called it (a thread of its own), its outermost frame."""
    import sys
    import warnings

    frame, level = sys._getframe(0), 1  # level 1: this function's own line
    while frame.f_back is not None:
        frame = frame.f_back
        name = frame.f_code.co_filename
        if _import_machinery(name):  # not counted by warnings.warn
            continue
        level += 1
        if not _is_ours(name):
            break
    shown = not getattr(warnings.showwarning, "__module__", "").startswith("featcache")  # the CLI's goes through note
    if shown and not _ignored(message, category, frame):
        from featcache.progress import end_open_line

        # Python's own display writes where a bar was left mid-line: a verbose curve(...) on a terminal had its
        # Keras validation note run on after "3/6 [=====>....] - 0s - logreg at 90: 0.7667" (a tester). Not for a
        # warning the filters ignore: the bar's line was broken for nothing (a brief, helper-310)
        end_open_line()
    warnings.warn(message, category, stacklevel=level)


def _ignored(text: str, category: type[Warning], frame: Any) -> bool:
    """Whether Python's warning filters ignore ``text`` of ``category`` attributed to ``frame``: the first filter of
    ``warnings.filters`` that matches decides, as ``warnings.warn`` reads them (its message and module patterns
    matched from the start, compiled, or equal where a plain string, as the default ``__main__`` filter is), else
    ``warnings.defaultaction``. Only the ignore action is read: a warning shown once per place (the "default"
    action) may still end a bar's line the second time, a blank line at worst, where a guess at Python's private
    registry of shown warnings could let one run on after a bar."""
    import warnings

    module = frame.f_globals.get("__name__") if frame is not None else None
    module = module if isinstance(module, str) else "<string>"  # as warnings names a frame without one
    lineno = frame.f_lineno if frame is not None else 0
    for action, msg, cat, mod, line in warnings.filters:
        if (_matches(msg, text) and issubclass(category, cat) and _matches(mod, module)
                and (line == 0 or line == lineno)):
            return action == "ignore"
    return warnings.defaultaction == "ignore"


def _matches(pattern: Any, text: str) -> bool:
    """A warning filter's message or module ``pattern`` against ``text``: None matches all, a plain string only
    itself, a compiled pattern from the start (``warnings.filterwarnings``'s)."""
    if pattern is None:
        return True
    return pattern == text if isinstance(pattern, str) else bool(pattern.match(text))


def _is_ours(filename: str) -> bool:
    """Whether a frame's file is featcache's own (under ``_PACKAGE``): ``warn``'s test of each frame it walks."""
    # a relative name is made absolute first (the working folder may change): the cache is of absolute names only
    return _is_ours_absolute(filename if os.path.isabs(filename) else os.path.abspath(filename))


@functools.lru_cache(maxsize=1024)
def _is_ours_absolute(filename: str) -> bool:
    """``_is_ours`` of an absolute name, remembered: ``abspath`` per frame was most of a ``warn`` (Python 3.12's
    ``warnings.warn(skip_file_prefixes=)`` would do this walk, but featcache runs on 3.10 and 3.11 too)."""
    return os.path.abspath(filename).startswith(_PACKAGE)


class FeatcacheError(Exception):
    """A problem the user can fix (bad input, missing file, mismatched cache).

    The message is a single line that names the problem and the fix; the CLI
    prints it without a traceback.
    """


# Whether featcache.cli is running a command (``cli_words``): its errors name the command's flags, the API's its
# keywords. A context variable, so each thread has its own: a process-wide flag gave an API call on one thread the
# words of a command running on another (a review). A new thread starts without it: the threads a command hands work
# to run it ``carried`` (the decoders' pool, the extraction's reader and writer, the folds' threads); worker
# processes are told (heads.solver.Parent's ``cli``, from parent_context).
_CLI_RUNNING: contextvars.ContextVar[bool] = contextvars.ContextVar("featcache_cli_words", default=False)
# The keywords of options in a Python call whose keyword is not the flag's own (``output_named``, flag -> keyword):
# extract's --out and --lock-timeout are fields of its StoreSpec. A context, not arguments threaded through the lock's
# and the full disk's functions.
_OUT_KEYWORD: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("featcache_out_keyword", default={})


@contextlib.contextmanager
def cli_words() -> Iterator[None]:
    """Within it (``cli.main`` running a command), ``option`` names an option by its flag."""
    token = _CLI_RUNNING.set(True)
    try:
        yield
    finally:
        _CLI_RUNNING.reset(token)


def cli_running() -> bool:
    """Whether a message is for a command's user (``cli_words``), who is told flags, not keywords."""
    return _CLI_RUNNING.get()


@contextlib.contextmanager
def output_named(keywords: Mapping[str, str]) -> Iterator[None]:
    """Within it, ``named_option`` (``out_option``) names an option of a Python call by ``keywords`` (flag -> keyword:
    extract's ``StoreSpec(out=...)``, ``StoreSpec(lock_timeout=...)``): the lock file's and the full disk's lines said
    "choose another out" and "a longer lock_timeout", keywords extract does not take (reviews)."""
    token = _OUT_KEYWORD.set(dict(keywords))
    try:
        yield
    finally:
        _OUT_KEYWORD.reset(token)


def out_option() -> str:
    """The output option as the caller gives it: ``--out`` in a command, else ``output_named``'s keyword, else ``out``."""
    return named_option("--out")


def named_option(flag: str) -> str:
    """An option as the caller gives it (``option``): its flag in a command, else the keyword ``output_named`` gives it
    in this Python call, else the flag's own keyword."""
    return option(flag, _OUT_KEYWORD.get().get(flag))


def carried(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn``, to run on another thread in the words of the caller here (``cli_words``, ``output_named``): a new
    thread starts with neither, and a command's decoder or writer thread named keywords to the command's user.

    The whole context is taken (``contextvars.copy_context``), not the variables known today: one copied by hand is
    missed the day another is added (a review). Each call runs in a copy of it, as one context cannot be entered by
    two threads at once (a pool runs calls of ``fn`` side by side)."""
    import contextvars

    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def in_callers_words(*args: Any, **kwargs: Any) -> T:
        return ctx.copy().run(fn, *args, **kwargs)

    return in_callers_words


class InCallersWords:
    """``fn``, to run in another process (a Ray task or actor) in the words of the caller here (``cli_words``):
    ``carried``'s context does not cross a process, and the lines a Ray worker said (a photo changed since the
    scan, other weights on a node), raised on the driver as they were, told a command's user to re-run "the call".
    Picklable where ``fn`` is."""

    def __init__(self, fn: Callable[..., Any], cli: bool):
        self.fn, self.cli = fn, cli

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with cli_words() if self.cli else contextlib.nullcontext():
            return self.fn(*args, **kwargs)


def for_process(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` to hand another process, in the caller's words here (``InCallersWords``)."""
    return InCallersWords(fn, cli_running())


def option(flag: str, keyword: str | None = None) -> str:
    """An option in a message, the one rule of which form: its ``flag`` where the CLI runs the command (``--test-fraction
    F``), else its API ``keyword`` (``test_fraction=F``; default the flag's own, ``keyword_of``; a name that is no
    flag, "rows", stays as it is). Lines named both ("pass test_fraction=F / --test-fraction F", "or --recursive (API:
    recursive=True)"): the CLI's user read the API's words, and the API's the CLI's (a new-user tester)."""
    if _CLI_RUNNING.get():
        return flag
    if keyword is not None:
        return keyword
    if not is_flag(flag):
        return flag
    return f"{keyword_of(flag)}=True" if flag in _SWITCHES else keyword_of(flag)


def command(name: str, args: str = "", call: str = "...") -> str:
    """A featcache command a line names or suggests, in the caller's words (``option``, the one rule): ``'featcache
    train'`` where the CLI runs a command, ``featcache.train(...)`` to a Python caller (``args``: the command's words
    after its name, ``'featcache extract ...'``; ``call``: the call's arguments). "retrain it with 'featcache
    train'" and "written by 'featcache extract'" named commands to API callers (docs/api.md: a line that suggests
    running something suggests the call)."""
    return option(f"'featcache {name}{' ' + args if args else ''}'", f"featcache.{name}({call})")


def command_word(name: str | None = None) -> str:
    """What a caller ran, in its words: "command" in a command's line, "call" in a Python call's ("re-run the same
    'featcache curve' command" is "re-run the same featcache.curve(...) call"). ``name``: the one command that reaches
    the line, named to a Python caller ("re-run the same featcache.extract(...) call"), as its own line is in the
    command. "run the command again" and "re-run the same command" were said to Python callers, who ran none (a brief,
    helper-297); a line reached from several commands says "call" alone."""
    return option("command", f"{command(name)} call" if name else "call")


# Flags whose API keyword is not the flag's name with "_" for "-" (docs/api.md's "Flags that are no keyword of the
# same name"; tests/test_cli_mirror.py holds every other flag to its keyword's name).
_KEYWORDS = {"--lr": "learning_rate"}
# Flags that switch something on (argparse's store_true): named alone, the API's is its keyword set to True
# ("pass --force" is "pass force=True").
_SWITCHES = ("--force", "--recursive", "--strict", "--trust-pickle", "--on-test", "--standardize")


def is_flag(name: str) -> bool:
    """Whether ``name`` is a command's flag (``--train-size``, or ``--sizes:`` naming one item of it): what
    ``given`` and ``example`` put in the API's words. A head class's "SVMHead C", "rows" or argparse's "" is not."""
    return isinstance(name, str) and name.startswith("--") and getattr(name, "assign", " ") == " "


def keyword_of(flag: str) -> str:
    """The API's keyword of a CLI ``flag``: ``--train-size`` -> ``train_size``, ``--C`` -> ``C`` (``--sizes:``, one
    item of it: ``sizes:``)."""
    bare, colon = (flag[:-1], ":") if flag.endswith(":") else (flag, "")
    return _KEYWORDS.get(bare, bare[2:].replace("-", "_")) + colon


def python_text(text: str) -> str:
    """A value as a Python call writes it: a number's text as it is, anything else quoted (``'cv'``, a path)."""
    try:
        number = float(text)
    except ValueError:
        return repr(text)
    return text if number == number and abs(number) != float("inf") else repr(text)  # inf and nan are no literals


def given(flag: str, text: str, python: str | None = None) -> str:
    """An option with its value, as a message names it, the one rule of which form: ``--train-size 1000.5`` in a
    command, ``train_size=1000.5`` in a Python call (``python``: the value as Python writes it where it differs from
    ``text``, e.g. a path in quotes). One item of a list option: ``--sizes: 'x'``, ``'x' in sizes`` (``list_item``). A name that is no
    flag (``is_flag``: "SVMHead C", argparse's "") is ``name text`` either way. The API's errors said the CLI's
    ("--train-size 1000.5 is not a whole number" to ``train(train_size=1000.5)``; a tester)."""
    if _CLI_RUNNING.get() or not is_flag(flag):
        # only an empty name (argparse's "") loses its space: strip() took a path's own trailing spaces, and
        # "--out /tmp/x/d  is a folder" (a folder "d ") lost one (helper-198's review)
        return f"{flag} {text}" if flag and text else f"{flag}{text}".strip()
    if flag.endswith(":"):  # one item of a list: "3 in sizes", as a curve's other lines name one ("sizes: 3" was one)
        return list_item(keyword_of(flag[:-1]), text)
    return f"{keyword_of(flag)}={text if python is None else python}"


def list_item(keyword: str, text: str) -> str:
    """One item of a Python call's list ``keyword``, the one form of it: ``0 in sizes``. "sizes item 0" read as the
    list's first item, where 0 was the value given (a new-user tester's ``curve(cache, [100, 200, 0])``)."""
    return f"{text} in {keyword}"


def given_path(flag: str, path: object, keyword: str | None = None, word: bool = False) -> str:
    """``given`` of a path: as it is in a command (``--out runs/m.h5``), quoted in a Python call (``out='runs/m.h5'``).
    ``keyword``: the call's where it is not the flag's own, or a form the quoted path goes in (``"StoreSpec(out={})"``).
    ``word``: in a command as a word to paste (``shell_path``: ``--out 'my runs/'``), for a path the line suggests.
    A relative path that starts with ``-`` is ``./-new.keras`` in a command either way: ``--out -new.keras``, which
    train suggested of ``--out=-new.npz``, is read as two options (``-`` alone, stdin's or stdout's, stays)."""
    text = str(path)
    command = _not_an_option(text, keep_dash=True)
    if keyword is None and not word:
        return given(flag, command, repr(text))
    api = keyword.format(repr(text)) if keyword and "{}" in keyword else f"{keyword or keyword_of(flag)}={text!r}"
    return option(f"{flag} {shell_path(text) if word else command}", api)


def given_together(*options: str) -> str:
    """Options ``given`` together, as the caller writes them: a command's with a space (``--workers 2
    --cpus-per-worker 1``), a Python call's with a comma (``workers=2, cpus_per_worker=1``)."""
    return (" " if _CLI_RUNNING.get() else ", ").join(options)


def example(flag: str, text: str) -> str:
    """A value a message suggests, after "e.g.", whose flag it has named already: ``10`` in a command, ``train_size=10``
    in a Python call, where a bare value says not which keyword takes it (``python_text`` quotes a word: ``C='cv'``)."""
    if _CLI_RUNNING.get() or not is_flag(flag):
        return text
    if flag.endswith(":"):  # an item of a list option: the list as Python writes it (sizes='100,250' was a str)
        return f"{keyword_of(flag[:-1])}=[{', '.join(python_text(v.strip()) for v in text.split(','))}]"
    value, sep, words = text.partition(" ")  # "20 (the lesson's: ...)": a number, then words about it
    if not (sep and python_text(value) == value):
        value, sep, words = text, "", ""
    return f"{keyword_of(flag)}={python_text(value)}{sep}{words}"


def unknown(said: str, known: Iterable[str]) -> str:
    """The one wording of a name that is none of ``known``: ``unknown head 'foo'; choose one of: keras, logreg, svm``
    (``said``: what was given, in the caller's words, e.g. ``given``'s ``preset='fast'``). train said "choose one of:"
    and probe "choose from:" of the same unknown head (a new-user tester)."""
    return f"unknown {said}; choose one of: {', '.join(known)}"


# Kinds of FeatcacheError that code (not only the user) tells apart: what a
# caller does next depends on the kind, never on the words of the message (a
# review found find_complete matching "is damaged" in the text).


class BadInput(FeatcacheError, ValueError):
    """Rows or labels a head's ``fit``, ``predict`` or ``predict_proba`` cannot take (``heads.inputs``): featcache's one
    line, and a ValueError as scikit-learn's conventions have it (its ``check_estimator``, and code that catches
    the ValueError a scikit-learn classifier raises)."""


class DamagedCache(FeatcacheError):
    """A featcache file whose content is not what was written (checksums, structure, cut short)."""


class CacheBusy(FeatcacheError):
    """A file another featcache process is writing (HDF5's lock, or featcache's own)."""


class ParamsDisagree(FeatcacheError):
    """Two parameters of a head, each valid alone, that do not fit together (the Keras head's early stopping without
    validation rows). ``heads.check_param_values`` leaves it to the caller's check of the head it builds, where a
    preset's values join: against a class default the command does not use it refused a valid --param (a review)."""


class NotHDF5(FeatcacheError):
    """A path HDF5 cannot open as a file of its own (another kind of file, or one cut short); ``path`` names it, so
    the CLI can say when it is a head or model given where a cache goes. The message is ``problem`` (what HDF5
    said of the file) and ``hint`` (what to pass instead): a command that takes other files too (verify) gives its
    own hint (it replaced the text of this one's, and would silently have stopped if the wording changed; a review)."""

    @staticmethod
    def default_hint() -> str:
        """The hint of a cache's command or call: "pass a cache written by 'featcache extract'" (``command``)."""
        return f"pass a cache written by {command('extract')}"

    def __init__(self, path: object, detail: str, hint: str | None = None):
        hint = NotHDF5.default_hint() if hint is None else hint
        self.path, self.detail, self.hint = path, detail, hint
        self.problem = f"{path} is not a readable HDF5 file ({detail})"
        super().__init__(f"{self.problem}; {hint}")

    def with_hint(self, hint: str) -> "NotHDF5":
        return NotHDF5(self.path, self.detail, hint)

    def __reduce__(self):  # pickle and copy pass the constructor's arguments, not the message (a review)
        return NotHDF5, (self.path, self.detail, self.hint)


def no_permission(path: object) -> str:
    """The one line for a file or folder this user may not read (or write): pathlib's ``exists``/``is_file`` raise
    on it, and a folder the user cannot search ended nearly every command in a traceback (an adversarial tester)."""
    return (f"{one_line(str(path))}: permission denied; check its permissions and those of the folders above it, "
            "or use another path")


def in_the_way(path: object, role: str, what: str, fix: str) -> FeatcacheError:
    """The one line for something at the name of a file featcache writes beside its outputs (its ``role``: "lock
    file", "partial file", "converted model", ...) that it cannot or may not replace: ``what`` it is ("a folder"),
    and ``fix``, read after "move it away, or". Three copies of these words had grown (lock, partial, predict's
    record); a folder at a converted model's name was a traceback (an adversarial tester)."""
    return FeatcacheError(f"{path} is in the way of featcache's {role} (it is {what}); move it away, or {fix}")


def link_loop(path: object) -> str:
    """The one line for a path that is a loop of symbolic links (the CLI's boundary and PhotoFolder's check)."""
    return f"{path} is a loop of symbolic links; point it at a real file or folder"


def link_loop_passed(link: object, real: object) -> str:
    """The one-line note for a folder link that leads back to a folder holding it (``ants/loop -> ..``), which a
    photo folder's walk passes over by rule: it went without a word (an adversarial tester)."""
    return (f"{link} is a symbolic link back to {real}, which holds it: a loop, passed over (its images are read once, "
            "where they are); remove the link if it was meant to add images")


def system_limit(exc: BaseException) -> str | None:
    """What to do about an OSError from a limit of the system, not a fault of any file: too many open files
    (EMFILE, ENFILE) or no memory (ENOMEM, or Python's MemoryError: ``out_of_memory``); None for any other error.

    Such an error says nothing about the file being opened: taken for one
    that does, a resume deleted its partial as "damaged", a photo was
    "changed on disk" and another skipped as unreadable (``ulimit -n 8``, an adversarial tester).
    """
    if isinstance(exc, MemoryError):  # Python's own (numpy's allocation of an array): a traceback, whatever the command
        return out_of_memory(exc)
    if not isinstance(exc, OSError) or exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOMEM):
        return None
    if exc.errno == errno.ENOMEM:
        return "out of memory (Cannot allocate memory); free some memory and re-run"
    return f"too many open files ({os.strerror(exc.errno)}); raise the limit with ulimit -n and re-run"


def out_of_memory(exc: MemoryError) -> str:
    """The one line for a MemoryError: what could not be allocated (numpy says how much: "Unable to allocate 6.02 GiB
    for an array with shape ...") and what to do. An evaluate of 400 classes ended in numpy's ``_ArrayMemoryError``
    traceback under ``ulimit -v`` (an adversarial tester); the CLI now says this (``cli.system_problem``)."""
    detail = first_line(exc, limit=160, empty="MemoryError")
    return (f"out of memory ({detail}); free some memory (close other programs, or raise ulimit -v) or give the "
            f"{command_word()} less to hold at once, and re-run")  # a photo decoded in a Python call meets it too


# A full disk, the one line for it (moved from store.atomic, 2026-12-05: validate's check of an output folder is
# foundation and may not import a stage; it had written its own copy, which a review found).
def is_no_space(exc: BaseException) -> bool:
    """True for ENOSPC (and a quota), also as h5py reports it (an OSError or RuntimeError whose text carries
    'errno = 28'), and for a file that reached its size limit (EFBIG, ``_too_large``)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "No space left on device" in text or "errno = 28" in text or "Disk quota exceeded" in text or _too_large(exc)


def _too_large(exc: BaseException | None) -> bool:
    """EFBIG: a FAT32/exFAT drive's 4 GB per file, or ``ulimit -f`` (Python ignores SIGXFSZ, so the write fails).
    It ended in HDF5's tracebacks and a partial that could not be resumed (an adversarial tester)."""
    if exc is None:
        return False
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return True
    text = str(exc)
    return "File too large" in text or "errno = 27" in text


def no_space(path: str | Path, needed_bytes: int | None = None, advice: str | None = None,
             exc: BaseException | None = None) -> FeatcacheError:
    """The one line for a full disk: where, what was being written, and how much to free (``exc``: the error,
    when it may be a file size limit instead). Where no ``advice`` is given it says to choose another output, ``out_option()``
    (extract's is its StoreSpec's field: a Python call was told "choose out on another file system"; a review)."""
    from featcache.validate import mount_point  # foundation too; validate imports this module

    path, out = Path(path), out_option()
    device = mount_point(path.parent)
    if exc is not None and any(_too_large(e) for e in exception_chain(exc)):
        return FeatcacheError(f"file size limit reached writing {path} on {device} (File too large: a FAT32 drive's "
                              f"4 GB, or ulimit -f); {advice or 'choose ' + out + ' on another file system'}")
    if needed_bytes:
        free = shutil.disk_usage(device).free if device.exists() else 0
        mb = max(1, -(-max(needed_bytes - free, needed_bytes // 10) // 2**20))
        free_hint = f"free {mb} MB"
    else:
        free_hint = "free some space"
    return FeatcacheError(f"no space left on {device} writing {path}; {free_hint} or {advice or 'choose ' + out + ' elsewhere'}")


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes and contexts, each once."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
