"""The zoo's registry: the model cards that ship inside the package, and where files are named.

``aezoo/zoo/registry.json`` (package data, read with ``importlib.resources``)
holds every released entry's model card, exactly as ``saved_models/<name>/
card.json`` has it (metrics, recipe, versions, and each file's sha256 and
size), plus the default base URLs of the release. It carries no weights:
``aezoo.zoo.resolver`` fetches those by their sha256 on first use.
``aezoo zoo release DIR`` rewrites it from the development zoo.

A released file is named as torch.hub names its weights: the file's stem, a
dash, the first 12 hex digits of its sha256, the suffix
(``mnist-hinton-30-1f0e5d2c9a3b.keras``), so a rebuilt model never collides
with an old one on a mirror or in the cache.

Nothing here imports TensorFlow.
"""

import importlib.resources
import json
import os
import posixpath

REGISTRY_SCHEMA = 1
REGISTRY_FILE = "registry.json"
HASH_PREFIX = 12
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_SOURCE_ROOT = os.path.dirname(os.path.dirname(_PACKAGE_DIR))


def checkout_root():
    """The source checkout aezoo runs from (development, CI), or None when installed.

    A checkout has the package beside its ``pyproject.toml`` and ``zoo/recipes/``;
    an installed wheel has neither beside ``site-packages/aezoo``.
    """
    if os.path.isfile(os.path.join(_SOURCE_ROOT, "pyproject.toml")) and os.path.isdir(
        os.path.join(_SOURCE_ROOT, "zoo", "recipes")
    ):
        return _SOURCE_ROOT
    return None


def checkout_zoo_dir():
    """The checkout's development zoo ``saved_models/``, or None (not a checkout, or absent)."""
    root = checkout_root()
    if root is None or not os.path.isdir(os.path.join(root, "saved_models")):
        return None
    return os.path.join(root, "saved_models")


def recipe_dir():
    """The folder of the recipes: the checkout's ``zoo/recipes/``, else the wheel's copy.

    The wheel maps ``zoo/recipes/`` to ``aezoo/zoo/recipe_files/`` (pyproject.toml),
    so the same files travel without a second copy in the repository.
    """
    root = checkout_root()
    if root is not None:
        return os.path.join(root, "zoo", "recipes")
    # The wheel's recipe_files/ has no __init__.py (it is zoo/recipes/ itself), so it
    # is a folder beside this module rather than a package importlib.resources opens.
    return os.path.join(_PACKAGE_DIR, "recipe_files")


def release_name(relative_path, sha256):
    """The flat file name of ``relative_path`` in a release and in the cache."""
    stem, suffix = posixpath.splitext(posixpath.basename(relative_path))
    return f"{stem}-{sha256[:HASH_PREFIX]}{suffix}"


def empty_registry():
    return {"schema": REGISTRY_SCHEMA, "base_urls": [], "models": {}}


def read_registry():
    """The registry shipped with the package, as a dict (``models``: name -> card)."""
    from aezoo.errors import ZooIntegrityError

    resource = importlib.resources.files("aezoo.zoo").joinpath(REGISTRY_FILE)
    try:
        registry = json.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return empty_registry()
    except (OSError, ValueError) as error:
        raise ZooIntegrityError(f"the zoo registry {resource} cannot be read: {error}")
    if not isinstance(registry, dict) or not isinstance(registry.get("models"), dict):
        raise ZooIntegrityError(f"the zoo registry {resource} has no 'models' table")
    return registry


def checkout_registry_path():
    """Where ``aezoo zoo release`` writes the registry in a checkout (None when installed)."""
    return os.path.join(_PACKAGE_DIR, REGISTRY_FILE) if checkout_root() else None


def write_json_atomic(path, payload):
    """Writes ``payload`` as indented JSON to ``path`` through a temporary file and a rename."""
    from aezoo.files import write_atomic

    def write(temp):
        with open(temp, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=2)
            out.write("\n")

    write_atomic(path, write)
