"""The library's layers: it never imports the command line; one module fetches zoo bytes."""

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETWORK_MODULES = ("requests", "urllib.request", "http.client", "huggingface_hub", "socket",
                   "urllib3")


def _modules(*parts):
    for part in parts:
        for directory, _, files in os.walk(os.path.join(REPO, part)):
            for file in files:
                if file.endswith(".py"):
                    yield os.path.relpath(os.path.join(directory, file), REPO)


def _imports(path):
    with open(os.path.join(REPO, path)) as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


LIBRARY = [p for p in _modules("aezoo", "pretrain") if not p.startswith(os.path.join("aezoo",
                                                                                     "cli"))]


@pytest.mark.parametrize("path", LIBRARY)
def test_the_library_never_imports_the_command_line(path):
    offending = [name for name in _imports(path) if name == "aezoo.cli"
                 or name.startswith("aezoo.cli.")]
    assert offending == [], f"{path} imports {offending}"


def test_only_the_resolver_opens_urls_in_the_zoo():
    zoo_modules = list(_modules(os.path.join("aezoo", "zoo")))
    assert os.path.join("aezoo", "zoo", "resolver.py") in zoo_modules
    for path in zoo_modules:
        network = sorted({name for name in _imports(path)
                          if name.split(".")[0] in {m.split(".")[0] for m in NETWORK_MODULES}
                          and any(name == m or name.startswith(m + ".") for m in
                                  NETWORK_MODULES)})
        if path.endswith("resolver.py"):
            assert {"requests", "urllib.request"} <= set(network)
        else:
            assert network == [], f"{path} imports {network}: only the resolver may"
