"""The ``featcache`` command line: one module per subcommand, mirroring the API.

Each module in ``COMMANDS`` defines ``register(subparsers)``, which adds its
parser and sets ``func`` (args -> exit code). User errors (FeatcacheError)
become one line on stderr and exit code 2, without a traceback.

This module imports only ``sys`` at its top: the console script runs
``from featcache.cli import main`` before any featcache code can catch a
Ctrl-C, so everything else is imported inside ``main``'s ``try`` (the window
left is the interpreter's own start-up and this module's few definitions).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing's constant without importing typing here (type checkers read it as True)
if TYPE_CHECKING:
    import argparse
    from typing import IO, Any, Callable, NoReturn, Sequence

RESUMABLE = ("extract", "curve", "lesson")  # lesson resumes its extraction
COMMANDS = ["extract", "info", "verify", "train", "evaluate", "lesson", "curve", "probe", "finetune", "export", "predict"]
STARTING = "featcache: interrupted while starting; nothing was done"


# The --out defaults say HOME/...: 'data/runs/...' read as a fixed place where FEATCACHE_HOME was set (a new user).
HOME_NOTE = "HOME: where outputs go by default, $FEATCACHE_HOME if set, else ./data (HOME/cache, HOME/runs, HOME/models)."


def runtime_dir_note() -> str:
    """Where converted models go, for the help's epilog: not under HOME, a conversion depends only on the model and
    is found from any folder (``paths.runtime_dir``). A function: the words are ``paths``', and this module imports
    nothing of featcache at its top (``paths`` is imported by then: cli.common, before the parser is built)."""
    from featcache.paths import RUNTIME_DIR_WORDS

    return f"Converted models (--runtime auto, onnxruntime, openvino, xnnpack): one folder per user, {RUNTIME_DIR_WORDS}."


def _parser_class():
    """``Parser``, defined when first needed: argparse is imported inside main's try."""
    import argparse
    import re

    # what float() reads after a '-': 5, 5., .5, 5e-3, inf, nan (argparse's own: 5 and .5)
    negative_number = re.compile(r"^-(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)

    class Parser(argparse.ArgumentParser):
        """A flag error is one line that names the fix (like every other featcache error), not the whole usage text."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # No abbreviations: '--fo' was taken as --force, and an abbreviation that is unique today becomes
            # another option, or an error, when an option is added (an adversarial tester). Subparsers are built
            # with this class (parser_class=Parser), so every command's parser refuses them too.
            kwargs.setdefault("allow_abbrev", False)
            super().__init__(*args, **kwargs)
            # argparse takes only -5 and -0.5 as a negative number (a value), anything else after a '-' as a flag:
            # --C -1e-3, --lr -1e-5, --lock-timeout -1e3 and --C -inf were "expected one argument" where --C -0.5 was
            # featcache's "not a positive number" line (an adversarial tester). Every number float() reads is a value
            # here, so its check says what is wrong with it; -h, -x and --flags are still flags.
            self._negative_number_matcher = negative_number
            self.register("action", "version", _Version)  # action="version": refuses a closed stdout as --help does
            self._help_later: list[tuple[argparse.Action, Callable[[], str]]] = []

        def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
            """As argparse's, but ``help`` may be a function of no arguments, which makes the text when help is shown
            (``fill_help``), not when the parser is built: train's and curve's help quote the heads' classes (their
            defaults and summaries), whose modules import scikit-learn, 2-5 s on a loaded machine that building the
            parser for any command, ``featcache --help`` among them, paid (a new user: 6 s at load 25)."""
            later = kwargs.pop("help") if callable(kwargs.get("help")) else None
            action = super().add_argument(*args, **kwargs)
            if later is not None:
                self._help_later.append((action, later))
            return action

        def fill_help(self) -> None:
            """Make the help texts given as functions (``add_argument``), once."""
            while self._help_later:
                action, text = self._help_later.pop(0)
                action.help = text()

        def print_help(self, file: IO[str] | None = None) -> None:
            """As argparse's, but with standard output closed, the closed-stdout line and exit 2 (refuse_closed_stdout)."""
            if file is None:
                self.refuse_closed_stdout()
            super().print_help(file)

        def refuse_closed_stdout(self) -> None:
            """Exit 2 with the closed-stdout line (cli.common.STDOUT_CLOSED) where standard output is closed.

            '--help >&-' and '--version >&-' exited 0 with the text on stderr (argparse writes where stdout is None
            to stderr) or nowhere (a closed descriptor), where every command is refused in one line (a review)."""
            from featcache.cli.common import STDOUT_CLOSED, stdout_closed

            if stdout_closed():
                self.exit(2, f"{self.prog}: error: {STDOUT_CLOSED}\n")

        def _print_message(self, message: str, file: IO[str] | None = None) -> None:
            """As argparse's, but a failed write of help or version text to standard output (``--help > /dev/full``)
            is one line, exit 2, where argparse passed over it and featcache exited 0 with the text lost (an
            adversarial tester). A reader gone (``--help | head``) raises BrokenPipeError, which ``_main`` ends on as
            it does for every command's output."""
            if not message or file is None or file is not sys.stdout:
                return super()._print_message(message, file)
            try:
                file.write(message)
                file.flush()
            except BrokenPipeError:
                raise
            except OSError as exc:
                _stdout_gone()  # what is left in the buffer must not fail again (and print) at exit
                self.exit(2, f"{self.prog}: error: {stdout_unwritten(exc, kept='')}\n")

        def format_help(self) -> str:
            """argparse's, and where a default names HOME/..., what HOME is."""
            self.fill_help()
            text = super().format_help()
            # the note's words, not its line breaks: argparse wraps the top parser's epilog (it was printed twice)
            said = " ".join(HOME_NOTE.split()) in " ".join(text.split())
            return text + f"\n{HOME_NOTE}\n" if "HOME/" in text and not said else text

        # The arguments of the command line being parsed (``parse_args``'s): a command's parser raises its errors
        # from inside the top parser's parse, without them, and a usage error names the fix from them.
        given: tuple[str, ...] = ()

        def error(self, message: str) -> NoReturn:
            from featcache.errors import one_line

            hint = _dash_path_hint(self, Parser.given)
            self.exit(2, f"{self.prog}: error: {one_line(message + hint)}; see '{self.prog} --help'\n")

        def _check_value(self, action, value):
            """As argparse's, but a mistyped choice (a command, ``--head kears``) names the nearest one, as a mistyped
            flag does (``featcache trian`` listed every command where ``--haed`` said "did you mean --head?"; a
            new-user tester)."""
            if action.choices is not None and value not in action.choices:
                near = _nearest_choice(value, action.choices)
                if near is not None:
                    raise argparse.ArgumentError(action, f"invalid choice: {value!r} (did you mean {near!r}?)")
            super()._check_value(action, value)

        def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                       namespace: argparse.Namespace | None = None) -> argparse.Namespace:
            """As argparse's, but a flag no command knows is blamed on the command given, with the nearest flag it has.

            argparse reports such a flag from the top-level parser ("featcache: error: unrecognized
            arguments: --trainsize 10; see 'featcache --help'"), which a tester found pointed the wrong way.
            """
            Parser.given = tuple(sys.argv[1:] if args is None else args)
            ns, extras = self.parse_known_args(args, namespace)
            if extras:
                sub = next((a.choices.get(getattr(ns, "command", None)) for a in self._actions
                            if isinstance(a, argparse._SubParsersAction)), None)
                target = sub or self
                before = _before_command(sub, extras)
                if before is not None:
                    target.error(f"{before} is an option of 'featcache {ns.command}' and goes after the command: "
                                 f"featcache {ns.command} {before} ...")
                target.error(f"unrecognized arguments: {' '.join(extras)}{_nearest_flag(target, extras)}")
            return ns

    class _Version(argparse._VersionAction):
        def __call__(self, parser: Parser, namespace: argparse.Namespace, values: Any,  # type: ignore[override]
                     option_string: str | None = None) -> None:
            parser.refuse_closed_stdout()
            super().__call__(parser, namespace, values, option_string)

    return Parser


