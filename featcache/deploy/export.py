"""export: a trained head and its backbone as one model that takes raw images.

The head's metadata names the cache settings (backbone, weights identity,
image size, preprocessing, layer); the same base is rebuilt from them, the
head's weights go into the Dense layer on top, and a softmax turns logits
into probabilities. ``finetune`` starts from the same model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from featcache._lazy import keras
from featcache.embedding.backbones import (get_backbone, imagenet_weights_file, is_named_weights, recorded_weights_path,
                                           weights_arg, weights_identity, weights_path_words)
from featcache.errors import FeatcacheError, command, given, given_path, one_line, option
from featcache.progress import bars_wanted, status
from featcache.validate import (ONLY, Written, check_source, checks_switches, pick_views, shown, views_counted, views_spec, views_words,
                                without_words)

if TYPE_CHECKING:
    from keras import Model as KerasModel
    from sklearn.base import BaseEstimator


def head_meta_fault(what: str) -> FeatcacheError:
    """The one line for a head whose metadata ``what`` (lacks a key, does not say ...) that export and finetune need:
    its fix is a new head, which records it. One home for the words each of their checks spelled."""
    from featcache.heads.io import retrain

    return FeatcacheError(f"the head's metadata {what}; {retrain()}")


def resolve_weights(meta: dict[str, Any], weights: str | None = None) -> str:
    """The ``weights`` argument that rebuilds the base the head's features came from.

    A head stores the identity of its weights (``"random"`` or ``"sha256:..."``
    of a file: ``imagenet``'s is the file in Keras's cache, ``weights_source``
    saying ``imagenet``) and the path they were read from (``weights_source``).
    Without ``weights`` the file at that path is taken if it is still the very
    same file (its sha256); a file passed must be the very same file too, and
    Keras's cache must hold the very ImageNet weights.
    A head of a cache an older featcache made records the word ``imagenet``,
    which no file can be checked against: Keras's file is taken as it is.
    """
    weights = None if weights is None else weights_arg(weights)
    want = meta.get("weights")
    if not want:
        raise head_meta_fault("does not say which backbone weights made its features")
    if is_named_weights(want) and weights in (None, want):
        return want
    source = meta.get("weights_source")  # the path used at extraction, when recorded; "imagenet" for Keras's file
    if weights is None:
        if source == "imagenet":
            got = _identity(meta, "imagenet")
            if got == want:
                return "imagenet"
            raise FeatcacheError(
                f"the ImageNet weights in Keras's cache ({got[:19]}...) are not those the head's features came from "
                f"({want[:19]}...): that file changed since the extraction; put those weights back, or pass a file "
                f"of them with {weights_path_words()}")
        if source and Path(source).is_file() and weights_identity(source, fresh=True) == want:  # hashed now: _identity
            return source
        raise FeatcacheError(
            f"the head's features came from a weights file with {want[:19]}...; pass that same file with {weights_path_words()}"
        )
    got = _identity(meta, weights)
    if got != want:
        raise FeatcacheError(
            f"{given_path('--weights', weights)} is not what the head was trained with (it is {got[:19]}..., the head needs {want[:19]}...); "
            "pass the weights used at extraction" + ("" if want.startswith("sha256:") and source != "imagenet"
                                                     else f" or leave {option('--weights')} out ({'imagenet' if source == 'imagenet' else want})")
        )
    return weights


def _identity(meta: dict[str, Any], weights: str) -> str:
    """``weights_identity`` of ``weights`` for the head's backbone and image size (imagenet's file depends on them).

    Hashed now (``fresh``), as an extraction hashes its weights at its start, not the digest remembered by the file's
    stamp: weights rewritten in place with their size and mtime kept, where the ctime is the mtime (sshfs), kept the
    stamp, and export said the very file the head records was not it, or took other weights for it (then refused
    them at the load as "changed while it was being loaded"; h315's brief). 0.025 s for MobileNetV2's file, 0.2 s
    for ResNet50's, beside seconds of building and saving a model."""
    if weights == "imagenet" and not (meta.get("backbone") and meta.get("image_size")):
        raise head_meta_fault("lacks its backbone or image size")
    return weights_identity(weights, meta.get("backbone"), int(meta["image_size"]) if meta.get("image_size") else None,
                            fresh=True)


@dataclass(frozen=True)
class HeadForm:
    """How heads of one form export: the one place a new head form is added (``HEAD_FORMS``).

    ``method``: the head method that gives the form (its heads have it: ``logits_weights``, ``kernel_form``);
    ``base``: raw uint8 images -> what the head's layers take, of a head ``exportable`` passed and the weights
    argument it returned; ``output``: that base, the head, its class count and the views the model averages ->
    the whole model (raw images -> its output); ``shares``: whether that output is an SVM's scores, not
    probabilities (``model_meta``)."""

    method: str
    base: Callable[[BaseEstimator, dict[str, Any], str], KerasModel]
    output: Callable[[KerasModel, BaseEstimator, int, tuple[str, ...]], KerasModel]
    shares: Callable[[BaseEstimator], bool]


def head_form(head: BaseEstimator) -> HeadForm:
    """The ``HeadForm`` ``head`` exports as, by the method it has; a head of none is one line."""
    form = next((f for f in HEAD_FORMS if getattr(head, f.method, None) is not None), None)
    if form is None:
        how = option("featcache train CACHE --head logreg --layer L", "featcache.train(cache, 'logreg', layer=L)")
        raise FeatcacheError(f"cannot export a {type(head).__name__} head: only keras, logreg and svm heads export; "
                             f"train a logreg head on the same cache and layer ({how}) and export that")
    return form


def exportable(head: BaseEstimator, meta: dict[str, Any], weights: str | None = None) -> str:
    """The checks of a head before its model is built, none of which imports Keras: a Dense-layer form, the metadata
    a model needs, its weights (the very file; ImageNet's had in Keras's cache: ``imagenet_weights_file``, which
    imports Keras only to fetch a missing file). Returns the weights argument that rebuilds its base. An SVM head
    was refused only after some 8 s of importing TensorFlow (a new-user tester)."""
    head_form(head)
    return exportable_meta(meta, weights)


def exportable_meta(meta: dict[str, Any], weights: str | None = None) -> str:
    """``exportable``'s checks of the head's metadata alone (a Keras head's, before its load imports Keras)."""
    for key in ("backbone", "image_size", "class_names"):
        if not meta.get(key):
            raise head_meta_fault(f"lacks {key!r}")
    w = resolve_weights(meta, weights)
    if w == "imagenet":  # a head of an older cache records the word, which resolve_weights takes unresolved: offline,
        # it failed only as the network was built (finetune: after reading its images); had now, the file build loads
        imagenet_weights_file(get_backbone(meta["backbone"]), int(meta["image_size"]))
    return w


def end_to_end_from_head(head: BaseEstimator, meta: dict[str, Any], weights: str | None = None) -> tuple[KerasModel, str]:
    """Logits model on raw uint8 images with the head's weights; ``(model, weights_arg)``."""
    w = exportable(head, meta, weights)
    return end_to_end_model(head, meta, w), w


def end_to_end_model(head: BaseEstimator, meta: dict[str, Any], w: str) -> KerasModel:
    """``end_to_end_from_head``'s model, of a head ``exportable`` passed and the weights argument it returned: its
    form's ``base`` (a Dense-layer head's logits model, which finetune trains; an SVM's features model)."""
    return head_form(head).base(head, meta, w)


def logits_model(head: BaseEstimator, meta: dict[str, Any], w: str) -> KerasModel:
    """Raw uint8 images -> the head's logits: the network with one Dense layer on top, of the head's
    ``logits_weights`` (``[kernel (D, K), bias (K,)]``): a Keras head is that layer already, its optional
    standardization folded in; logistic regression's standardization is folded in too (``heads.folding.to_raw``),
    and the softmax of those logits is its ``predict_proba``."""
    from featcache.deploy.endtoend import build_end_to_end
    from featcache.deploy.model import INPUT_DTYPE, INPUT_SHAPE
    from featcache.heads import DenseHead

    n_classes = len(meta["class_names"])
    dropout = float(head.dropout) if isinstance(head, DenseHead) else 0.0
    model = build_end_to_end(
        meta["backbone"], w, int(meta["image_size"]), n_classes, layer=meta.get("layer"),
        raw_input_shape=INPUT_SHAPE, raw_dtype=INPUT_DTYPE, dropout=dropout, identity=meta.get("weights"),
    )
    dense = model.get_layer("head_logits")
    kernel, bias = head.logits_weights(n_classes)
    if kernel.shape != tuple(dense.kernel.shape):
        raise FeatcacheError(
            f"the head expects {kernel.shape[0]} features but layer {meta.get('layer')!r} of {meta['backbone']} gives "
            f"{dense.kernel.shape[0]}; the head does not belong to this backbone"
        )
    dense.set_weights([kernel, bias])
    return model


def probabilities_output(logits: KerasModel, head: BaseEstimator, n_classes: int, views: tuple[str, ...]) -> KerasModel:
    """A Dense-layer head's model: the softmax of its logits, or their mean over ``views`` (``views_model``)."""
    from featcache.deploy.model import probabilities_model

    return probabilities_model(logits) if views == ("orig",) else views_model(logits, views)


def features_model(meta: dict[str, Any], w: str, width: int) -> KerasModel:
    """Raw uint8 images -> the pooled features of the head's layer (the end-to-end network without its Dense layer):
    what an SVM head's layers take (``svm_model``)."""
    from featcache.deploy.endtoend import build_end_to_end
    from featcache.deploy.model import INPUT_DTYPE, INPUT_SHAPE

    net = build_end_to_end(meta["backbone"], w, int(meta["image_size"]), len(meta["class_names"]),
                           layer=meta.get("layer"), raw_input_shape=INPUT_SHAPE, raw_dtype=INPUT_DTYPE, dropout=0.0,
                           identity=meta.get("weights"))
    pooled = net.get_layer("pool").output
    if pooled.shape[-1] != width:
        raise FeatcacheError(
            f"the head expects {width} features but layer {meta.get('layer')!r} of {meta['backbone']} gives "
            f"{pooled.shape[-1]}; the head does not belong to this backbone")
    return keras().Model(net.input, pooled, name="featcache_features")


def svm_model(features: KerasModel, head: BaseEstimator, n_classes: int, views: tuple[str, ...]) -> KerasModel:
    """Raw images -> (``ViewStack`` ->) features -> ``SVMScores`` (-> ``ViewMean``) -> ``SVMShares``: the head's
    decision computed by the model (``deploy.svmgraph``): one view, libsvm's vote as ``SVMHead.predict``; more, the
    mean of the one-vs-rest decision values ``heads.views`` averages."""
    from featcache.deploy.model import INPUT_DTYPE, INPUT_SHAPE
    from featcache.deploy.svmgraph import svm_layers
    from featcache.embedding.preprocess import ViewMean, ViewStack

    k = keras()
    scores, shares = svm_layers(head.kernel_form(), n_classes, len(views))
    if views == ("orig",):
        return k.Model(features.input, shares(scores(features.output)), name="featcache_model")
    images = k.Input(shape=INPUT_SHAPE, dtype=INPUT_DTYPE, name="images")
    stack = ViewStack(list(views), name="views")
    per_view = k.Model(features.input, scores(features.output), name="featcache_end_to_end")
    mean = ViewMean(len(stack.views), name="view_mean")(per_view(stack(images)))
    return k.Model(images, shares(mean), name="featcache_model")


# Each exportable head form, found by the method its heads have (``head_form``): keras and logreg heads as one Dense
# layer (``logits_weights``), the SVM as its kernel, decision and calibration (``kernel_form``: deploy.svmgraph),
# whose kernel form svm_model builds once (its base takes only its width).
HEAD_FORMS = (
    HeadForm("logits_weights", logits_model, probabilities_output, shares=lambda head: False),
    HeadForm("kernel_form", lambda head, meta, w: features_model(meta, w, int(head.n_features_in_)), svm_model,
             shares=lambda head: not head.probability),
)


def model_meta(meta: dict[str, Any], head_path: str | Path, weights: str, views: tuple[str, ...] = ("orig",),
               shares: bool = False) -> dict[str, Any]:
    """What a model file records about its origin (the head's cache settings and the head) and the views it averages;
    ``shares``: its output is an SVM's shares (of votes, or of averaged decision values), not probabilities (an SVM head without them: ``deploy.svmgraph``)."""
    from featcache.deploy.model import recorded_fit, svm_output, svm_tag
    from featcache.heads.io import TEST_ACCURACY_ORIG, orig_accuracy_of
    from featcache.heads.views import DECISION_VALUES

    keep = ("class_names", "backbone", "weights", "image_size", "preprocessing", "layer", "dataset", "source", "cache_fingerprint")
    return {
        **{k: meta.get(k) for k in keep},
        "weights_source": None if is_named_weights(weights) else recorded_weights_path(weights),
        "head": meta.get("head"),
        # the head's fit (params, train views, train size, seed, train images): a model of another fit at --out is
        # refused without --force (deploy.model.check_same_model_job)
        **recorded_fit(meta),
        "head_path": str(Path(head_path).resolve()),
        "finetune": None,
        # The views the model embeds and averages (docs/views.md 3.6); what the head was fitted and scored on.
        "views": list(views),
        "averaged": (DECISION_VALUES if shares else "probabilities") if len(views) > 1 else None,
        # what the output is where it is no probability (deploy.svmgraph); predict names its columns so
        # (svm_output: this model's, one view or several, as predict's note says them)
        **({"scores": svm_tag(views), "output": svm_output({"scores": svm_tag(views), "views": list(views),
                                                            "class_names": meta.get("class_names")})} if shares else {}),
        "head_test_views": meta.get("test_views"),
        TEST_ACCURACY_ORIG: orig_accuracy_of(meta),  # the head's: what the model of the original view scores
        "views_test_accuracy": views_accuracy(meta, views),
    }


def views_accuracy(meta: dict[str, Any], views: Sequence[str]) -> float | None:
    """The head's test accuracy with these very views averaged, when it was scored that way: more views than the
    original, or only:flip's one view (h137); the original alone is TEST_ACCURACY_ORIG's. The one rule of export's
    ``views_test_accuracy`` and finetune's ``head_views_test_accuracy`` (finetune dropped only:flip's; a review)."""
    return meta.get("test_accuracy") if list(views) != ["orig"] and list(views) == meta.get("test_views") else None


# What a model embeds where no views are asked for: the original view alone (export's --help quotes it).
DEFAULT_VIEWS = ("orig",)


def asks_default_views(views: Any) -> bool:
    """Whether ``views`` (export's option) asks for the default, the original view alone: none given, or "orig"."""
    return views is None or (isinstance(views, str) and views.strip() == ",".join(DEFAULT_VIEWS))


def graph_views(est: BaseEstimator | None, meta: dict[str, Any], views: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """The views an exported model embeds and averages: ``orig`` (default), ``all`` (the views the head averaged
    at test), names among the views the head was fitted on or averaged (with the original view, as every views
    option reads them), or ``only:VIEWS`` (those without it: a head fitted or scored on ``only:``). Read from the
    head's metadata alone (``est`` may be None: a Keras head's record, checked before the head loads)."""
    if asks_default_views(views):
        return DEFAULT_VIEWS
    if not isinstance(views, (str, list, tuple)):  # 5 was "'int' object is not iterable" (an adversarial tester)
        raise FeatcacheError(f"{option('--views')} must be orig, all, view names such as orig,flip or only:VIEWS (got {shown(views)})")
    fitted = meta.get("train_views") or ["orig"]
    averaged = meta.get("test_views") or ["orig"]
    if isinstance(views, str) and views.strip() == "all":
        names = tuple(averaged)
    else:
        # Among the views the head was fitted on or averaged at test: 'all' gave orig,flip for a head fitted on orig
        # alone and scored with flip averaged, while --views orig,flip was refused (an adversarial tester). Read as
        # train's and evaluate's options read them (validate.pick_views): only:flip took extract's reading, "a cache
        # always holds the original view", and flip was refused for "--views orig", a view never typed (a review)
        names = pick_views(_seen(["orig"], fitted, averaged), views, "--views",
                           lambda asked: _among(asked, fitted, averaged), every=averaged,
                           none_left=f"{given('--views', ONLY + 'all', repr(ONLY + 'all'))}: the head averaged no view but the "
                                     f"original at test; name the views, e.g. {given('--views', ONLY + 'flip', repr(ONLY + 'flip'))}")
        if "orig" in names and "orig" not in _seen(fitted, averaged):  # a head of only:VIEWS: what it takes, said
            raise FeatcacheError(f"{_views_given(_typed(views))} includes the original view (every spelling but {ONLY}VIEWS "
                                 f"does), and the head was fitted on {_fit_words(fitted, averaged)}; pass "
                                 f"{_views_given(views_spec(names[1:]))} for those views without the original, or "
                                 f"{_views_given('all')} (the views it averaged at test)")
    return names  # a head of no exportable form is refused by exportable's head_form, with the right line


def _views_given(views: str) -> str:
    """export's views option set to ``views``: ``--views all`` in a command, ``views='all'`` in a Python call."""
    return given("--views", views, repr(views))


def _seen(*views: Sequence[str]) -> tuple[str, ...]:
    """The views of these lists, each once (the head's: fitted on or averaged at test, those export --views may name)."""
    return tuple(dict.fromkeys(v for some in views for v in some))


def _typed(views: str | Sequence[str]) -> str:
    """--views as the user typed it (a str), or the API's list as the option would spell it."""
    return views.strip() if isinstance(views, str) else ",".join(map(str, views))


def _fit_words(fitted: Sequence[str], averaged: Sequence[str]) -> str:
    return f"views {views_words(fitted)} and averaged {views_words(averaged)} at test"


def _among(asked: Any, fitted: Sequence[str], averaged: Sequence[str]) -> list[str]:
    """The views ``asked`` names (``embedding.views.asked_names``), each one the head was fitted on or averaged."""
    from featcache.embedding.views import asked_names

    names = asked_names(asked, "--views")
    unseen = [v for v in names if v not in _seen(fitted, averaged) and v != "orig"]  # orig: graph_views' own word
    if unseen:
        among = f"{ONLY}VIEWS among those" if "orig" not in _seen(fitted, averaged) else "among those"
        raise FeatcacheError(f"{given('--views', ', '.join(unseen), repr(','.join(unseen)))}: the head was fitted on "
                             f"{_fit_words(fitted, averaged)}; {option('export --views', 'pass views')} {among}, or "
                             f"{_views_given('all')} (the views it averaged at test)")
    return names


def views_model(logits_model: KerasModel, views: tuple[str, ...]) -> KerasModel:
    """Raw images -> ``ViewStack`` (every view, view-major) -> the logits model -> softmax -> mean over the views:
    the probabilities ``heads.views`` averages, computed by the model itself (docs/views.md 3.6, option 2)."""
    from featcache.deploy.model import INPUT_DTYPE, INPUT_SHAPE
    from featcache.embedding.preprocess import ViewMean, ViewStack

    k = keras()
    images = k.Input(shape=INPUT_SHAPE, dtype=INPUT_DTYPE, name="images")
    stack = ViewStack(list(views), name="views")
    x = k.layers.Softmax(name="view_probabilities")(logits_model(stack(images)))
    # the mean over the views the stack computes, never a count of its own (an only:flip model stacked 2 views and
    # averaged 1; an adversarial tester); save_model checks these against the views the model records
    return k.Model(images, ViewMean(len(stack.views), name="probabilities")(x), name="featcache_model")


def views_note(meta: dict[str, Any]) -> str | None:
    """For a head that used cached views: the exported model sees the original view only, and what that scores."""
    train, test = meta.get("train_views") or ["orig"], meta.get("test_views") or ["orig"]
    if train == ["orig"] and test == ["orig"]:
        return None
    from featcache.heads.io import orig_accuracy_of

    single = orig_accuracy_of(meta)
    acc = f"{single:.4f} on its test split" if single is not None else f"not recorded (evaluate the head with {option('--test-views orig', 'test_views=' + repr('orig'))})"
    averaged = (f", against {meta['test_accuracy']:.4f} with {len(test)} views averaged"
                + without_words(test, " ({})")  # only:VIEWS's score is not the original's and more (h137)
                if len(test) > 1 and meta.get("test_accuracy") is not None else "")
    fix = (f" (pass {_views_given('all')} to average the {len(test)} views in the model, {len(test)} forward passes per image)"
           if len(test) > 1 else "")  # the flag that gives the head's averaged accuracy back (a new-user tester)
    return (f"the exported model classifies the original view only (no test-time averaging of views; the head was fitted on "
            f"{views_counted(train)}): the head's accuracy with the original view alone is {acc}{averaged}{fix}")


def export_note(head_meta: dict[str, Any], views: Sequence[str], averaged: str = "probabilities") -> str | None:
    """What export says beside its line: the views the model averages, or what the original view alone scores;
    ``averaged``: what it averages over them (an SVM without probabilities: its decision values)."""
    if tuple(views) == ("orig",):
        return views_note(head_meta)
    scored = views_accuracy(head_meta, views)  # its one rule (the original alone was said above)
    if len(views) == 1:  # --views flip of an only:flip head: "averages the probabilities of 1 views" (a session's note)
        expect = f"; the head scored {scored:.4f} on its test split with this view" if scored is not None else ""
        return (f"the model classifies the {views[0]} view of each image alone{without_words(views)}: 1 forward pass per "
                f"image{expect}")
    expect = f"; the head scored {scored:.4f} on its test split with these views averaged" if scored is not None else ""
    return (f"the model averages the {averaged} of {len(views)} views of each image ({views_words(views)}): "
            f"{len(views)} forward passes per image{expect}")  # what to expect, as the orig note says (a new user)


@dataclass(frozen=True, eq=False)
class ExportResult:
    """What ``export`` wrote: the model's ``path``, whether it ``replaced`` a model featcache wrote there, what it
    recorded of the model (``meta``: ``model_meta``; the file adds its format and versions, ``read_meta``) and the
    export note. ``os.PathLike``, and ``str`` of it is the path: it goes wherever the model's path went
    (``predict``, ``load_model``); it is no Path (``.path`` is). The API returned a bare Path, and the CLI worked
    out ``replaced`` apart, a second home of the rule (a review). ``eq=False``: hashable, as a Path was."""

    path: Path
    replaced: bool
    meta: dict[str, Any] = field(repr=False)
    note: str | None = None
    # where the model replaced was made, where not from this head's cache (heads.io.replaced_from): another cache of
    # the data set (replaced_other_cache), another data set or photo folder (--force); None where unknown
    replaced_from: str | None = None

    def __fspath__(self) -> str:
        return str(self.path)

    def written(self) -> Written:
        """What a reader checks (``validate.check_source``): the model at ``path`` is still this one, by the content
        digest it was written with (``meta``'s, as in the file)."""
        from featcache.heads.io import DIGEST_KEY, stored_digest

        return Written(self.meta.get(DIGEST_KEY), "model", stored_digest, "export the head again")

    @property
    def replaced_other_cache(self) -> bool:
        """Whether the model replaced was made on another cache of the data set (a re-extraction: ``replaced_from``)."""
        from featcache.heads.io import ANOTHER_CACHE

        return self.replaced_from == ANOTHER_CACHE

    def __str__(self) -> str:  # str() of what export returned was the model's path (a Path), and stays it
        return str(self.path)

    def to_dict(self) -> dict[str, Any]:
        """What ``export --json`` prints (it printed the path alone, without the text output's note; a new user)."""
        from featcache.heads.io import TEST_ACCURACY, TEST_ACCURACY_ORIG, model_test_accuracy, with_names_before

        keys = (*SUMMARY_KEYS, TEST_ACCURACY_ORIG, "views_test_accuracy")
        return with_names_before("export", {  # single_view_test_accuracy too, until featcache 0.3
            "path": str(self.path), **{k: self.meta.get(k) for k in keys},
            TEST_ACCURACY: model_test_accuracy(self.meta),  # what the model scores, as info of it says (a new-user tester)
            "replaced": self.replaced, "replaced_other_cache": self.replaced_other_cache, "replaced_from": self.replaced_from,
            "note": self.note})


SUMMARY_KEYS = ("head", "backbone", "layer", "image_size", "class_names", "views", "averaged")  # and the accuracies


def _head_checks(meta: dict[str, Any], out: Path, weights: str | None, views: Any,
                 force: bool) -> tuple[tuple[str, ...], str, tuple[bool, str | None]]:
    """``(views, weights argument, replacing)``: export's refusals that need the head's metadata alone, none of which
    imports Keras: its views (``graph_views``), its weights (``exportable_meta``), a featcache model at ``out`` of
    another job (not a file --force replaces), ``out`` inside the photo folder the head was trained on."""
    from featcache.deploy.model import check_same_model_job
    from featcache.sources.base import photo_root_of
    from featcache.sources.images import check_file_outside_classes

    names = graph_views(None, meta, views)
    w = exportable_meta(meta, weights)
    replacing = check_same_model_job(out, meta, None, force, views=names)
    check_file_outside_classes(out, photo_root_of(meta.get("source")))
    return names, w, replacing


def default_out(head: str | Path, views: Sequence[str] = DEFAULT_VIEWS) -> Path:
    """Where ``export`` writes a head's model when no ``out`` is given: ``models/<head file name>.keras`` under
    featcache's home (``paths.home``), as finetune's ``<head>_finetuned.keras``; a model of other views (``views``:
    ``graph_views``' names) gets ``_<k>views_<6 hex>`` (k views, 6 hex of a hash of their names), as probe's folder
    of some layers does, so the models of one head with other views do not take one name (the second would be
    refused as a model of other --views). A Keras head saved under that very name (``train --out
    data/models/h.keras``) gets ``<head>_model.keras``: the default was the head itself, refused. export had no
    default and asked for --out (a session's note)."""
    from featcache import paths
    from featcache.deploy.model import same_file
    from featcache.store.layout import short_hash

    views = tuple(views)
    tag = "" if views == DEFAULT_VIEWS else f"_{len(views)}views_{short_hash(','.join(views))}"
    out = paths.home() / "models" / f"{Path(head).stem}{tag}.keras"
    # the head itself, by the file (a link x/k.keras -> data/models/k.keras was compared by its path; a review)
    return out.with_name(f"{Path(head).stem}_model{tag}.keras") if same_file(out, head) else out


@checks_switches
def export(
    head: str | Path,
    out: str | Path | None = None,
    *,
    weights: str | None = None,
    verbose: bool = False,
    trust_pickle: bool = False,
    force: bool = False,
    views: str | tuple[str, ...] | list[str] | None = None,
) -> ExportResult:
    """Write ``head`` and its backbone as one raw-images -> probabilities model to ``out`` (``.keras``; default:
    ``models/<head file name>.keras`` under featcache's home, ``default_out``).

    ``out`` replaces an existing file only if it is a featcache model of the
    same job and of the same head fit (``deploy.model.check_same_model_job``),
    or with ``force``; ``trust_pickle`` lets an old pickle head load (it can run code).
    ``views`` (``graph_views``): by default the model embeds the original view
    only; for a head trained or scored on cached views it records that
    (``views``, ``test_accuracy_orig``) and, when ``verbose``, says what
    the original view alone scores. ``views="all"`` puts the views the head
    averaged at test into the graph (``ViewStack``): the model embeds every
    view of each image and returns the mean of their probabilities, as
    ``heads.views`` does on cached features; inference costs one forward
    pass per view (an SVM head: its own layers, deploy.svmgraph, averaging what heads.views averages).
    ``weights``: the backbone weights file the head's cache was extracted with,
    where it is no longer at the path the head records (default: that path;
    either is checked against the head's SHA-256; ImageNet and random weights
    need none). ``verbose=True`` prints what was written.
    Returns an ``ExportResult`` (its ``path``, ``replaced``, the model's ``meta``).
    """
    from featcache.deploy.model import check_not_the_head, check_out, recheck_out, write_model
    from featcache.heads.io import DIGEST_KEY, head_file

    if out is None:  # "" is refused by check_out, as every --out "" is ($DIR unset): it was taken for the default
        out = _default_out_checked(check_source(head, "head", head_file()), views, trust_pickle)
    out = check_out(out, force)
    # as load_head reads it (~ expanded): 'export("~/h.keras", out=<the same file>, force=True)' compared a head
    # path that names nothing here with out, and would have written the model over the head
    head = check_source(head, "head", head_file())
    check_not_the_head(out, head, "export")
    est, meta, names, w, replacing = _checked_head(head, out, weights, views, force, trust_pickle)

    def recheck() -> None:  # the same checks just before the model replaces what is there now (atomic_path)
        nonlocal replacing
        replacing = recheck_out(out, head, "export", meta, None, force, views=names)

    model, written = _built(est, meta, head, w, names, verbose)
    # the head's training-image keys kept in the model: evaluate MODEL FOLDER says which photos it was trained on
    saved, written[DIGEST_KEY] = write_model(model, out, written, recheck, meta.get("train_digests"))  # the digest in
    # the file: what ExportResult.written checks
    result = ExportResult(saved, replacing[0], written, export_note(meta, names, written["averaged"] or "probabilities"),
                          replacing[1])
    if verbose:
        _say_exported(result, meta)
    return result


def _default_out_checked(head: Path, views: Any, trust_pickle: bool) -> Path:
    """``default_out`` of ``head`` and the views the model would average (``graph_views``, from the head's record: a
    Keras head's checked record, else the head file as read, a few KB to MB, read again by the export), checked to
    fit a file name before any work, as finetune's default is."""
    from featcache.deploy.model import default_model_path
    from featcache.heads.io import keras_head_record, read_head
    from featcache.store.layout import made_from

    names = DEFAULT_VIEWS  # the original view alone, the default, is named without the head's record; others are
    if not asks_default_views(views):  # read from it (a second read of the head: a pickle head's, a second unpickling)
        meta = keras_head_record(head)
        if meta is None:
            meta = read_head(head, trust_pickle=trust_pickle, fix=_not_a_head_fix())[1]
        names = graph_views(None, meta, views)
    return default_model_path(default_out(head, names), head, made_from("head file name", head.stem))


def _not_a_head_fix() -> str:
    """What export's read of a file that is no head says to do (a cache given, by new users): export's own form, not
    evaluate's order, which a line here once said."""
    from featcache.heads.io import head_file

    how = command("export", "HEAD --out MODEL.keras", "head, out='model.keras'")
    return f"pass {head_file()} (export takes a head and writes its model: {how})"


def _checked_head(head: Path, out: Path, weights: str | None, views: Any, force: bool,
                  trust_pickle: bool) -> tuple[BaseEstimator, dict[str, Any], tuple[str, ...], str, tuple[bool, str | None]]:
    """``(head, meta, views, weights argument, replacing)``: the head loaded and ``_head_checks``' refusals, made
    before Keras is imported where they can be (seconds; ~35 s under load): a bad --views, --weights or --out. A
    Keras head's load imports it, so its checked record is read first (heads.io.keras_head_record); an .npz head
    loads without it."""
    from featcache.heads.io import keras_head_record, read_head

    record = keras_head_record(head)
    checked = _head_checks(record, out, weights, views, force) if record is not None else None
    est, meta = read_head(head, trust_pickle=trust_pickle, fix=_not_a_head_fix())
    names, w, replacing = checked or _head_checks(meta, out, weights, views, force)
    head_form(est)  # a head of no exportable form (every kind featcache trains has one)
    return est, meta, names, w, replacing


def _built(est: BaseEstimator, meta: dict[str, Any], head: Path, w: str, names: tuple[str, ...],
           verbose: bool) -> tuple[KerasModel, dict[str, Any]]:
    """``(model, its record)``: the head's form's whole model (raw images -> its output, averaging ``names``) and
    ``model_meta``'s record of it; the build's start and seconds said when ``verbose``."""
    start = time.perf_counter()
    verbose = bars_wanted(verbose)  # said under the CLI's --json too, on stderr (bars_when_quiet; a new-user tester)
    if verbose:  # Keras's import and the network's build: 21-64 s under load before the one line (a new-user tester)
        status(one_line(f"exporting {head}: building its model on {meta['backbone']} at {meta['image_size']} px ..."))
    form = head_form(est)
    model = form.output(end_to_end_model(est, meta, w), est, len(meta["class_names"]), names)
    written = model_meta(meta, head, w, names, shares=form.shares(est))
    if verbose:
        status(f"model built in {time.perf_counter() - start:.1f} s; checking and writing it ...")
    return model, written


def _say_exported(result: ExportResult, meta: dict[str, Any]) -> None:
    """export's line: the head, its backbone (cut at an inner layer: a head of one is the network cut there; a new
    user), its size and classes, what it replaced, the path; and its note."""
    from featcache.heads.io import replaced_words

    layer = meta.get("layer")
    cut = f", cut at {layer}" if layer and layer != get_backbone(meta["backbone"]).final_layer else ""
    print(one_line(f"exported {meta.get('head')} head on {meta['backbone']}{cut} ({meta['image_size']} px, "
                   f"{len(meta['class_names'])} classes){replaced_words(result.replaced, 'model', result.replaced_from)} -> {result.path}"))
    if result.note:
        print(result.note)
