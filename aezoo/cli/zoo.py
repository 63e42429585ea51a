"""``aezoo zoo list | info | fetch | verify | cache | export | release | train | evaluate | table``.

Parsing needs no TensorFlow: ``list``, ``info``, ``fetch``, ``verify``, ``cache`` and
``release`` never import it; the others do once their arguments are valid.
Wired into ``aezoo.cli.build_parser`` with ``add_parser(commands)``.
"""

import json
import os

from aezoo.argtypes import positive_float, positive_int
from aezoo.cli.common import fail


def _root(args):
    return getattr(args, "root", None)


def _fail(command, message, code=1):
    """Prints ``aezoo zoo COMMAND: error: MESSAGE`` to stderr; returns the exit code."""
    return fail(f"zoo {command}", message, code)


def _names(args, command):
    """The NAMEs given, or every model with ``--all``; None (after an error) if neither."""
    from aezoo import zoo

    if getattr(args, "all", False):
        if args.names:
            _fail(command, "give model names or --all, not both", 2)
            return None
        return zoo.list_models(_root(args))
    if not args.names:
        _fail(command, "name one or more models, or pass --all", 2)
        return None
    return args.names


def _list(args):
    from aezoo import zoo

    names = zoo.list_models(_root(args))
    if not names:
        print(f"The zoo in {zoo.describe_source(_root(args))} is empty "
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
        print(f"Nothing to verify: the zoo in {zoo.describe_source(_root(args))} is empty.")
        return 0
    for line in zoo.format_report(report):
        print(line)
    return 1 if any(zoo.is_failure(row) for row in report) else 0


def _fetch(args):
    from aezoo import zoo
    from aezoo.zoo import resolver

    names = _names(args, "fetch")
    if names is None:
        return 2
    paths = {}
    for name in names:
        try:
            paths[name] = zoo.fetch(name, root=_root(args))
        except zoo.ZooError as error:
            return _fail("fetch", error)
        print(f"{name:24s} {os.path.getsize(paths[name]):>12,} bytes  {paths[name]}", flush=True)
    print(f"{len(paths)} models verified (cache: {resolver.cache_dir()})")
    if args.serving:
        return _export_names(list(paths), args.serving, args, "fetch")
    return 0


def _export(args):
    names = _names(args, "export")
    if names is None:
        return 2
    return _export_names(names, args.base_dir, args, "export")


def _export_names(names, base_dir, args, command):
    from aezoo import zoo

    cards = []
    for name in names:
        try:
            cards.append(zoo.info(name, _root(args)))
        except zoo.ZooError as error:
            return _fail(command, error)
    if getattr(args, "all", False) or command == "fetch":
        skipped = [c["name"] for c in cards if not c.get("serving")]
        if skipped:
            print(f"Not exported (no SavedModel for classifiers): {', '.join(skipped)}")
        cards = [c for c in cards if c.get("serving")]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from aezoo.zoo.serving import ATOL, export_for_serving

    for card in cards:
        try:
            version_dir, difference = export_for_serving(
                card["name"], base_dir, root=_root(args), overwrite=args.overwrite)
        except (zoo.ZooError, FileExistsError) as error:
            return _fail(command, error)
        print(f"Exported {card['name']} to {version_dir} (largest difference from the Keras "
              f"model {difference:.2g}, limit {ATOL:g})", flush=True)
    if cards:
        print(f"Wrote {os.path.join(base_dir, 'models.config')}")
    return 0


def _cache(args):
    from aezoo.zoo import cache

    try:
        if args.clear:
            removed, freed = cache.clear(args.names or None, root=_root(args))
            print(f"Removed {removed} files ({freed:,} bytes) from {cache.cache_dir()}")
            return 0
        for line in cache.describe(root=_root(args)):
            print(line)
    except cache.ZooError as error:
        return _fail("cache", error)
    return 0


def _release(args):
    from aezoo import zoo
    from aezoo.zoo.release import release

    try:
        release(args.out_dir, root=args.root, registry_path=args.registry,
                base_urls=args.base_url)
    except (zoo.ZooError, OSError) as error:
        return _fail("release", error)
    return 0


def _train(args):
    from aezoo.zoo.recipes import RecipeError, load_recipe, recipe_path, with_fast_mode

    try:
        recipe = load_recipe(args.name)
        if args.fast:
            recipe = with_fast_mode(recipe)
    except RecipeError as error:
        return _fail("train", error, 2)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from aezoo import zoo
    from aezoo.data import DataError
    from aezoo.zoo.metrics import evaluate_metrics
    from aezoo.zoo.recipes import card_metrics, data_description, load_data, train_from_recipe
    from aezoo.zoo.timing import hardware

    name = recipe["name"]
    out_root = zoo.zoo_root(args.out_root)
    if out_root is None:
        return _fail("train", "where should the model go? Pass --out-root DIR (or set "
                     "AEZOO_ZOO_DIR); outside a checkout there is no saved_models/", 2)
    if name in zoo.list_models(out_root) and not args.overwrite:
        return _fail("train", f"{name} is already in the zoo under {out_root}; pass "
                     "--overwrite", 2)
    try:
        arrays = load_data(recipe, args.data_dir)
    except DataError as error:
        return _fail("train", error, 2)
    checkpoint = None
    if args.checkpoint_dir:
        from aezoo.zoo.checkpoints import CheckpointError, TrainingCheckpoint

        try:
            checkpoint = TrainingCheckpoint(args.checkpoint_dir, recipe, args.epochs_scale)
        except CheckpointError as error:
            return _fail("train", error, 2)
    print(f"Training {name} ({recipe['model']['class']}) from {recipe_path(args.name)}"
          f"{' in its fast mode' if args.fast else ''}; epochs x {args.epochs_scale:g}",
          flush=True)
    if checkpoint is not None:
        state = checkpoint.state
        print(f"Resuming from {checkpoint.folder}: {state['epoch']} epochs done, "
              f"{state['training_seconds'] / 60:.1f} min of training so far"
              if checkpoint.resuming else f"Saving the run after every epoch in "
              f"{checkpoint.folder}", flush=True)
    report, details = {}, {}
    model, seconds = train_from_recipe(recipe, args.data_dir, args.epochs_scale, arrays=arrays,
                                       report=report, log=_log, checkpoint=checkpoint)
    print(f"Trained in {seconds:.0f} s; measuring the metrics", flush=True)
    measured = evaluate_metrics(model, recipe, arrays[2], arrays[3], x_train=arrays[0],
                                y_train=arrays[1], expensive=not args.cheap_only,
                                nll_images=args.nll_images, log=_log, details=details)
    metrics = card_metrics(recipe, measured, args.nll_images, details=details,
                           time_to_target=report["time_to_target"], training_seconds=seconds)
    for metric in metrics:
        if metric["paper"] is not None and "time_to_paper" in metric:
            reached = metric["time_to_paper"]
            print(f"Time to the paper's {metric['name']} ({metric['paper']:g}): "
                  + ("not reached" if reached is None else f"{reached['seconds']:.0f} s"
                     + (f" (epoch {reached['epoch']})" if reached["epoch"] else
                        " (checked after training only)")), flush=True)
    card = zoo.publish(
        model, name, recipe_path(args.name), metrics,
        seconds, data_description(recipe, arrays), root=out_root,
        description=recipe["description"],
        optimizer={"name": recipe["training"]["optimizer"],
                   "learning_rate": recipe["training"]["learning_rate"]},
        overwrite=args.overwrite, hardware=hardware(),
        recipe_mode="fast" if args.fast else None,
    )
    if checkpoint is not None:
        checkpoint.remove()
    print(f"Published {name} to {out_root} ({card['parameters']:,} parameters, trained in "
          f"{seconds / 60:.1f} min); `aezoo zoo release DIR` puts it in the registry")
    return 0


def _log(line):
    print(line, flush=True)


def _evaluate(args):
    from aezoo import zoo

    names = args.names or zoo.list_models(_root(args))
    if not names:
        return _fail("evaluate", f"the zoo in {zoo.describe_source(_root(args))} is empty")
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
    card_names = [m["name"] for m in card["metrics"]]
    unknown = [metric for metric in args.metrics or () if metric not in card_names]
    if unknown:  # refused before the model and the data are loaded
        return _fail("evaluate", f"{name}'s card has no metric {', '.join(unknown)}; its "
                                 f"metrics: {', '.join(card_names)}")
    try:
        validate_recipe(recipe, where=f"{name}'s card")
        model = zoo.load(name, compile=False, root=_root(args))
        arrays = load_data(recipe, args.data_dir)
    except (zoo.ZooError, ValueError, DataError) as error:
        return _fail("evaluate", error)
    if args.metrics:
        scope = f" ({', '.join(args.metrics)} only)"
    elif args.all:
        scope = ""
    else:
        scope = " (cheap metrics; --all adds NLL, linear probes, fine-tuned errors)"
    print(f"Evaluating {name} on {len(arrays[2]):,} test images{scope}", flush=True)
    details = {}
    # A metric asked for by name is measured even if it is an expensive one.
    measured = evaluate_metrics(model, recipe, arrays[2], arrays[3], x_train=arrays[0],
                                y_train=arrays[1], names=args.metrics or card_names,
                                expensive=args.all or bool(args.metrics),
                                nll_images=args.nll_images, log=_log, details=details)
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
                                              previous=card["metrics"], details=details,
                                              training_seconds=card.get("training_seconds")),
                           _root(args))
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


