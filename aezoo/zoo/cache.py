"""The user cache of zoo files: what is in it, and clearing it (``aezoo zoo cache``).

The cache (``aezoo.zoo.resolver.cache_dir``) holds flat files named
``<stem>-<sha256[:12]><suffix>``, temporary ``.<name>.*.part`` files of
downloads under way, and ``.locks/``. Clearing removes only files of those
shapes, so a cache folder pointed at a folder of the user's own never loses
anything else.
"""

import os
import re
import shutil

from aezoo.errors import ZooError
from aezoo.zoo.registry import HASH_PREFIX, release_name
from aezoo.zoo.resolver import cache_dir, problem

__all__ = ["ZooError", "cache_dir", "cached_files", "describe", "clear"]

_RELEASED = re.compile(rf"^.+-[0-9a-f]{{{HASH_PREFIX}}}(\.[A-Za-z0-9._-]+)?$")
_PARTIAL = re.compile(r"^\..+\.part$")


def _known(root=None):
    """{released file name: (model name, relative path, expected)} for the current catalog."""
    from aezoo import zoo

    known = {}
    for name in zoo.list_models(root):
        for relative, expected in zoo.info(name, root)["files"].items():
            known[release_name(relative, expected["sha256"])] = (name, relative, expected)
    return known


def cached_files(root=None):
    """[{file, path, bytes, model, status}] for every aezoo file in the cache."""
    base = cache_dir()
    if not os.path.isdir(base):
        return []
    known = _known(root)
    rows = []
    for file in sorted(os.listdir(base)):
        path = os.path.join(base, file)
        if not os.path.isfile(path) or not (_RELEASED.match(file) or _PARTIAL.match(file)):
            continue
        if file in known:
            model, _, expected = known[file]
            status = problem(path, expected) or "ok"
        elif _PARTIAL.match(file):
            model, status = None, "partial download (removed by --clear)"
        else:
            model, status = None, "not in the current registry (an older release?)"
        rows.append({"file": file, "path": path, "bytes": os.path.getsize(path),
                     "model": model, "status": status})
    return rows


def describe(root=None):
    """Lines for ``aezoo zoo cache``."""
    rows = cached_files(root)
    lines = [f"Cache: {cache_dir()} ($AEZOO_CACHE overrides it)"]
    for row in rows:
        lines.append(f"  {row['file']:44s} {row['bytes']:>12,} bytes  "
                     f"{row['model'] or '-':24s} {row['status']}")
    total = sum(row["bytes"] for row in rows)
    lines.append(f"{len(rows)} files, {total:,} bytes")
    return lines


def clear(names=None, root=None):
    """Removes aezoo's files from the cache (only ``names``' if given); returns (files, bytes)."""
    rows = cached_files(root)
    if names:
        from aezoo import zoo

        for name in names:
            zoo.info(name, root)  # UnknownModelError names the ones there are
        rows = [row for row in rows if row["model"] in names]
    removed = freed = 0
    for row in rows:
        try:
            os.remove(row["path"])
        except FileNotFoundError:
            continue
        removed += 1
        freed += row["bytes"]
    locks = os.path.join(cache_dir(), ".locks")
    if not names and os.path.isdir(locks):
        shutil.rmtree(locks, ignore_errors=True)
    return removed, freed
