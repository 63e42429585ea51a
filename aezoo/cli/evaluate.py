"""``aezoo evaluate MODEL --data SOURCE``: the model's loss terms and errors on your data."""

import os

from aezoo.cli.data import add_model_command, check_features, load_model, load_source


def add_parser(commands):
    return add_model_command(commands, "evaluate", evaluate_command,
                             "loss terms and reconstruction errors of a model on your data",
                             __doc__)


def evaluate_command(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from aezoo.cli.score import scores_of

    model = load_model(args.model)
    data = load_source(args)
    data = check_features(model, data, args.model)
    model.compile(optimizer="adam")
    terms = model.evaluate(data.batches(args.batch_size), verbose=0, return_dict=True)
    print(f"{type(model).__name__} on {data.description}: "
          + ", ".join(f"{name} {value:.4g}" for name, value in terms.items())
          + " (per row, on the model's scale)")
    scaled = scores_of(model, data, args.batch_size, "scaled")
    line = f"Mean squared error per row: {scaled.mean():.4g}"
    if model.scaler is not None:
        raw = scores_of(model, data, args.batch_size, "raw")
        line += f" ({model.input_scaling} scale), {raw.mean():.4g} (raw scale)"
    print(line + f", summed over {model.input_dim} features, {len(scaled):,} rows")
    return 0