def _dash_path_hint(parser, given: Sequence[str]) -> str:
    """`` (-h.npz starts with '-', so it was read as an option: ...)`` for the first of ``given`` (before any ``--``)
    that looks like a path but starts with ``-``, with the way to pass it, else ''. argparse reads such a word as a
    flag: 'featcache info -h.npz' said "argument -h/--help: ignored explicit argument '.npz'" and 'featcache verify
    -x.npz' "the following arguments are required: FILE", neither naming the file nor the fix (a tester). The one
    home of the hint: every usage error of every command goes through ``Parser.error``. A path: a file there, or a
    word with a '/' or ending in a suffix (an --out not made yet); never a known flag or a negative number."""
    import argparse
    import os
    import re

    from featcache.errors import shell_path, shell_word

    words = list(given[: list(given).index("--")] if "--" in given else given)
    flags = {o: a for a in parser._actions for o in a.option_strings}
    for i, word in enumerate(words):
        if (not word.startswith("-") or word == "-" or word.split("=")[0] in flags
                or parser._negative_number_matcher.match(word)):
            continue
        if not (os.path.lexists(word) or "/" in word or re.search(r"\.\w{1,5}$", word)):
            continue
        said = f" ({word} starts with '-', so it was read as an option: write {shell_path(word)}"
        before = flags.get(words[i - 1]) if i else None
        if before is not None and before.nargs != 0:  # an option's value: '--' would not make it one
            return f"{said}, or {words[i - 1]}={shell_word(word)})"
        rest = words[i + 1:]
        # '--' ends the options: the command line again with it before the word, where nothing after the word is an
        # option (it would become an argument) and a command was given (before one, '--' makes none)
        if "--" in given or any(w.startswith("-") for w in rest) or any(
                isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            return f"{said})"
        again = " ".join(shell_word(w) for w in [*words[:i], "--", word, *rest])
        return f"{said}, or put it after '--', which ends the options: {parser.prog.split()[0]} {again})"
    return ""


def _nearest_choice(value: object, choices) -> str | None:
    """The choice nearest to a mistyped ``value`` (validate.closest, the flags' cutoff), else None."""
    from featcache.validate import closest

    names = [str(c) for c in choices]
    return closest(str(value), names, cutoff=0.75) if isinstance(value, str) else None


def _before_command(sub, extras: list[str]) -> str | None:
    """The first of ``extras`` that is an option of the command given (``sub``), else None. Such an option was given
    before the command (after it, the command's parser takes it): 'featcache --json info X' said "unrecognized
    arguments: --json" of info, which has --json (an adversarial tester). Refused with where it goes, not taken:
    featcache has no options of its own besides --help and --version, and one place for each option keeps it so."""
    if sub is None:
        return None
    flags = {o for a in sub._actions for o in a.option_strings}
    for x in extras[: extras.index("--")] if "--" in extras else extras:
        if x.split("=")[0] in flags:
            return x.split("=")[0]
    return None


def _nearest_flag(parser, extras: list[str]) -> str:
    """`` (did you mean --train-size?)`` for the first unknown flag that is close to one of ``parser``'s, else ''.

    Nothing after ``--`` (those are arguments, not flags), and never a flag the parser already knows.
    """
    from featcache.validate import closest

    flags = [o for a in parser._actions for o in a.option_strings if o not in ("-h", "--help")]
    for x in extras[: extras.index("--")] if "--" in extras else extras:
        name = x.split("=")[0]
        # a unique beginning of a flag ('--fo'): abbreviations are off (Parser), so say the flag it begins
        starts = [f for f in flags if f.startswith(name)] if name.startswith("--") else []  # so each is a --flag
        near = (starts[0] if len(starts) == 1 else closest(name, flags, cutoff=0.75)) \
            if name.startswith("-") and name not in flags else None
        if near:
            return f" (did you mean {near}?)"
    return ""


def build_parser(help_texts: bool = False) -> argparse.ArgumentParser:
    """The argparse parser of every subcommand (imports each subcommand's module). ``help_texts``: make every help
    text now (docs/cli.md's generator, a test that reads ``action.help``); otherwise those given as functions are made
    when help is shown (``Parser.add_argument``), so building the parser imports no scikit-learn."""
    import importlib

    from featcache import __version__

    Parser = _parser_class()
    parser = Parser(
        prog="featcache",
        description="Transfer learning the fast way: embed images once with a frozen pretrained network, "
        "cache the features in HDF5, train and compare heads on them in seconds.",
        epilog=f"{HOME_NOTE}\n\n{runtime_dir_note()}",
    )
    parser.add_argument("--version", action="version", version=f"featcache {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    if help_texts:
        for command in sub.choices.values():
            command.fill_help()
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """featcache's own warnings (a cache without checksums, a pickle head, leakage) as one plain line naming the
    command, like its errors; others as Python shows them. The one formatter (the head commands had their own).
    A category whose ``label`` is "note" says so instead of "warning" (nothing is wrong; something is worth knowing)."""
    if category.__module__.startswith("featcache"):
        label = getattr(category, "label", "warning")
        line = f"featcache{' ' + _command if _command else ''}: {label}: {message}"
        # once per command: a catch_warnings block between two reads of one file (a conversion's) resets Python's
        # own once-registry, and predict said a model's note twice (an adversarial tester)
        if line not in _said:
            from featcache.progress import note

            _said.add(line)
            # note: stderr closed (2>&-) or failing is ignored; a print() here ended train and evaluate with OSError
            # EBADF after their work, the head unwritten (an adversarial tester)
            note(line)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = None
_command: str | None = None  # the running command, for the warning lines
_said: set[str] = set()  # the warning lines this command printed


def _start() -> None:
    """Quiet start-up: TensorFlow's C++ banners off, featcache's warnings as one line, PIL's metadata warnings dropped."""
    global _python_showwarning
    import warnings

    from featcache._lazy import quiet_env

    quiet_env()
    _python_showwarning = warnings.showwarning  # the caller's, put back by main's catch_warnings
    warnings.showwarning = _show_warning
    # Pillow warns (UserWarning, several lines with the source line) about damaged EXIF or TIFF
    # metadata of a photo whose pixels decode fine; a photo that does not decode is skipped and
    # listed by featcache instead (sources/decode.py), so these say nothing a user can act on.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    # An icon of 32-64M pixels: Pillow warns at half featcache's limit while decoding it (sources/decode.py); the
    # limit itself (MAX_PIXELS) is featcache's to say (a tester saw the two-line warning in extract's output).
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"PIL\.", message=r"Image size \(")
    # joblib (which scikit-learn imports) warns at its import, in two lines naming its own file, where it cannot make
    # the semaphores its worker processes need (/dev/shm full or unwritable, a file size limit such as ulimit -f 0):
    # printed before featcache's one line of the run (the TMPDIR one, a write refused; a brief, 2026-12-07).
    # featcache says what it changes where it changes anything (validate.workers_for: the fits run one at a time).
    warnings.filterwarnings("ignore", category=UserWarning, module=r"joblib\.",
                            message=r".*joblib will operate in serial mode")


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a container stopping), raised where Python runs: handled as Ctrl-C is."""


# The signals the running command received (SIGINT, SIGTERM), for ``_main``: an interrupt raised while C code runs
# Python (TensorFlow's, inside model.evaluate) can reach the command as a SystemError instead, its KeyboardInterrupt lost.
_received: list[int] = []


def _terminate(signum, frame):
    _received.append(signum)
    raise Terminated


def _interrupt(signum, frame):
    """Ctrl-C while a command runs: Python's own handler (KeyboardInterrupt), the signal noted first (``_received``)."""
    _received.append(signum)
    raise KeyboardInterrupt


