"""``aezoo zoo list | info NAME | verify [NAME] | train NAME | evaluate NAME`` (no TensorFlow to parse).

Wired into ``aezoo.cli.build_parser`` with ``add_zoo_parser(commands)``.
"""

import json
import os
import sys

from aezoo.argtypes import positive_float


def _root(args):
    return getattr(args, "root", None)


def _fail(command, message, code=1):
    """Prints ``aezoo zoo COMMAND: error: MESSAGE`` to stderr; returns the exit code."""
    print(f"aezoo zoo {command}: error: {message}", file=sys.stderr)
    return code


def _list(args):
    from aezoo import zoo

    names = zoo.list_models(_root(args))
    if not names:
        print(f"The zoo under {zoo.zoo_root(_root(args))} is empty "
              "(train one with `aezoo zoo train NAME`).")
        return 0
    for name in names:
        try:
            card = zoo.info(name, _root(args))
        except zoo.ZooError as error:
            print(f"{name}  (card unreadable: {error})")
            continue
        print(f"{name:24s} {card['model']['class']:24s} {card.get('parameters', 0):>11,} "
              f"params  {card.get('description', '')}")
    return 0


def _info(args):
    from aezoo import zoo

    try:
        card = zoo.info(args.name, _root(args))
    except zoo.ZooError as error:
        return _fail("info", error)
    print(json.dumps(card, indent=2))
    return 0


def _verify(args):
    from aezoo import zoo

    try:
        report = zoo.verify(args.name, _root(args))
    except zoo.ZooError as error:
        return _fail("verify", error)
    if not report:
        print(f"Nothing to verify: the zoo under {zoo.zoo_root(_root(args))} is empty.")
        return 0
    for line in zoo.format_report(report):
        print(line)
    return 1 if any(row["status"] != "ok" for row in report) else 0


def _train(args):
    from aezoo.zoo.recipes import RecipeError, load_recipe, recipe_path

    try:
        recipe = load_recipe(args.name)
    except RecipeError as error:
        return _fail("train", error, 2)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from aezoo import zoo
    from aezoo.data import DataError
    from aezoo.zoo.recipes import (card_metrics, data_description, evaluate_metrics,
                                   load_data, train_from_recipe)

    name = recipe["name"]
    if name in zoo.list_models(args.out_root) and not args.overwrite:
        return _fail("train", f"{name} is already in the zoo under "
                     f"{zoo.zoo_root(args.out_root)}; pass --overwrite", 2)
    try:
        arrays = load_data(recipe, args.data_dir)
    except DataError as error:
        return _fail("train", error, 2)
    print(f"Training {name} ({recipe['model']['class']}) from {recipe_path(args.name)}; "
          f"epochs x {args.epochs_scale:g}", flush=True)
    model, seconds = train_from_recipe(recipe, args.data_dir, args.epochs_scale, arrays=arrays)
    print(f"Trained in {seconds:.0f} s; measuring the cheap metrics", flush=True)
    measured = evaluate_metrics(model, recipe, arrays[2], arrays[3], x_train=arrays[0])
    command = f"aezoo zoo evaluate {name}"
    card = zoo.publish(
        model, name, recipe_path(args.name), card_metrics(recipe, measured, command), seconds,
        data_description(recipe, arrays), root=args.out_root, description=recipe["description"],
        optimizer={"name": recipe["training"]["optimizer"],
                   "learning_rate": recipe["training"]["learning_rate"]},
        overwrite=args.overwrite,
    )
    for metric in card["metrics"]:
        print(f"  {metric['name']}: {metric['value']}")
    print(f"Published {name} to {zoo.zoo_root(args.out_root)}")
    return 0


def _fmt(value):
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _evaluate(args):
    from aezoo import zoo

    try:
        card = zoo.info(args.name, _root(args))
    except zoo.ZooError as error:
        return _fail("evaluate", error)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from aezoo.data import DataError
    from aezoo.zoo.recipes import evaluate_metrics, load_data, validate_recipe

    recipe = card["recipe"]["contents"]
    try:
        validate_recipe(recipe, where=f"{args.name}'s card")
        model = zoo.load(args.name, compile=False, root=_root(args))
        arrays = load_data(recipe, args.data_dir)
    except (zoo.ZooError, ValueError, DataError) as error:
        return _fail("evaluate", error)
    names = [m["name"] for m in card["metrics"]] or None
    measured = evaluate_metrics(model, recipe, arrays[2], arrays[3], x_train=arrays[0],
                                names=names)
    print(f"{'metric':26s} {'now':>10s} {'card':>10s} {'paper':>10s}")
    for metric in card["metrics"]:
        now = measured.get(metric["name"], "not run")
        print(f"{metric['name']:26s} {_fmt(now):>10s} {_fmt(metric.get('value')):>10s} "
              f"{_fmt(metric.get('paper')):>10s}")
    return 0


def add_zoo_parser(commands):
    """Adds ``zoo`` and its subcommands to ``commands``; returns the ``zoo`` parser."""
    zoo_parser = commands.add_parser(
        "zoo", help="list, inspect, verify, train and evaluate the pretrained models",
        description="The pretrained-model zoo under saved_models/ ($AEZOO_ZOO_DIR overrides it).",
        allow_abbrev=False,
    )
    actions = zoo_parser.add_subparsers(dest="zoo_command", metavar="ACTION", required=True)

    def add(name, handler, help_text):
        parser = actions.add_parser(name, help=help_text, description=help_text,
                                    allow_abbrev=False)
        parser.set_defaults(handler=handler, subparser=parser)
        return parser

    listing = add("list", _list, "list the models in the zoo")
    listing.add_argument("--root", help="the zoo folder (default: $AEZOO_ZOO_DIR or saved_models)")
    info = add("info", _info, "print a model's card (JSON)")
    info.add_argument("name")
    info.add_argument("--root", help="the zoo folder")
    verify = add("verify", _verify, "check the sha256 and size of every file; exit 1 on a failure")
    verify.add_argument("name", nargs="?", help="one model (default: all)")
    verify.add_argument("--root", help="the zoo folder")
    train = add("train", _train, "train a model from its recipe in zoo/recipes and publish it")
    train.add_argument("name", help="a recipe name (zoo/recipes/NAME.json) or a recipe file")
    train.add_argument("--out-root", help="publish here (default: the zoo folder)")
    train.add_argument("--data-dir", help="MNIST IDX folder (default: $AEZOO_DATA_DIR)")
    train.add_argument("--epochs-scale", type=positive_float, default=1.0,
                       help="multiply every epoch count (quick runs; default: 1)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing entry")
    evaluate = add("evaluate", _evaluate,
                   "recompute a model's cheap metrics beside the card's and the paper's")
    evaluate.add_argument("name")
    evaluate.add_argument("--root", help="the zoo folder")
    evaluate.add_argument("--data-dir", help="MNIST IDX folder (default: $AEZOO_DATA_DIR)")
    zoo_parser.set_defaults(subparser=zoo_parser)
    return zoo_parser
