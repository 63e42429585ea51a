"""``aezoo zoo release DIR``: the folder a maintainer uploads, and the registry that matches it.

From the development zoo (``saved_models/``, or ``root``) every entry is
checked against its card, then each of its files is copied flat into ``DIR``
under its released name (``<stem>-<sha256[:12]><suffix>``, see
``aezoo.zoo.registry.release_name``), and the registry
(``aezoo/zoo/registry.json`` in the checkout, or ``registry_path``) is
rewritten to hold exactly those entries' cards. Files already in ``DIR``
with the right contents are kept; a file of the same name and other
contents stops the release (nothing is ever overwritten). Upload ``DIR``'s
files to one base URL; ``AEZOO_ZOO_URL`` (or the registry's ``base_urls``)
points the resolver at it.
"""

import os
import shutil

from aezoo.errors import ZooError, ZooIntegrityError
from aezoo.files import write_atomic
from aezoo.zoo.registry import (
    REGISTRY_SCHEMA,
    checkout_registry_path,
    release_name,
    write_json_atomic,
)


def release(out_dir, root=None, registry_path=None, base_urls=None, log=print):
    """Writes the release folder and the registry; returns {released name: "written"|"kept"}."""
    from aezoo import zoo

    source = zoo.zoo_root(root)
    if source is None or not os.path.isdir(source):
        raise ZooError("nothing to release: give the development zoo folder (--root), "
                       "e.g. a checkout's saved_models/")
    registry_path = registry_path or checkout_registry_path()
    if registry_path is None:
        raise ZooError("where should the registry go? Pass --registry PATH (not running "
                       "from a checkout, so there is no aezoo/zoo/registry.json to update)")
    names = zoo.list_models(source)
    if not names:
        raise ZooError(f"nothing to release: no model cards under {source}")
    failures = [row for row in zoo.verify(root=source)
                if row["where"] == "zoo folder" and zoo.is_failure(row)]
    if failures:
        raise ZooIntegrityError("the zoo does not verify; nothing was released:\n  " + "\n  ".join(
            f"{row['file']}: {row['status']}" for row in failures))

    os.makedirs(out_dir, exist_ok=True)
    cards, outcome = {}, {}
    for name in names:
        card = zoo.info(name, source)
        for relative, expected in sorted(card["files"].items()):
            flat = release_name(relative, expected["sha256"])
            outcome[flat] = _place(os.path.join(source, relative),
                                   os.path.join(out_dir, flat), expected)
            log(f"{outcome[flat]:8s} {flat}  ({expected['bytes']:,} bytes, {name})")
        cards[name] = card
    others = sorted(set(os.listdir(out_dir)) - set(outcome))
    if others:
        log(f"left alone in {out_dir} (not part of this release): {', '.join(others)}")

    previous = _read_json_or_empty(registry_path)
    registry = {
        "schema": REGISTRY_SCHEMA,
        "base_urls": list(base_urls) if base_urls is not None
        else list(previous.get("base_urls") or []),
        "models": cards,
    }
    write_json_atomic(registry_path, registry)
    log(f"wrote the registry {registry_path} ({len(cards)} models)")
    return outcome


def _read_json_or_empty(path):
    import json

    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _place(source, target, expected):
    """Copies ``source`` to ``target`` through a temporary file; 'kept' if it is already there."""
    from aezoo.zoo.resolver import problem

    if os.path.exists(target):
        wrong = problem(target, expected)
        if wrong is None:
            return "kept"
        raise ZooError(f"{target} exists with other contents ({wrong}); remove it or release "
                       "into an empty folder")
    def copy(temp):
        shutil.copyfile(source, temp)
        wrong = problem(temp, expected)
        if wrong is not None:
            raise ZooIntegrityError(f"{source} changed while it was copied: {wrong}")

    write_atomic(target, copy)
    return "written"