class _SigtermAsInterrupt:
    """While a command runs, SIGTERM unwinds like Ctrl-C (the partial file closed, the lock released), and both are
    noted in ``_received``.

    Only where nobody else chose what SIGTERM does (the default handler) and
    in the main thread, where Python delivers signals; the handler is put back
    after. Killed outright instead, a run left its lock file and said nothing.
    Ctrl-C's handler is wrapped only where it is Python's own (not where it is
    ignored, as CI and a shell's background jobs have it).
    (A class, not contextlib: this module imports only sys at its top.)
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self) -> None:
        import signal
        import threading

        _received.clear()
        main_thread = self.enabled and threading.current_thread() is threading.main_thread()
        self.installed = main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        if self.installed:
            signal.signal(signal.SIGTERM, _terminate)
        self.ctrl_c = main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if self.ctrl_c:
            signal.signal(signal.SIGINT, _interrupt)

    def __exit__(self, *exc) -> None:
        import signal

        if self.installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if self.ctrl_c and signal.getsignal(signal.SIGINT) is _interrupt:
            signal.signal(signal.SIGINT, signal.default_int_handler)


class _InterruptsInFinalizers:
    """While a command runs, a Ctrl-C (or SIGTERM) that Python raises inside an object's finalizer is delivered again,
    not lost: Python only prints an exception a ``__del__`` raises ("Exception ignored in: <function
    AtomicFunction.__del__ ...> Traceback ... KeyboardInterrupt", TensorFlow's, whose garbage is collected at any
    moment) and goes on. A Ctrl-C as predict wrote its --csv printed that traceback, then the command finished and
    exited 0, as if nobody had pressed it (an adversarial tester, helper-272). The signal is tripped again for the
    main thread from another thread (tripped from the hook, its handler would raise in the hook, ignored in turn), so
    its handler raises the interrupt where the command runs, at the latest as the command ends (the thread joined).
    Any other exception in a finalizer is Python's to print. Only as the program, as ``_SigtermAsInterrupt``: a
    caller's hook stays its own. (A class: see that one.)"""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self) -> None:
        if self.enabled:
            import _thread
            import queue
            import signal
            import threading

            # The hook only puts on this queue (SimpleQueue.put is safe in a finalizer: it takes no lock a collected
            # object's owner may hold); a watcher started here trips the signal. Starting a thread from the hook took
            # threading's own lock, which a finalizer run while the main thread held it (threading.enumerate) would
            # wait for until a second Ctrl-C (a review of the first version, helper-275).
            self.tripped: queue.SimpleQueue = queue.SimpleQueue()
            self.signums = (signal.SIGINT, signal.SIGTERM)
            self.ident = _thread.get_ident
            self.watcher = threading.Thread(target=_trip_again, args=(self.tripped,), name="featcache-interrupt",
                                            daemon=True)
            self.watcher.start()
            self.before = sys.unraisablehook
            sys.unraisablehook = self._hook

    def __exit__(self, *exc) -> None:
        if self.enabled:
            sys.unraisablehook = self.before
            self.tripped.put(None)
            self.watcher.join()  # a signal tripped again is raised here if the command ended first

    def _hook(self, unraisable) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            self.before(unraisable)
            return
        self.tripped.put((self.ident(), self.signums[isinstance(unraisable.exc_value, Terminated)]))


