"""Loads exported SavedModels with nothing but TensorFlow; run by tests/test_export.py.

    python tests/standalone_check.py WORK_DIR

WORK_DIR/manifest.json maps model names to SavedModel folders; WORK_DIR/inputs.npz
holds "<model>/<signature>/<input>" arrays. Importing aezoo, pretrain or
tensorflow_probability raises ImportError in this process (TensorFlow's own
import of keras is allowed). For every model and signature the script runs

* ``tf.saved_model.load`` and the signature by its input names ("tf2"), and
* ``tf.compat.v1.saved_model.loader.load`` under the ``serve`` tag in a
  graph-mode session, feeding and fetching the SignatureDef's tensor names
  ("v1"), the path closest to TensorFlow Serving's C++ loader,

and writes WORK_DIR/outputs.npz ("<model>/<loader>/<signature>/<output>") and
WORK_DIR/report.json: per model the op types of the graph and its function
library, the signature names, and what saved_model_cli's ``show --all``
printed; plus the blocked modules found in sys.modules (none, if all is well).
"""

import contextlib
import importlib.abc
import io
import json
import os
import sys

BLOCKED = ("aezoo", "pretrain", "tensorflow_probability")


class BlockImports(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in BLOCKED:
            raise ImportError(f"importing {fullname} is blocked in this check")
        return None


sys.meta_path.insert(0, BlockImports())
# Nothing from the checkout either: the script's folder (tests/) leads sys.path.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(__file__)]

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.tools import saved_model_cli  # noqa: E402


def graph_ops(meta_graph_def):
    """Op types in the graph and every function of its library (calls excluded)."""
    library = meta_graph_def.graph_def.library
    function_names = {function.signature.name for function in library.function}
    ops = {node.op for node in meta_graph_def.graph_def.node}
    for function in library.function:
        ops.update(node.op for node in function.node_def)
    return sorted(ops - function_names)


def _import_fails(module):
    try:
        __import__(module)
    except ImportError:
        return True
    return False


def run(work_dir):
    with open(os.path.join(work_dir, "manifest.json")) as handle:
        manifest = json.load(handle)
    inputs = dict(np.load(os.path.join(work_dir, "inputs.npz")))
    outputs, report = {}, {"models": {}}
    for name, path in manifest["models"].items():
        loaded = tf.saved_model.load(path)
        for signature, function in loaded.signatures.items():
            feed = {
                key: tf.constant(inputs[f"{name}/{signature}/{key}"])
                for key in function.structured_input_signature[1]
            }
            for key, value in function(**feed).items():
                outputs[f"{name}/tf2/{signature}/{key}"] = value.numpy()

        graph = tf.Graph()
        with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
            meta_graph_def = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
            for signature, definition in meta_graph_def.signature_def.items():
                if signature.startswith("__"):
                    continue
                feed = {
                    info.name: inputs[f"{name}/{signature}/{key}"]
                    for key, info in definition.inputs.items()
                }
                fetches = {key: info.name for key, info in definition.outputs.items()}
                for key, value in session.run(fetches, feed).items():
                    outputs[f"{name}/v1/{signature}/{key}"] = value

        shown = io.StringIO()
        with contextlib.redirect_stdout(shown):
            saved_model_cli._show_all(path)  # what `saved_model_cli show --all` prints
        report["models"][name] = {
            "ops": graph_ops(meta_graph_def),
            "signatures": sorted(loaded.signatures),
            "show_all": shown.getvalue(),
        }
    report["blocking_works"] = all(_import_fails(module) for module in BLOCKED)
    report["blocked_modules_loaded"] = sorted(
        module for module in sys.modules if module.split(".")[0] in BLOCKED
    )
    np.savez(os.path.join(work_dir, "outputs.npz"), **outputs)
    with open(os.path.join(work_dir, "report.json"), "w") as handle:
        json.dump(report, handle)


if __name__ == "__main__":
    run(sys.argv[1])
