"""The one exception type the CLI turns into a one-line message and exit code 2."""


class FeatcacheError(Exception):
    """A problem the user can fix (bad input, missing file, mismatched cache).

    The message is a single line that names the problem and the fix; the CLI
    prints it without a traceback.
    """
