"""``aezoo zoo list | info NAME | verify [NAME] | train NAME | evaluate NAME | table`` (no TensorFlow to parse).

Wired into ``aezoo.cli.build_parser`` with ``add_zoo_parser(commands)``.
"""

import json
import os
import sys

from aezoo.argtypes import positive_float, positive_int


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
    from aezoo.zoo.metrics import evaluate_metrics
    from aezoo.zoo.recipes import card_metrics, data_description, load_data, train_from_recipe

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
    print(f"Trained in {seconds:.0f} s; measuring the metrics", flush=True)
    measured = evaluate_metrics(model, recipe, arrays[2], arrays[3], x_train=arrays[0],
                                y_train=arrays[1], expensive=not args.cheap_only,
                                nll_images=args.nll_images, log=_log)
    card = zoo.publish(
        model, name, recipe_path(args.name), card_metrics(recipe, measured, args.nll_images),
        seconds, data_description(recipe, arrays), root=args.out_root,
        description=recipe["description"],
        optimizer={"name": recipe["training"]["optimizer"],
                   "learning_rate": recipe["training"]["learning_rate"]},
        overwrite=args.overwrite,
    )
    print(f"Published {name} to {zoo.zoo_root(args.out_root)} "
          f"({card['parameters']:,} parameters, trained in {seconds / 60:.1f} min)")
    return 0


def _log(line):
    print(line, flush=True)


def _evaluate(args):
    from aezoo import zoo

    names = args.names or zoo.list_models(_root(args))
    if not names:
        return _fail("evaluate", f"the zoo under {zoo.zoo_root(_root(args))} is empty")
    try:
        cards = [zoo.info(name, _root(args)) for name in names]
    except zoo.ZooError as error:
        return _fail("evaluate", error)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    status = 0
    for card in cards:
        status = max(status, _evaluate_one(card, args))
    return status


def _evaluate_one(card, args):
    """Recomputes one card's metrics and prints them beside the stored ones."""
    from aezoo import zoo
    from aezoo.data import DataError
    from aezoo.zoo.metrics import evaluate_metrics, target_status
    from aezoo.zoo.recipes import card_metrics, load_data, validate_recipe
    from aezoo.zoo.report import baseline_text, metric_rows, text_table

    name, recipe = card["name"], card["recipe"]["contents"]
    try:
        validate_recipe(recipe, where=f"{name}'s card")
        model = zoo.load(name, compile=False, root=_root(args))
        arrays = load_data(recipe, args.data_dir)
    except (zoo.ZooError, ValueError, DataError) as error:
        return _fail("evaluate", error)
    print(f"Evaluating {name} on {len(arrays[2]):,} test images"
          + ("" if args.all else " (cheap metrics; --all adds NLL and linear probes)"),
          flush=True)
    measured = evaluate_metrics(model, recipe, arrays[2], arrays[3], x_train=arrays[0],
                                y_train=arrays[1], names=[m["name"] for m in card["metrics"]],
                                expensive=args.all, nll_images=args.nll_images, log=_log)
    rows = metric_rows(card, measured, _root(args))
    for row, metric in zip(rows, card["metrics"]):
        row["status"] = target_status(metric, row["now"]) or ""
        row["baseline"] = baseline_text(row) or None  # printed as "-"
        if row["now"] is None:
            row["now"] = "not run"
    columns = [("metric", "metric"), ("now", "now"), ("card", "ours"), ("paper", "paper"),
               ("baseline", "baseline"), ("target", "target"), ("now vs target", "status")]
    for line in text_table(rows, columns):
        print(line)
    if args.write:
        zoo.update_metrics(name, card_metrics(recipe, measured, args.nll_images,
                                              previous=card["metrics"]), _root(args))
        print(f"Wrote the measured values into {zoo.card_path(name, _root(args))}")
    print()
    return 0


def _table(args):
    from aezoo.zoo.report import markdown_table, write_readme_table

    if args.write:
        write_readme_table(args.write, _root(args))
        print(f"Wrote the zoo table into {args.write}")
    else:
        print(markdown_table(_root(args)))
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
    train.add_argument("--cheap-only", action="store_true",
                       help="skip the expensive metrics (NLL, linear probes); add them later "
                            "with `aezoo zoo evaluate NAME --all --write`")
    train.add_argument("--nll-images", type=positive_int, default=None,
                       help="estimate the VAE's NLL on the first N test images (default: all)")
    evaluate = add("evaluate", _evaluate,
                   "recompute a model's metrics beside the card's, the paper's and the baseline")
    evaluate.add_argument("names", nargs="*", metavar="NAME",
                          help="models to evaluate (default: every model in the zoo)")
    evaluate.add_argument("--root", help="the zoo folder")
    evaluate.add_argument("--data-dir", help="MNIST IDX folder (default: $AEZOO_DATA_DIR)")
    evaluate.add_argument("--all", action="store_true",
                          help="also the expensive metrics: NLL (k = 5000), linear probes")
    evaluate.add_argument("--nll-images", type=positive_int, default=None,
                          help="estimate the NLL on the first N test images (default: all)")
    evaluate.add_argument("--write", action="store_true",
                          help="store the measured values in the model card")
    table = add("table", _table, "print the zoo's metric table (Markdown) made from the cards")
    table.add_argument("--root", help="the zoo folder")
    table.add_argument("--write", metavar="README",
                       help="replace the table between the zoo-table markers of this file")
    zoo_parser.set_defaults(subparser=zoo_parser)
    return zoo_parser