def _trip_again(tripped) -> None:
    """``_InterruptsInFinalizers``' watcher: each (thread, signal) the hook put, tripped for the main thread once that
    thread has left the hook (tripped inside it, the handler would raise in the hook, ignored in turn); ends at None."""
    import _thread
    import time

    hook = _InterruptsInFinalizers._hook.__code__
    while (got := tripped.get()) is not None:
        thread, signum = got
        while _inside(sys._current_frames().get(thread), hook):
            time.sleep(0.001)
        _thread.interrupt_main(signum)


def _inside(frame, code) -> bool:
    """Whether ``frame`` or a frame below it runs ``code``."""
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


class _GuardedOutput:
    """Standard output while a command runs: a write that fails (a full disk behind ``> file``, an I/O error) is
    remembered, not raised, so the work itself finishes and is kept (a cache, a head) and the command then ends on
    one line, exit 2. It was a traceback, and the work was lost: ``extract > /dev/full`` stopped at its first
    progress line (an adversarial tester). A broken pipe still raises: the reader left, so we stop.
    """

    def __init__(self, as_program: bool):
        self.error: OSError | None = None
        self.as_program = as_program  # only then may fd 1 be pointed elsewhere: a calling program keeps its stdout

    def __enter__(self) -> _GuardedOutput:
        self._stream = sys.stdout
        if self._stream is not None:  # None: started with stdout closed, print() writes nothing
            sys.stdout = self
        return self

    def __exit__(self, *exc) -> None:
        if sys.stdout is self:
            sys.stdout = self._stream

    def _guard(self, call, *args):
        if self.error is not None:
            return None
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.error = exc
            if self.as_program:
                _stdout_gone()  # what is left in the buffer must not fail again (and print) at exit
            return None

    def write(self, text: str) -> int:
        try:
            self._guard(self._stream.write, text)
        except UnicodeEncodeError:  # an ASCII locale and a non-ASCII name: a traceback (an adversarial tester)
            from featcache.errors import printable

            # A path's bytes that are not UTF-8 as \xe9, the byte, not Python's \udce9 (predict's lines of a Latin-1
            # folder; an adversarial tester). A stream that takes them (surrogateescape, as Python's ASCII locale
            # has) got them as they are above, the path's own bytes.
            enc = getattr(self._stream, "encoding", None) or "ascii"
            self._guard(self._stream.write, printable(text).encode(enc, "backslashreplace").decode(enc))
        return len(text)

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def message(self) -> str:
        return stdout_unwritten(self.error)


