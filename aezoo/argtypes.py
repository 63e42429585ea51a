"""argparse value types shared by the ``aezoo`` subcommands (no TensorFlow here)."""

import argparse


def _integer(text, minimum, wording):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise argparse.ArgumentTypeError(f"expected {wording}, got {text!r}")
    return value


def positive_int(text):
    return _integer(text, 1, "a positive integer")


def non_negative_int(text):
    return _integer(text, 0, "an integer >= 0")


def finite_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text):
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def non_negative_float(text):
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def dims(text):
    """'1000,500,250' -> (1000, 500, 250); '' -> () (no hidden layers)."""
    text = text.strip()
    if not text:
        return ()
    try:
        return tuple(positive_int(part.strip()) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 1000,500,250 "
            f"(or '' for none), got {text!r}"
        )
