"""Tables of the zoo's metrics: for ``aezoo zoo evaluate``, ``make demo`` and the README.

The README's zoo table sits between two markers and is written from the
model cards by ``aezoo zoo table --write README.md``; a test checks that the
two agree, so the README never shows a number no card holds.
"""

import math
import re

from aezoo import zoo
from aezoo.zoo.metrics import describe_target, target_status

START_MARK = "<!-- zoo-table:start (written by `aezoo zoo table --write README.md`) -->"
END_MARK = "<!-- zoo-table:end -->"


def fmt(value, digits=4):
    """A metric as table text: ``digits`` significant digits, thousands separated.

    A float keeps its decimal point (4.0 is "4.0", not "4"), so a measured
    percentage never reads as a count.
    """
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 10 ** digits:
            return f"{value:,.0f}"
        text = f"{value:.{digits}g}"
        whole = math.isfinite(value) and "." not in text and "e" not in text
        return text + ".0" if whole else text
    return str(value)


def baseline_of(metric, root=None):
    """(name, value) of a metric's baseline; a ``zoo_model`` baseline is read from its card."""
    baseline = metric.get("baseline") or {}
    if not baseline:
        return None, None
    value = baseline.get("value")
    other = baseline.get("zoo_model")
    if value is None and other:
        try:
            card = zoo.info(other, root)
        except zoo.ZooError:
            return baseline.get("name"), None
        value = next((m.get("value") for m in card["metrics"] if m["name"] == metric["name"]),
                     None)
    return baseline.get("name"), value


def baseline_text(row):
    """A row's baseline as "name: value" ("" when it has none)."""
    if row["baseline"] is None:
        return ""
    return f"{row['baseline']}: {fmt(row['baseline_value'])}"


def metric_rows(card, measured=None, root=None):
    """One dict per card metric: model, metric, ours (card), now (``measured``), paper, ..."""
    rows = []
    for metric in card["metrics"]:
        baseline_name, baseline_value = baseline_of(metric, root)
        rows.append({
            "model": card["name"],
            "metric": metric["name"],
            "now": None if measured is None else measured.get(metric["name"]),
            "ours": metric.get("value"),
            "paper": metric.get("paper"),
            "baseline": baseline_name,
            "baseline_value": baseline_value,
            "target": describe_target(metric.get("target")),
            "status": target_status(metric, metric.get("value")) or "",
            "note": metric.get("note", ""),
            "time_to_paper": time_to_paper_text(metric),
        })
    return rows


def time_to_paper_text(metric):
    """Minutes of training until the metric first reached the paper's value, as text.

    "-" where the card does not track it (no paper value, or trained before
    cards recorded it), "not reached" where training never got there; a
    time marked "(end)" was checked only after training.
    """
    if "time_to_paper" not in metric or metric.get("paper") is None:
        return "-"
    reached = metric["time_to_paper"]
    if reached is None:
        return "not reached"
    return f"{reached['seconds'] / 60:.1f}" + ("" if reached.get("epoch") else " (end)")


def text_table(rows, columns):
    """Aligned plain-text lines; ``columns`` is a list of (header, row key)."""
    cells = [[header for header, _ in columns]]
    for row in rows:
        cells.append([fmt(row.get(key)) if not isinstance(row.get(key), str) else row[key]
                      for _, key in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
            for line in cells]


def _minutes(seconds):
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def markdown_table(root=None):
    """The README's zoo table, one row per metric of every model in the zoo."""
    lines = [
        "| model | parameters | metric | ours | paper | baseline | target | min to paper "
        "| training min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in zoo.list_models(root):
        card = zoo.info(name, root)
        for i, row in enumerate(metric_rows(card, root=root)):
            first = i == 0
            baseline = baseline_text(row)
            target = row["target"] and f"{row['target']} ({row['status']})"
            ours = fmt(row["ours"]) + (f" ({row['note']})" if row["note"] else "")
            lines.append(
                f"| {'`' + name + '`' if first else ''} "
                f"| {format(card.get('parameters', 0), ',') if first else ''} "
                f"| {row['metric']} | {ours} | {fmt(row['paper'])} | {baseline} | {target} "
                f"| {row['time_to_paper']} "
                f"| {_minutes(card.get('training_seconds')) if first else ''} |"
            )
    return "\n".join(lines)


def _section(text):
    pattern = re.compile(re.escape(START_MARK) + r"\n(.*?)\n?" + re.escape(END_MARK), re.S)
    return pattern, pattern.search(text)


def readme_table(path):
    """The table currently between the markers of the README at ``path``."""
    with open(path) as handle:
        _, match = _section(handle.read())
    if match is None:
        raise ValueError(f"{path} has no zoo table markers ({START_MARK} ... {END_MARK})")
    return match.group(1).strip()


def write_readme_table(path, root=None):
    """Replaces the table between the markers with one made from the cards."""
    with open(path) as handle:
        text = handle.read()
    pattern, match = _section(text)
    if match is None:
        raise ValueError(f"{path} has no zoo table markers ({START_MARK} ... {END_MARK})")
    table = markdown_table(root)
    text = text[:match.start()] + f"{START_MARK}\n{table}\n{END_MARK}" + text[match.end():]
    with open(path, "w") as handle:
        handle.write(text)
    return table