def stdout_unwritten(exc: OSError, kept: str = " (files it wrote, such as a cache or a head, are kept)") -> str:
    """The one line for standard output that could not be written (a full disk behind ``> file``, an I/O error): a
    command's output (``_GuardedOutput``) and its help or version text (``Parser._print_message``, ``kept=''``)."""
    reason = exc.strerror or type(exc).__name__
    return f"standard output could not be written ({reason}); send it where there is room and run the command again{kept}"


def path_problem(exc: BaseException) -> str | None:
    """One line for a path the system cannot use however featcache checks it: a name longer than the file system
    allows, a link loop (pathlib's RuntimeError or ELOOP). Such paths, given to any command, ended in a
    traceback where a check did not expect them (an adversarial tester). None: not such a problem."""
    import errno

    from featcache.errors import link_loop

    if isinstance(exc, RuntimeError) and str(exc).startswith("Symlink loop"):
        where = str(exc).removeprefix("Symlink loop from ").strip("'")
        return link_loop(where)
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM) and exc.filename is not None:
        from featcache.errors import no_permission

        return no_permission(exc.filename)  # any check of a path in a folder the user may not search
    if not isinstance(exc, OSError) or exc.errno not in (errno.ENAMETOOLONG, errno.ELOOP):
        return None
    name = exc.filename if exc.filename is not None else "a path given"
    shown = str(name) if len(str(name)) <= 120 else f"{str(name)[:60]}...{str(name)[-40:]}"
    if exc.errno == errno.ELOOP:
        return link_loop(shown)
    return (f"{shown}: the name is too long for the file system (at most 255 bytes a name, 4096 a path); "
            "use a shorter name")


