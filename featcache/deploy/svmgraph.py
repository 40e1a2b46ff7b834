"""The RBF SVM head as Keras layers: an exported model computes the head's own decision (docs/commands.md, export).

Two layers, registered as featcache's (a model file names them; loading runs no code from it, Keras's safe mode):

- ``SVMScores``: features -> the head's per-view scores, from plain arrays (``SVMHead.kernel_form``): the
  standardization, the RBF kernel ``exp(-gamma * (|z|^2 - 2 z.sv + |sv|^2))`` against the support vectors, the
  one-vs-one decision values, then either libsvm's vote (``votes``: one view, what ``SVMHead.predict`` returns,
  ties to the first class as libsvm breaks them) or scikit-learn's one-vs-rest decision values (``ovr``: what
  ``heads.views.view_scores`` averages over views; ``[-d, d]`` of the two-class value ``d``);
  A head trained with probabilities (``probability=true``, the default) gives them instead (``proba``): each
  class's Platt sigmoid of its one-vs-rest value, normalized (two classes: the sigmoid of ``d`` and 1 minus it),
  as ``CalibratedClassifierCV(ensemble=False)`` computes them;
- ``SVMShares``: those scores (averaged over the views by ``ViewMean`` first) -> one row of shares per image,
  >= 0 and summing to 1, the order of the classes unchanged, in the columns of the model's class names
  (probabilities are only placed in those columns).

Without probabilities the shares are NOT probabilities (the head computed none: ``probability=false``): one view gives each class's
share of the one-vs-one contests it won; averaged views give the one-vs-rest values shifted by 1/3 (each is above
-1/3) and divided by their sum, or for two classes ``(1 +- t) / 2`` with ``t = m / (1 + |m|)`` of the mean decision
value ``m``. Each is a per-image map that keeps the argmax, so the model's top class is the head's class. A
model's record says which (``deploy.model.svm_tag``: vote shares, or shares of averaged decision values) and
``predict`` names its columns after it.

Computed in float64: the squared distances subtract numbers near ``2 * width`` (standardized features), and in
float32 their rounding moved decision values near 0 across the vote.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from featcache._lazy import keras
from featcache.errors import FeatcacheError
from featcache.heads.svm import class_pairs

_k = keras()

VOTES, OVR, PROBA = "votes", "ovr", "proba"
THIRD = 1.0 / 3.0  # scikit-learn's _ovr_decision_function: confidences / (3 * (|confidences| + 1)), in (-1/3, 1/3)


def _one_hot(index: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(index), k), np.float64)
    out[np.arange(len(index)), index] = 1.0
    return out


@_k.saving.register_keras_serializable(package="featcache")
class SVMScores(_k.layers.Layer):
    """(n, D) features -> (n, k) the SVM's scores for its ``n_head_classes`` classes (``mode``: votes or ovr)."""

    def __init__(self, n_features: int, n_support: int, n_head_classes: int, gamma: float, mode: str, **kwargs: Any):
        super().__init__(**kwargs)
        if mode not in (VOTES, OVR, PROBA):
            raise ValueError(f"SVMScores mode must be {VOTES}, {OVR} or {PROBA}, not {mode!r}")
        self.n_features, self.n_support = int(n_features), int(n_support)
        self.n_head_classes, self.gamma, self.mode = int(n_head_classes), float(gamma), mode
        pairs = class_pairs(self.n_head_classes)  # the head's column order (kernel_form)
        self._first, self._second = _one_hot(pairs[:, 0], self.n_head_classes), _one_hot(pairs[:, 1], self.n_head_classes)
        zeros = "zeros"
        add = lambda name, shape, dtype="float64": self.add_weight(  # noqa: E731
            name=name, shape=shape, dtype=dtype, initializer=zeros, trainable=False)
        self.mean, self.scale = add("mean", (self.n_features,)), add("scale", (self.n_features,))
        # float64 here, float32 in the file (save_own_variables): the support vectors are training rows the head
        # standardized in float32 (scikit-learn keeps the features' dtype), so float32 holds them exactly, in half the
        # file; widened once as they load, not on every batch (a 10,000 x 576 cast is 46 MB written per batch)
        self.support = add("support", (self.n_support, self.n_features))
        self.support_sq = add("support_sq", (self.n_support,))
        self.pair_coef = add("pair_coef", (self.n_support, len(pairs)))
        self.intercept = add("intercept", (len(pairs),))
        if mode == PROBA:  # one sigmoid per class (one for two classes)
            n_cal = 1 if self.n_head_classes == 2 else self.n_head_classes
            self.sigmoid_a, self.sigmoid_b = add("sigmoid_a", (n_cal,)), add("sigmoid_b", (n_cal,))

    def set_form(self, form: dict[str, Any]) -> None:
        """The head's arrays (``SVMHead.kernel_form``)."""
        sv = form["support"].astype(np.float32)
        if not np.array_equal(sv, form["support"]):  # never for a head fitted by featcache (float32 features)
            from featcache.heads.io import retrain

            raise FeatcacheError(f"the SVM head's support vectors are not float32 numbers, as featcache fits them; {retrain()}")
        sigmoids = [form["sigmoid_a"], form["sigmoid_b"]] if self.mode == PROBA else []
        squares = np.square(sv, dtype=np.float64).sum(axis=1)  # each float32 value cast to float64, then squared
        self.set_weights([form["mean"], form["scale"], sv, squares, form["pair_coef"],
                          form["intercept"],
                          *sigmoids])

    def standardize(self, features: Any) -> Any:
        """(n, D) float64 the head's standardized features z = (x - mean) / scale."""
        ops = _k.ops
        # standardized in float32, then widened: scikit-learn 1.9.1's StandardScaler.transform casts mean_ and
        # scale_ to X's dtype (float32 features) before subtracting and dividing, so this is the head's z bit for bit;
        # a float64 z differs by up to ~5e-7, enough to flip a near-zero decision value's vote
        f32 = lambda t: ops.cast(t, "float32")  # noqa: E731
        return ops.cast((f32(features) - f32(self.mean)) / f32(self.scale), "float64")

    def decision(self, features: Any) -> Any:
        """(n, P) libsvm's one-vs-one decision values (> 0: a vote for the pair's first class)."""
        ops = _k.ops
        z = self.standardize(features)
        d2 = ops.sum(z * z, axis=1, keepdims=True) - 2.0 * ops.matmul(z, ops.transpose(self.support)) + self.support_sq
        return ops.matmul(ops.exp(-self.gamma * ops.maximum(d2, 0.0)), self.pair_coef) + self.intercept

    def call(self, features: Any) -> Any:
        ops = _k.ops
        dec = self.decision(features)
        first, second = (ops.convert_to_tensor(m, dtype="float64") for m in (self._first, self._second))
        if self.mode == VOTES:  # libsvm: dec > 0 votes for the first class of the pair, else the second
            won = ops.cast(dec > 0, "float64")
            votes = ops.matmul(won, first) + ops.matmul(1.0 - won, second)
            return ops.cast(votes / float(len(self._first)), "float32")
        if self.n_head_classes == 2:  # scikit-learn's two-class decision value d is -dec
            if self.mode == PROBA:  # CalibratedClassifierCV: p1 = sigmoid of d, p0 = 1 - p1
                p1 = 1.0 / (1.0 + ops.exp(self.sigmoid_a * -dec + self.sigmoid_b))
                return ops.cast(ops.concatenate([1.0 - p1, p1], axis=1), "float32")
            return ops.cast(ops.concatenate([dec, -dec], axis=1), "float32")  # view_scores' [-d, d]
        won = ops.cast(dec >= 0, "float64")  # scikit-learn's _ovr_decision_function: dec < 0 is the second's vote
        votes = ops.matmul(won, first) + ops.matmul(1.0 - won, second)
        conf = ops.matmul(dec, first - second)
        ovr = votes + conf / (3.0 * (ops.abs(conf) + 1.0))
        if self.mode == OVR:
            return ops.cast(ovr, "float32")
        p = 1.0 / (1.0 + ops.exp(self.sigmoid_a * ovr + self.sigmoid_b))  # each class's sigmoid, then normalized
        total = ops.sum(p, axis=1, keepdims=True)
        uniform = ops.ones_like(p) / float(self.n_head_classes)  # all 0: uniform, as scikit-learn
        return ops.cast(ops.where(total > 0, p / ops.where(total > 0, total, 1.0), uniform), "float32")

    def save_own_variables(self, store: Any) -> None:
        """Keras's own (every weight, in order), the support vectors as float32: exact (``set_form`` checks it), and
        what a model file held before they were kept in float64; ``load_own_variables`` widens them back."""
        for i, v in enumerate(self.weights):
            store[f"{i}"] = np.asarray(_k.ops.convert_to_numpy(v), np.float32) if v is self.support else v

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], self.n_head_classes)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_features": self.n_features, "n_support": self.n_support,
                "n_head_classes": self.n_head_classes, "gamma": self.gamma, "mode": self.mode}


