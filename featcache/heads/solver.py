"""scikit-learn's solver warnings, said once per fit in featcache's words.

A logistic regression that stops at ``max_iter`` gets a ConvergenceWarning
of eight lines (with the source line that raised it), once per fit: with
``C="cv"`` that is once per fold and C. What the user can act on fits in
one line: the head is near its optimum but not at it, and what converges
sooner. Fits run in this process or in its threads (the CV folds) are
counted; other warnings pass through as they were. Only the logistic
regression head needs it: the SVM's SVC has no iteration limit (libsvm
runs to its tolerance, max_iter=-1).
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Iterator


class ConvergenceNote(UserWarning):
    """A head's solver stopped at its iteration limit before it converged: the fit is usable, not optimal.

    The CLI prints it as one ``note:`` line (``cli._show_warning`` reads ``label``)."""

    label = "note"


@contextlib.contextmanager
def solver_notes(head: str, fix: str) -> Iterator[None]:
    """Run fits with scikit-learn's ConvergenceWarnings held back, then one ``ConvergenceNote`` if there were any:
    "``head``: the solver stopped at its iteration limit before converging (in N fits) ...; ``fix``"."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        # Every one counted ("default" would drop a repeat from the same line), and only these: the others keep the
        # caller's filters (an "error" filter still raises inside the fit).
        warnings.simplefilter("always", ConvergenceWarning)
        yield
    stopped = 0
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            stopped += 1
        else:  # as it would have been shown; registry=None: it passed the filters once already, inside
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    if stopped:
        fits = "" if stopped == 1 else f" (in {stopped} fits, cross-validation's included)"
        warnings.warn(f"{head}: the solver stopped at its iteration limit before converging{fits}, so the head is near "
                      f"its optimum but not at it; {fix}", ConvergenceNote, stacklevel=3)