def add_parser(commands):
    """Adds ``zoo`` and its subcommands to ``commands``; returns the ``zoo`` parser."""
    zoo_parser = commands.add_parser(
        "zoo", help="list, fetch, verify, export, train and evaluate the pretrained models",
        description="The pretrained-model zoo: the registry shipped with aezoo, whose files "
                    "are fetched into the cache on first use; --root or $AEZOO_ZOO_DIR "
                    "names a local zoo folder instead.",
        allow_abbrev=False,
    )
    actions = zoo_parser.add_subparsers(dest="zoo_command", metavar="ACTION", required=True)
    root_help = "a local zoo folder to use instead of the registry (default: $AEZOO_ZOO_DIR)"

    def add(name, handler, help_text, root=True):
        parser = actions.add_parser(name, help=help_text, description=help_text,
                                    allow_abbrev=False)
        parser.set_defaults(handler=handler, subparser=parser)
        if root:
            parser.add_argument("--root", help=root_help)
        return parser

    add("list", _list, "list the models (no network, no weights needed)")
    info = add("info", _info, "print a model's card (JSON; no network needed)")
    info.add_argument("name")
    fetch = add("fetch", _fetch, "download and verify models into the cache (for offline use)")
    fetch.add_argument("names", nargs="*", metavar="NAME")
    fetch.add_argument("--all", action="store_true", help="every model")
    fetch.add_argument("--serving", metavar="BASE_DIR",
                       help="also write their SavedModels here (TF Serving layout)")
    fetch.add_argument("--overwrite", action="store_true",
                       help="with --serving: replace existing version folders")
    verify = add("verify", _verify, "check the sha256 and size of every file in the zoo folder "
                 "and the cache; exit 1 on a failure")
    verify.add_argument("name", nargs="?", help="one model (default: all)")
    cache_parser = add("cache", _cache, "show the cache (where, which files, sizes), or clear it")
    cache_parser.add_argument("names", nargs="*", metavar="NAME",
                              help="with --clear: only these models' files")
    cache_parser.add_argument("--clear", action="store_true",
                              help="remove aezoo's files from the cache (others are left alone)")
    export = add("export", _export, "write models' SavedModels for TF Serving from their "
                 "verified .keras files, and models.config")
    export.add_argument("names", nargs="*", metavar="NAME")
    export.add_argument("--all", action="store_true", help="every autoencoder in the zoo")
    export.add_argument("--base-dir", required=True,
                        help="TF Serving's model folder, e.g. saved_models/serving")
    export.add_argument("--overwrite", action="store_true",
                        help="replace existing version folders")
    release = add("release", _release, "write the folder a maintainer uploads (flat files, "
                  "hash-prefixed names) and update the registry to match", root=False)
    release.add_argument("out_dir", metavar="DIR")
    release.add_argument("--root", help="the development zoo (default: $AEZOO_ZOO_DIR or "
                         "the checkout's saved_models)")
    release.add_argument("--registry", metavar="PATH",
                         help="the registry file to write (default: the checkout's "
                              "aezoo/zoo/registry.json)")
    release.add_argument("--base-url", action="append", metavar="URL",
                         help="the release's base URL(s) to record as the default "
                              "(repeatable; default: keep the registry's)")
    train = add("train", _train, "train a model from its recipe and publish it to a local zoo "
                "folder", root=False)
    train.add_argument("name", help="a recipe name (zoo/recipes/NAME.json) or a recipe file")
    train.add_argument("--out-root", help="publish here (default: $AEZOO_ZOO_DIR, else the "
                       "checkout's saved_models)")
    train.add_argument("--data-dir", help="MNIST IDX folder (default: $AEZOO_DATA_DIR)")
    train.add_argument("--epochs-scale", type=positive_float, default=1.0,
                       help="multiply every epoch count (quick runs; default: 1)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing entry")
    train.add_argument("--fast", action="store_true",
                       help="train with the recipe's fast mode (its 'fast' section: a shorter "
                            "schedule for the same model)")
    train.add_argument("--cheap-only", action="store_true",
                       help="skip the expensive metrics (NLL, linear probes); add them later "
                            "with `aezoo zoo evaluate NAME --all --write`")
    train.add_argument("--nll-images", type=positive_int, default=None,
                       help="estimate the VAE's NLL on the first N test images (default: all)")
    train.add_argument("--checkpoint-dir", metavar="DIR",
                       help="save the run in DIR/NAME/ after every epoch, and resume from it "
                            "when run again with the same recipe (long runs over several "
                            "sessions); removed once the model is published")
    evaluate = add("evaluate", _evaluate,
                   "recompute a model's metrics beside the card's, the paper's and the baseline")
    evaluate.add_argument("names", nargs="*", metavar="NAME",
                          help="models to evaluate (default: every model in the zoo)")
    evaluate.add_argument("--data-dir", help="MNIST IDX folder (default: $AEZOO_DATA_DIR)")
    evaluate.add_argument("--all", action="store_true",
                          help="also the expensive metrics: NLL (k = 5000), linear probes, "
                               "fine-tuned errors")
    evaluate.add_argument("--metric", action="append", dest="metrics", metavar="METRIC",
                          help="measure only this metric of the card, cheap or expensive "
                               "(repeatable); with --write the others keep their values")
    evaluate.add_argument("--nll-images", type=positive_int, default=None,
                          help="estimate the NLL on the first N test images (default: all)")
    evaluate.add_argument("--write", action="store_true",
                          help="store the measured values in the model card (needs a local "
                               "zoo folder)")
    table = add("table", _table, "print the zoo's metric table (Markdown) made from the cards")
    table.add_argument("--write", metavar="README",
                       help="replace the table between the zoo-table markers of this file")
    zoo_parser.set_defaults(subparser=zoo_parser)
    return zoo_parser
