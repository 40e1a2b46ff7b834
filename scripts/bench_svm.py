#!/usr/bin/env python3
"""Benchmark: how the svm head gets its probabilities, and what that costs.

On one cached layer (train split -> test split), fit time, test accuracy and
test log loss of: the plain SVC (no probabilities), ``SVC(probability=True)``
(libsvm's internal 5-fold Platt scaling; deprecated in scikit-learn 1.9),
and ``CalibratedClassifierCV(SVC, ensemble=False)`` with sigmoid or
temperature calibration on 3 or 5 folds, and stacking (a multinomial
logistic regression on out-of-fold one-vs-one decision values). All standardized, one BLAS thread,
best of ``--repeats`` fit times.

    python scripts/bench_svm.py data/cache/<lesson cache with --layers blocks>.h5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def variants(C: float) -> dict:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import StackingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    from featcache.heads import SVMHead

    return {
        "svc_no_probabilities": SVMHead(C=C, probability=False),
        "svc_probability_true": SVC(C=C, probability=True, random_state=0),
        "featcache_svm_head (sigmoid, 3 folds)": SVMHead(C=C),
        "calibrated_sigmoid_5_folds": CalibratedClassifierCV(SVC(C=C), method="sigmoid", cv=5, ensemble=False),
        "calibrated_temperature_3_folds": CalibratedClassifierCV(SVC(C=C), method="temperature", cv=3, ensemble=False),
        # Stacking: multinomial logistic regression on out-of-fold one-vs-one decision values.
        "stacked_ovo_logreg_3_folds": StackingClassifier([("svc", SVC(C=C, decision_function_shape="ovo"))],
                                                         final_estimator=LogisticRegression(max_iter=1000), cv=3,
                                                         stack_method="decision_function"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cache")
    p.add_argument("--layer", default="block_13_expand_relu")
    p.add_argument("--C", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()

    from sklearn.base import clone
    from sklearn.metrics import log_loss
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    import featcache

    cache = featcache.open_cache(args.cache)
    X, y = cache.features("train", args.layer), cache.labels("train")
    Xt, yt = cache.features("test", args.layer), cache.labels("test")
    report = {"cache": args.cache, "layer": args.layer, "C": args.C, "train": len(y), "test": len(yt),
              "load_average_at_start": [round(x, 1) for x in os.getloadavg()], "variants": {}}
    for name, est in variants(args.C).items():
        model = est if name.startswith("featcache") or name.startswith("svc_no") else make_pipeline(StandardScaler(), est)
        best = float("inf")
        for _ in range(args.repeats):
            fitted = clone(model)
            with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # probability=True's deprecation
                t = time.perf_counter()
                fitted.fit(X, y)
                best = min(best, time.perf_counter() - t)
        row = {"fit_s": round(best, 2), "accuracy": round(float(fitted.score(Xt, yt)), 4)}
        if hasattr(fitted, "predict_proba"):
            proba = fitted.predict_proba(Xt)
            row["log_loss"] = round(float(log_loss(yt, proba)), 4)
            row["argmax_proba_accuracy"] = round(float((proba.argmax(1) == yt).mean()), 4)
        report["variants"][name] = row
        print(name, row, file=sys.stderr, flush=True)
    report["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
