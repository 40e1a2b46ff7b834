"""featcache finetune: unfreeze the last layers of the base under a trained Keras head."""

from __future__ import annotations

from featcache.cli.common import add_json_flag, positive_int, print_json
from featcache.cli.export import add_weights_arg
from featcache.cli.headfile import add_force_arg, add_trust_pickle_arg, given, warnings_as_lines


def register(sub) -> None:
    p = sub.add_parser("finetune", help="fine-tune the last base layers end to end, starting from a trained Keras head",
                       description="Rebuild the end-to-end model from the head's cache settings, start its Dense layer from "
                       "the head, unfreeze the last N base layers (BatchNormalization stays frozen, in inference mode), "
                       "recompile with a small learning rate and train on the images streamed from the head's data source. "
                       "Keeps the best validation epoch (the frozen head's weights if no epoch beats it) and writes the "
                       "same kind of model as 'featcache export'.")
    p.add_argument("head", help="Keras head file (.keras) written by 'featcache train --head keras'")
    add_weights_arg(p)
    p.add_argument("--unfreeze", type=int, metavar="N", help="trainable last layers of the base (default: 20, the lesson's)")
    p.add_argument("--lr", type=float, help="learning rate (default: 1e-5, the lesson's)")
    p.add_argument("--epochs", type=positive_int, help="at most this many epochs (default: 5)")
    p.add_argument("--batch-size", type=positive_int, help="images per step (default: 64)")
    p.add_argument("--patience", type=positive_int, help="stop after this many epochs without a better validation accuracy (default: 2)")
    p.add_argument("--seed", type=int, help="seed of the shuffling and dropout, 0 to 2**32-1 (default: 0)")
    p.add_argument("--out", metavar="MODEL.keras", help="where to write the model (default: data/models/<head>_finetuned.keras)")
    add_force_arg(p, "model")
    add_trust_pickle_arg(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from featcache.deploy.finetune import finetune

    kwargs = given(args, "weights", "unfreeze", "epochs", "batch_size", "patience", "seed", "out", "force", "trust_pickle")
    if args.lr is not None:
        kwargs["learning_rate"] = args.lr
    with warnings_as_lines("finetune"):
        result = finetune(args.head, verbose=not args.json, **kwargs)
    if args.json:
        print_json(result.as_dict())
    return 0
