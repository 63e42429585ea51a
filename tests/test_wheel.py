"""The zoo from an installed wheel, outside the checkout, as a ``pip install aezoo`` user has it.

Builds the wheel from a copy of the sources (no build isolation, so no
network), checks what it carries (the registry and the recipes, no weights),
installs it without dependencies into a temporary folder, and from another
folder lists the zoo and loads ``mnist-linear-30`` through a loopback server
serving a folder written by ``aezoo zoo release``.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from aezoo import zoo
from aezoo.cli import main
from aezoo.zoo.recipes import available_recipes
from aezoo.zoo.registry import read_registry
from zoo_server import ZooServer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.join(REPO, "saved_models")
SOURCES = ("pyproject.toml", "README.md", "aezoo", "pretrain", os.path.join("zoo", "recipes"))
WEIGHT_SUFFIXES = (".keras", ".h5", ".pb", ".index", ".npz", ".npy")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    for part in SOURCES:
        origin = os.path.join(REPO, part)
        if os.path.isdir(origin):
            shutil.copytree(origin, source / part,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(origin, source / part)
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", str(source), "-w", str(dist)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (path,) = dist.glob("aezoo-*.whl")
    return path


def test_wheel_carries_the_registry_and_recipes_but_no_weights(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        registry = json.loads(archive.read("aezoo/zoo/registry.json"))
    assert not [n for n in names if n.endswith(WEIGHT_SUFFIXES) or "saved_models" in n]
    recipes = sorted(n.rsplit("/", 1)[1][:-5] for n in names
                     if n.startswith("aezoo/zoo/recipe_files/") and n.endswith(".json"))
    assert recipes == available_recipes()
    assert registry == read_registry()
    assert sorted(registry["models"]) == zoo.list_models(ROOT)
    assert os.path.getsize(wheel) < 1_000_000


def test_installed_wheel_lists_and_loads_through_a_release(wheel, tmp_path):
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    release_dir = tmp_path / "release"
    assert main(["zoo", "release", str(release_dir), "--root", ROOT,
                 "--registry", str(tmp_path / "registry.json")]) == 0
    written = json.loads((tmp_path / "registry.json").read_text())
    assert written["models"] == read_registry()["models"], \
        "the shipped registry is not what `aezoo zoo release` writes: run it"

    script = f"""
import sys
sys.path.insert(0, {str(site)!r})
import json
import numpy as np
import aezoo
from aezoo import zoo
from aezoo.cli import main
from aezoo.zoo.recipes import available_recipes
from aezoo.zoo.registry import checkout_root
assert aezoo.__file__.startswith({str(site)!r}), aezoo.__file__
assert checkout_root() is None
assert main(["zoo", "list"]) == 0
model = zoo.load("mnist-linear-30")
x = np.random.default_rng(0).uniform(size=(4, 784)).astype("float32")
print(json.dumps({{"models": zoo.list_models(), "recipes": available_recipes(),
                  "codes": np.asarray(model.encode(x)).tolist()}}))
"""
    cache = tmp_path / "cache"
    with ZooServer(release_dir) as server:
        env = {**os.environ, "AEZOO_ZOO_URL": server.url, "AEZOO_CACHE": str(cache)}
        env.pop("AEZOO_ZOO_DIR", None)
        env.pop("PYTHONPATH", None)
        run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        assert [r for r in server.requests] == [
            f for f in os.listdir(release_dir) if f.startswith("mnist-linear-30-")]
    lines = run.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["models"] == zoo.list_models(ROOT)
    assert result["recipes"] == available_recipes()
    assert any(line.startswith("mnist-hinton-30") for line in lines[:-1])  # `aezoo zoo list`
    x = np.random.default_rng(0).uniform(size=(4, 784)).astype("float32")
    expected = zoo.load("mnist-linear-30", compile=False, root=ROOT).encode(x)
    np.testing.assert_allclose(result["codes"], np.asarray(expected), atol=1e-6)
    assert [f for f in os.listdir(cache) if f.endswith(".keras")] == server.requests
