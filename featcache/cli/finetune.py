"""featcache finetune: unfreeze the last layers of the base under a trained Keras head."""

from __future__ import annotations

from featcache.cli.common import add_json_flag, positive_int, print_json
from featcache.cli.export import add_weights_arg


def register(sub) -> None:
    p = sub.add_parser("finetune", help="fine-tune the last base layers end to end, starting from a trained Keras head",
                       description="Rebuild the end-to-end model from the head's cache settings, start its Dense layer from "
                       "the head, unfreeze the last N base layers (BatchNormalization stays frozen, in inference mode), "
                       "recompile with a small learning rate and train on the images streamed from the head's data source. "
                       "Keeps the best validation epoch (the frozen head's weights if no epoch beats it) and writes the "
                       "same kind of model as 'featcache export'.")
    p.add_argument("head", help="Keras head file (.keras) written by 'featcache train --head keras'")
    add_weights_arg(p)
    p.add_argument("--unfreeze", type=int, default=20, metavar="N", help="trainable last layers of the base (default: 20, the lesson's)")
    p.add_argument("--lr", type=float, default=1e-5, help="learning rate (default: 1e-5, the lesson's)")
    p.add_argument("--epochs", type=positive_int, default=5, help="at most this many epochs (default: 5)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="images per step (default: 64)")
    p.add_argument("--patience", type=positive_int, default=2, help="stop after this many epochs without a better validation accuracy (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffling and dropout (default: 0)")
    p.add_argument("--out", metavar="MODEL.keras", help="where to write the model (default: data/models/<head>_finetuned.keras)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from featcache.deploy.finetune import finetune

    result = finetune(args.head, weights=args.weights, unfreeze=args.unfreeze, learning_rate=args.lr, epochs=args.epochs,
                      batch_size=args.batch_size, patience=args.patience, seed=args.seed, out=args.out, verbose=not args.json)
    if args.json:
        print_json(result.as_dict())
    return 0
