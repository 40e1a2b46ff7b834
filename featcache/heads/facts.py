"""What each head is, as help texts and lines say it, and the defaults its help quotes, in a module that imports
nothing (as ``heads.presets``): ``train --help`` and ``curve --help`` quote them, and the heads' classes, whose
modules import scikit-learn and SciPy (0.8 s of a 4.4 s ``train --help`` at load 6), are not needed for that. Each
class takes its attributes and those defaults from here (``heads.head_facts`` reads either)."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping


@dataclass(frozen=True)
class HeadFacts:
    summary: str  # what --head's help says of it
    display_name: str  # heads.head_words: "a Keras head" in lines
    article: str
    file_suffix: str  # heads.io: how its files are stored (".keras", a Keras model; ".npz", arrays and JSON)
    defaults: Mapping[str, Any]  # its constructor's defaults that help texts quote (its __init__ takes them from here)


# The lesson's model.fit(validation_split=0.2); fine-tuning uses it too for a head trained without one.
LESSON_VALIDATION_SPLIT = 0.2

KERAS = HeadFacts("the lesson's Dropout -> Dense head", "Keras", "a", ".keras",
                  MappingProxyType({"epochs": 200, "batch_size": 64, "validation_split": LESSON_VALIDATION_SPLIT}))
LOGREG = HeadFacts("standardized logistic regression", "logreg", "a", ".npz",
                   MappingProxyType({"C": 0.03, "cv_folds": 5}))
SVM = HeadFacts("standardized RBF SVM", "SVM", "an", ".npz", MappingProxyType({"C": 10.0, "cv_folds": 5}))
# By the heads' registered names (heads.HEADS).
FACTS = {"keras": KERAS, "logreg": LOGREG, "svm": SVM}
