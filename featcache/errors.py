"""The one exception type the CLI turns into a one-line message and exit code 2."""


def one_line(text: str) -> str:
    """``text`` on one line whatever it quotes: a file name with a newline or carriage return in it is shown
    escaped, as Python writes it (a raw one split a listed name over two lines, or made a terminal show another)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class FeatcacheError(Exception):
    """A problem the user can fix (bad input, missing file, mismatched cache).

    The message is a single line that names the problem and the fix; the CLI
    prints it without a traceback.
    """


# Kinds of FeatcacheError that code (not only the user) tells apart: what a
# caller does next depends on the kind, never on the words of the message (a
# review found find_complete matching "is damaged" in the text).


class DamagedCache(FeatcacheError):
    """A featcache file whose content is not what was written (checksums, structure, cut short)."""


class CacheBusy(FeatcacheError):
    """A file another featcache process is writing (HDF5's lock, or featcache's own)."""


class NotHDF5(FeatcacheError):
    """A path HDF5 cannot open as a file of its own (another kind of file, or one cut short)."""