def system_problem(exc: BaseException) -> str | None:
    """One line for a limit of the system hit anywhere (too many open files, no memory, a MemoryError): ``ulimit -n 6``
    ended in a traceback from ``import tensorflow`` (an adversarial tester). None: not such a problem."""
    from featcache.errors import system_limit

    return system_limit(exc)  # which file it was opening (one of TensorFlow's modules) says nothing to act on


def _stdout_still_there() -> bool:
    """Whether our standard output still has a reader: a pipe's write end polls as an error once its reader left."""
    import select

    if not hasattr(select, "poll"):  # Windows: no way to ask; take it as ours, as before
        return False
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return not any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError):  # not a file descriptor (captured output): not the pipe that broke
        return True


def _stdout_gone() -> int:
    """The reader of our output went away (``| head``): stop quietly, as command-line tools do."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's flush at exit would fail (and print) again
    except (OSError, ValueError):
        pass
    return 141  # 128 + SIGPIPE, what the shell reports for a tool stopped by its reader


def _say(line: str) -> None:
    """An error or stop line on stderr, ignored where stderr is closed (2>&-) or failing: its print() raised there,
    and the exit status of a one-line error became 1 (an adversarial tester)."""
    from featcache.progress import note

    note(line)


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status. What it changes of the warnings machinery is put back after, so a
    program calling ``main(argv)`` keeps its own (it kept featcache's one-line format for good; a review)."""
    import warnings

    with warnings.catch_warnings():
        rc = _main(argv)
    if argv is None:  # as the program (console script, python -m featcache), not a caller's main(argv)
        import signal

        # The command is done and has said so: a Ctrl-C in Python's teardown after it (joining worker threads,
        # atexit callbacks) ended a finished extract with exit 130 and no line, or a KeyboardInterrupt traceback,
        # though its cache was whole (an adversarial tester: a script reads that as a failure). The teardown
        # ignores it; SIGTERM (kill PID) still ends one that hangs (a Ray shutdown, a thread join), Ctrl-\ too.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if rc in STOPPED:
            _end_anyway(rc, EXIT_SECONDS)
    return rc