@_k.saving.register_keras_serializable(package="featcache")
class SVMShares(_k.layers.Layer):
    """(n, k) ``SVMScores`` (averaged over views) -> (n, n_classes) shares summing to 1, column ``classes[i]`` for the
    head's class i (a class the head never saw gets 0)."""

    def __init__(self, classes: list[int], n_classes: int, mode: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.classes, self.n_classes, self.mode = [int(c) for c in classes], int(n_classes), mode
        self._place = _one_hot(np.asarray(self.classes, np.int64), self.n_classes).astype(np.float32)

    def call(self, scores: Any) -> Any:
        ops = _k.ops
        x = ops.cast(scores, "float32")
        if self.mode == OVR and len(self.classes) == 2:
            t = x[:, :1] / (1.0 + ops.abs(x[:, :1]))
            x = ops.concatenate([(1.0 + t) / 2.0, (1.0 - t) / 2.0], axis=1)
        elif self.mode == OVR:
            x = (x + THIRD) / ops.sum(x + THIRD, axis=1, keepdims=True)
        return ops.matmul(x, ops.convert_to_tensor(self._place))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], self.n_classes)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "classes": self.classes, "n_classes": self.n_classes, "mode": self.mode}


def svm_layers(form: dict[str, Any], n_classes: int, views: int) -> tuple[SVMScores, SVMShares]:
    """The two layers of a head's ``kernel_form``, for a model of ``views`` views (one: the vote); a head with
    calibrated probabilities gives them (``proba``), averaged over the views as ``heads.views`` averages them."""
    mode = PROBA if "sigmoid_a" in form else VOTES if views == 1 else OVR
    n_sv, width = form["support"].shape
    scores = SVMScores(width, n_sv, len(form["classes"]), form["gamma"], mode, name="svm_scores")
    scores.set_form(form)
    return scores, SVMShares(form["classes"].tolist(), n_classes, mode, name="probabilities")
