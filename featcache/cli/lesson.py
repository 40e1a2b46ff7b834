"""featcache lesson: the lesson's comparison, transfer learning vs a CNN from scratch, as one command."""

from __future__ import annotations

from featcache.cli.common import positive_int


def register(sub) -> None:
    p = sub.add_parser("lesson", help="the main job: the lesson's comparison table (cached heads vs a from-scratch CNN)",
                       description="Extract (or reuse) the lesson's cache (first 4,000 train / 3,000 test Fashion-MNIST "
                       "images, MobileNetV2 at 96x96), train the Keras head with the lesson's preset and with the default, "
                       "logistic regression with C by cross-validation, the best cached layer + head found by probing (chosen on "
                       "held-out training images), and a small CNN from scratch on the first 15,000 "
                       "raw 28x28 images; print and save the table (CSV, JSON, markdown) and the end-to-end model's "
                       "parameter counts.")
    p.add_argument("--weights", default="imagenet", metavar="imagenet|PATH",
                   help="MobileNetV2 weights: 'imagenet' (Keras download) or a local file, "
                   "e.g. ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5")
    p.add_argument("--data-dir", metavar="DIR", help="folder with the four Fashion-MNIST IDX .gz files (default: as extract)")
    p.add_argument("--out", metavar="DIR", help="folder for lesson.csv/.json/.md, heads/ and eval/ (default: data/runs/lesson)")
    p.add_argument("--train-limit", type=positive_int, default=4000, metavar="N", help="transfer learning: first N training images (default: 4000)")
    p.add_argument("--test-limit", type=positive_int, default=3000, metavar="N", help="first N test images, for every row (default: 3000)")
    p.add_argument("--scratch-train", type=positive_int, default=15000, metavar="N", help="from-scratch CNN: first N training images (default: 15000)")
    p.add_argument("--scratch-epochs", type=positive_int, default=10, metavar="E", help="from-scratch CNN: epochs (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="seed for every model (default: 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    from featcache.lesson import lesson

    lesson(args.weights, data_dir=args.data_dir, out=args.out, train_limit=args.train_limit, test_limit=args.test_limit,
           scratch_train=args.scratch_train, scratch_epochs=args.scratch_epochs, seed=args.seed)
    return 0