# How long Python's own exit may take after a command stopped by Ctrl-C or SIGTERM before the process ends without
# it (_end_anyway). An interrupted extract's exit takes well under a second.
EXIT_SECONDS = 3.0
# The statuses of a command the user stopped (Ctrl-C, SIGTERM): only these end the process early. Armed after every
# non-zero status, the timer cut short the exit of a command that ended on an error, or verify's "damaged" (exit 2),
# where nobody asked for it to stop: whatever of Python's exit was left after EXIT_SECONDS (atexit handlers, a
# temporary folder's removal, the C libraries' own exit handlers: HDF5's) was skipped (a review).
STOPPED = (130, 143)


def _end_anyway(rc: int, seconds: float) -> None:
    """The process ends with ``rc`` ``seconds`` from now, if Python's exit has not ended it by then.

    Python's exit joins every worker thread, and one stuck in a read that no
    signal reaches (a photo on a stalled network mount, a FIFO) held an
    interrupted extract there forever, its line said and its partial file
    closed: SIGTERM and Ctrl-C did nothing more, only SIGKILL ended it (an
    adversarial tester). Called once the command's own cleanup is done, so
    nothing is left to write but the standard streams, flushed first; and
    only where the user stopped the command (``STOPPED``): what atexit
    handlers were still running then is given up, as the user asked.
    """
    import os
    import threading
    import time

    def end() -> None:
        time.sleep(seconds)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed or failing stream: the status still counts
                pass
        os._exit(rc)

    threading.Thread(target=end, name="featcache-exit", daemon=True).start()


def _main(argv: list[str] | None) -> int:
    global _command
    _command = None
    _said.clear()
    try:
        from contextlib import nullcontext

        from featcache.errors import FeatcacheError, cli_words
        from featcache.progress import bars_when_quiet

        _start()
        # Building the parser imports every subcommand (about 2 s): Ctrl-C here is no traceback either.
        with cli_words():  # argparse's type= checks name the flags too
            args = build_parser().parse_args(argv)
        _command = args.command
    except KeyboardInterrupt:
        _say(STARTING)
        return 130
    except BrokenPipeError:  # --help into | head
        return _stdout_gone()
    from featcache.cli.common import collecting_outputs

    # what this command writes whole, for its interrupt line: its own, none of a call before it or on another thread
    with collecting_outputs():
        try:
            from featcache.cli.common import STDOUT_CLOSED, stdout_closed

            if stdout_closed():  # before any work: the results would be lost (cli.common.STDOUT_CLOSED)
                raise FeatcacheError(STDOUT_CLOSED)
            # Only as the program (the console script, python -m featcache: no argv given): a program that
            # calls main(argv) itself keeps SIGTERM's default, so that it still stops (a review's finding).
            with _SigtermAsInterrupt(enabled=argv is None), _InterruptsInFinalizers(enabled=argv is None), \
                    _GuardedOutput(as_program=argv is None) as output:
                # --json: the command's text is off (stdout is the JSON), its progress bars still on stderr
                # its errors name its flags, never the API's keywords (errors.option); a head or model given where
                # a cache goes is named as the API's calls name it, from the one home, said inside cli_words (a
                # copy here, cli._named_kind, said it after them, and had to enter them again; a brief, helper-310)
                from featcache.heads.io import names_a_head_given_as_a_cache

                with bars_when_quiet() if getattr(args, "json", False) else nullcontext(), cli_words():
                    rc = int(names_a_head_given_as_a_cache(args.func)(args) or 0)
                if sys.stdout is not None:
                    sys.stdout.flush()
            if output.error is not None:
                raise FeatcacheError(output.message())
            return rc
        except FeatcacheError as exc:
            from featcache.errors import one_line

            _say(f"featcache {args.command}: error: {one_line(str(exc))}")
            return 2
        except BrokenPipeError:  # before OSError's clause below: a BrokenPipeError is an OSError (a review)
            if _stdout_still_there():  # another pipe or socket broke: not the reader of our output going away
                raise
            return _stdout_gone()
        except (OSError, RuntimeError, MemoryError) as exc:  # MemoryError: no OSError, and was a traceback (a tester)
            said = path_problem(exc) or system_problem(exc)
            if said is None:
                raise
            _say(f"featcache {args.command}: error: {said}")
            return 2
        except SystemError:
            # A Ctrl-C or SIGTERM raised while C code called back into Python (TensorFlow's model.evaluate, as finetune
            # scored its frozen head) came out as "SystemError: Objects/listobject.c:338: bad argument to internal
            # function", a traceback and exit 1 (an adversarial tester, 2026-12-07): after a signal it is that
            # interrupt; without one, a fault of its own, raised.
            if not _received:
                raise
            return _stopped(args.command, _received[-1] == _SIGTERM)
        except KeyboardInterrupt as exc:
            return _stopped(args.command, isinstance(exc, Terminated))


_SIGTERM = 15  # signal.SIGTERM on every platform featcache runs on; this module imports only sys at its top


def _stopped(command: str, terminated: bool) -> int:
    """The line and exit status of a command stopped by Ctrl-C (130) or SIGTERM (143)."""
    # Only these keep their finished work; the others start over when re-run, unless a file was written whole
    # before the interrupt (predict's --csv while its rows printed), which is said instead of "nothing was saved"
    hint = "re-run the same command to resume" if command in RESUMABLE else _interrupted_after()
    _say(f"featcache {command}: {'terminated' if terminated else 'interrupted'}; {hint}")
    return 143 if terminated else 130


def _interrupted_after() -> str:
    """What an interrupted command that does not resume kept: the files it said were written whole, or nothing."""
    from featcache.cli.common import complete_outputs
    from featcache.progress import agreeing

    done = complete_outputs()
    if not done:
        return "nothing was saved"
    return f"{' and '.join(done)} {agreeing(len(done), 'was', 'were')} written completely before it; what it printed was cut short"
