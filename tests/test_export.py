"""Tests for aezoo.export: SavedModels that TensorFlow Serving serves as they are.

Every variant (the VAE with both priors and both likelihoods, and a model
unrolled from RBMs) is exported once per session. One fresh Python process,
in which importing aezoo, pretrain or tensorflow_probability fails, loads
them all with ``tf.saved_model.load`` and with the graph-mode v1 loader and
runs every signature (tests/standalone_check.py); its outputs must match the
Keras models' within 1e-5 and its graphs hold no Python-bound op.
"""

import json
import os
import re
import stat
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from aezoo import export as aezoo_export
from aezoo.export import (
    FineTunableTFSMLayer,
    export_fine_tuned,
    export_saved_model,
    exported_models,
    fine_tunable_model,
    read_warmup_requests,
    signature_defs,
    write_models_config,
)
from aezoo.models import VARIANTS, VariationalAutoencoder
from aezoo.serving import SIGNATURE_INPUTS, predict_request, rest_predict_body
from helpers import assert_script_imports_no_tensorflow, finish, stop
from helpers import start as start_process
from pretrain import RBM, unroll
from variants import make_small

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
PY_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
ATOL = 1e-5
BATCH = 5


def _unrolled():
    """A tied DeepAutoencoder unrolled from a (randomly initialised) 20-12-6-3 RBM stack."""
    rbms = [RBM(12, seed=0), RBM(6, seed=1), RBM(3, hidden="linear", seed=2)]
    for rbm, n_visible in zip(rbms, (20, 12, 6)):
        rbm.build((None, n_visible))
    return unroll(rbms, tied=True, seed=3)


MODELS = {
    **{name: (lambda name=name: make_small(name)) for name in VARIANTS},
    "vae_mixture": lambda: make_small("vae", prior="mixture", prior_components=3),
    "vae_gaussian": lambda: make_small("vae", likelihood="gaussian"),
    "unrolled": _unrolled,
}


def expected_signatures(model):
    """{signature: ({input: shape}, {output: shape})} with -1 for the batch."""
    d, latent = model.input_dim, model.latent_dim
    x_to_x_hat = ({"x": (-1, d)}, {"x_hat": (-1, d)})
    table = {
        "serving_default": x_to_x_hat,
        "reconstruct": x_to_x_hat,
        "encode": ({"x": (-1, d)}, {"code": (-1, latent)}),
        "decode": ({"code": (-1, latent)}, {"x_hat": (-1, d)}),
        "anomaly_score": ({"x": (-1, d)}, {"score": (-1,)}),
    }
    if isinstance(model, VariationalAutoencoder):
        table["encode"][1]["stddev"] = (-1, latent)
        table["sample"] = ({"temperature": (-1,)}, {"x_hat": (-1, d), "code": (-1, latent)})
    return table


def make_inputs(model, rng):
    """{signature: {input: array}} for one model."""
    x = rng.uniform(size=(BATCH, model.input_dim)).astype("float32")
    code = rng.normal(size=(BATCH, model.latent_dim)).astype("float32")
    inputs = {
        "serving_default": {"x": x},
        "reconstruct": {"x": x},
        "encode": {"x": x},
        "decode": {"code": code},
        "anomaly_score": {"x": x},
    }
    if isinstance(model, VariationalAutoencoder):
        # Temperature 0 for the first rows (z = the prior's mean), then 1.
        inputs["sample"] = {"temperature": np.array([0, 0, 1, 1, 1, 1], "float32")}
    return inputs


def keras_outputs(model, signature, inputs):
    """What the Keras model computes for ``signature`` (not for "sample")."""
    if signature in ("serving_default", "reconstruct"):
        return {"x_hat": model(inputs["x"])}
    if signature == "encode":
        outputs = {"code": model.encode(inputs["x"])}
        if isinstance(model, VariationalAutoencoder):
            outputs["stddev"] = model.encode_stddev(inputs["x"])
        return outputs
    if signature == "decode":
        return {"x_hat": model.decode(inputs["code"])}
    if signature == "anomaly_score":
        return {"score": model.reconstruction_error(inputs["x"])}
    raise KeyError(signature)


def saved_model_ops(path):
    """Op types in a SavedModel's graph and function library, read from saved_model.pb."""
    from tensorflow.core.protobuf import saved_model_pb2

    with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
        (meta_graph,) = saved_model_pb2.SavedModel.FromString(handle.read()).meta_graphs
    library = meta_graph.graph_def.library
    ops = {node.op for node in meta_graph.graph_def.node}
    for function in library.function:
        ops.update(node.op for node in function.node_def)
    return ops - {function.signature.name for function in library.function}


def parse_show_all(text):
    """{signature: ({input: (dtype, shape)}, {output: (dtype, shape)})} from `show --all`."""
    result = {}
    blocks = re.split(r"\nsignature_def\['([^']+)'\]:\n", text)
    for name, block in zip(blocks[1::2], blocks[2::2]):
        if name.startswith("__"):  # __saved_model_init_op
            continue
        block = block.split("\nThe MetaGraph with tag set")[0]
        sides = re.split(r"contains the following output\(s\):", block)
        parsed = []
        for side in sides:
            entries = re.findall(
                r"\w+\['([^']+)'\] tensor_info:\s+dtype: (\w+)\s+shape: \(([^)]*)\)", side
            )
            parsed.append({
                key: (dtype, tuple(int(dim) for dim in shape.split(",") if dim.strip()))
                for key, dtype, shape in entries
            })
        result[name] = tuple(parsed)
    return result


# ------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def exports(exported_deep_and_vae):
    """{name: (model, version dir, inputs)} for every model, exported once.

    "deep" and "vae" are the session's exports (shared with test_serving.py);
    the others join them in the same base folder.
    """
    base = os.path.dirname(os.path.dirname(exported_deep_and_vae["deep"][1]))
    rng = np.random.default_rng(0)
    result = {}
    for name, build in MODELS.items():
        if name in exported_deep_and_vae:
            model, path = exported_deep_and_vae[name]
        else:
            model = build()
            path = export_saved_model(model, base, name)
        result[name] = (model, path, make_inputs(model, rng))
    return result


@pytest.fixture(scope="module")
def standalone(exports, tmp_path_factory):
    """Runs tests/standalone_check.py once over every export (and the real CLI once)."""
    work = tmp_path_factory.mktemp("standalone")
    manifest = {"models": {name: path for name, (_, path, _) in exports.items()}}
    (work / "manifest.json").write_text(json.dumps(manifest))
    np.savez(
        work / "inputs.npz",
        **{
            f"{name}/{signature}/{key}": value
            for name, (_, _, inputs) in exports.items()
            for signature, named in inputs.items()
            for key, value in named.items()
        },
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["CUDA_VISIBLE_DEVICES"] = ""
    start = time.perf_counter()
    # The two processes import TensorFlow side by side; both are killed if
    # they outlive their timeout or the check fails.
    cli = start_process(
        [SAVED_MODEL_CLI, "show", "--dir", exports["vae_mixture"][1], "--all"],
        env=env, cwd=work,
    )
    try:
        check = start_process(
            [sys.executable, os.path.join(TESTS_DIR, "standalone_check.py"), str(work)],
            env=env, cwd=work,
        )
        check_code, _, check_err = finish(check, timeout=300)
        cli_code, cli_out, cli_err = finish(cli, timeout=300)
    finally:
        stop(cli)  # when the check failed or timed out first
    assert check_code == 0, check_err[-3000:]
    assert cli_code == 0, cli_err[-3000:]
    report = json.loads((work / "report.json").read_text())
    report["cli_show_all"] = cli_out
    report["seconds"] = time.perf_counter() - start
    return report, dict(np.load(work / "outputs.npz"))


# ---------------------------------------------------------- signatures (CLI)
def test_saved_model_cli_lists_the_signatures(exports, standalone):
    report, _ = standalone
    for name, (model, _, _) in exports.items():
        shown = parse_show_all(report["models"][name]["show_all"])
        expected = expected_signatures(model)
        assert set(shown) == set(expected), name
        for signature, (inputs, outputs) in expected.items():
            got_inputs, got_outputs = shown[signature]
            float_inputs = {key: ("DT_FLOAT", shape) for key, shape in inputs.items()}
            float_outputs = {key: ("DT_FLOAT", shape) for key, shape in outputs.items()}
            assert (got_inputs, got_outputs) == (float_inputs, float_outputs), (name, signature)
    # The saved_model_cli executable itself prints the same for the VAE.
    cli = parse_show_all(report["cli_show_all"])
    assert cli == parse_show_all(report["models"]["vae_mixture"]["show_all"]) != {}
    assert "signature_def['sample']" in report["cli_show_all"]


def test_each_weight_is_stored_once(exports):
    # Keras' ExportArchive alone stores every variable twice (keras-team/keras#23553).
    for name, (model, path, _) in exports.items():
        stored = tf.train.list_variables(os.path.join(path, "variables", "variables"))
        values = sum(int(np.prod(shape)) for key, shape in stored
                     if key != "_CHECKPOINTABLE_OBJECT_GRAPH")
        weights = sum(int(np.prod(w.shape)) for w in model.weights)
        assert weights <= values <= weights + 16, name  # + a noise layer's seed state


def test_signature_defs_name_inputs_for_the_client(exports):
    for name, (model, path, inputs) in exports.items():
        defs = signature_defs(path)
        for signature, definition in defs.items():
            assert definition.method_name == "tensorflow/serving/predict"
            assert tuple(definition.inputs) == SIGNATURE_INPUTS[signature], (name, signature)
            # The bodies and requests the client builds use the same input names.
            body = rest_predict_body(inputs[signature][SIGNATURE_INPUTS[signature][0]], signature)
            assert set(body["inputs"]) == set(definition.inputs)
            rows = rest_predict_body(inputs[signature], signature, format="instances")
            assert all(set(row) == set(definition.inputs) for row in rows["instances"])
            request = predict_request(name, inputs[signature], signature)
            assert request.model_spec.signature_name == signature
            assert set(request.inputs) == set(definition.inputs)
            for key, tensor in request.inputs.items():
                assert tensor.dtype == definition.inputs[key].dtype == tf.float32.as_datatype_enum
                dims = [dim.size for dim in tensor.tensor_shape.dim]
                declared = [dim.size for dim in definition.inputs[key].tensor_shape.dim]
                assert declared[0] == -1 and dims[1:] == declared[1:]


# ------------------------------------------------- loading without aezoo
def test_fresh_process_without_aezoo_or_tfp_matches_keras(exports, standalone):
    report, outputs = standalone
    assert report["blocking_works"] and report["blocked_modules_loaded"] == []
    for name, (model, _, inputs) in exports.items():
        assert set(report["models"][name]["signatures"]) == set(expected_signatures(model))
        for loader in ("tf2", "v1"):
            for signature, named in inputs.items():
                if signature == "sample":
                    continue
                for key, value in keras_outputs(model, signature, named).items():
                    got = outputs[f"{name}/{loader}/{signature}/{key}"]
                    np.testing.assert_allclose(
                        got, np.asarray(value), atol=ATOL, rtol=ATOL,
                        err_msg=f"{name} {loader} {signature} {key}",
                    )


def test_sample_draws_from_the_prior_and_decodes(exports, standalone):
    _, outputs = standalone
    for name, (model, _, _) in exports.items():
        if not isinstance(model, VariationalAutoencoder):
            continue
        for loader in ("tf2", "v1"):
            code = outputs[f"{name}/{loader}/sample/code"]
            x_hat = outputs[f"{name}/{loader}/sample/x_hat"]
            assert code.shape == (6, model.latent_dim) and x_hat.shape == (6, model.input_dim)
            np.testing.assert_allclose(x_hat, model.decode(code), atol=ATOL, rtol=ATOL)
            if model.prior_name == "mixture":  # temperature 0: a component's mean
                locs = model.prior.locs.numpy()
                for row in code[:2]:
                    assert np.abs(locs - row).max(axis=1).min() < 1e-6
            else:
                assert np.all(code[:2] == 0.0)
            assert np.all(np.abs(code[2:]).std(axis=0) > 0)  # temperature 1: random


def test_graphs_hold_no_python_ops(exports, standalone):
    report, _ = standalone
    for name in exports:
        ops = set(report["models"][name]["ops"])
        assert {"MatMul", "CheckNumerics", "EnsureShape"} <= ops
        python_ops = {op for op in ops if op in PY_OPS or "PyFunc" in op or op.startswith("Py")}
        assert not python_ops, (name, python_ops)


def test_the_sample_graph_uses_plain_random_ops(standalone):
    ops = set(standalone[0]["models"]["vae_mixture"]["ops"])
    assert {"RandomStandardNormal", "Multinomial"} <= ops


# ------------------------------------------------------------ bad requests
def test_bad_requests_fail_at_the_signature(exports):
    model, path, _ = exports["deep"]
    signature = tf.saved_model.load(path).signatures["reconstruct"]
    good = np.zeros((2, model.input_dim), "float32")
    assert signature(x=tf.constant(good))["x_hat"].shape == (2, model.input_dim)
    # Shapes are checked by the graph's first op (EnsureShape), so TF Serving,
    # which does not hold feeds to placeholder shapes, rejects them there too.
    shape_error = r"Shape of tensor x \[2,19\] is not compatible with expected shape \[\?,20\]"
    with pytest.raises(tf.errors.InvalidArgumentError, match=shape_error):
        signature(x=tf.constant(np.zeros((2, model.input_dim - 1), "float32")))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible with expected"):
        signature(x=tf.constant(good[0]))  # rank 1
    for dtype in ("int32", "float64"):
        with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float tensor"):
            signature(x=tf.constant(np.zeros((2, model.input_dim), dtype)))
    with pytest.raises(TypeError):
        signature(y=tf.constant(good))  # wrong input name
    nan = good.copy()
    nan[1, 3] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="x contains NaN or inf"):
        signature(x=tf.constant(nan))
    decode = tf.saved_model.load(path).signatures["decode"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible with expected"):
        decode(code=tf.constant(good))

    # The graph-mode loader (TF Serving's path) rejects them too.
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
        definition = meta.signature_def["reconstruct"]
        x_name, out_name = definition.inputs["x"].name, definition.outputs["x_hat"].name
        assert session.run(out_name, {x_name: good}).shape == (2, model.input_dim)
        with pytest.raises(ValueError, match="Cannot feed value of shape"):
            session.run(out_name, {x_name: np.zeros((2, model.input_dim + 1), "float32")})
        with pytest.raises((TypeError, ValueError)):
            session.run(out_name, {x_name: np.full((2, model.input_dim), "a")})
        with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or inf"):
            session.run(out_name, {x_name: nan})


# --------------------------------------------------------- writing versions
def test_version_layout_permissions_and_no_temporary_folders(exports):
    _, path, _ = exports["deep"]
    model_dir = os.path.dirname(path)
    assert os.path.basename(path) == "1"
    assert os.listdir(model_dir) == ["1"]
    assert {"saved_model.pb", "variables", "assets.extra"} <= set(os.listdir(path))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o777 & ~umask  # not mkdtemp's 0700


def test_existing_version_is_kept_unless_overwrite(tmp_path):
    first = make_small("deep")
    path = export_saved_model(first, tmp_path, "m", 3, warmup=False)
    second = make_small("deep", seed=7)
    with pytest.raises(FileExistsError, match="overwrite"):
        export_saved_model(second, tmp_path, "m", 3)
    x = np.full((1, 20), 0.5, "float32")
    reload = lambda: tf.saved_model.load(path).signatures["reconstruct"](x=x)["x_hat"]  # noqa: E731
    np.testing.assert_allclose(reload(), first(x), atol=ATOL)
    export_saved_model(second, tmp_path, "m", 3, overwrite=True, warmup=False)
    np.testing.assert_allclose(reload(), second(x), atol=ATOL)
    assert os.listdir(tmp_path / "m") == ["3"]


def test_a_failed_export_leaves_no_version(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(aezoo_export, "write_warmup_requests", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(make_small("linear"), tmp_path, "m", 1)
    assert os.listdir(tmp_path / "m") == []
    assert exported_models(tmp_path) == {}


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(name="a/b"), ValueError),
        (dict(name=""), ValueError),
        (dict(name="m", version=0), ValueError),
        (dict(name="m", version=1.5), ValueError),
        (dict(name="m", version=True), ValueError),
    ],
)
def test_export_rejects_bad_names_and_versions(tmp_path, kwargs, error):
    with pytest.raises(error):
        export_saved_model(make_small("linear"), tmp_path, **kwargs)
    assert not os.path.exists(tmp_path / "a")


def test_export_rejects_other_models(tmp_path):
    inputs = keras.Input((3,))
    with pytest.raises(TypeError, match="aezoo Autoencoder"):
        export_saved_model(keras.Model(inputs, keras.layers.Dense(2)(inputs)), tmp_path, "m")


# --------------------------------------------------- models.config, warm-up
def test_models_config_parses_with_tf_serving_protos(exports, tmp_path):
    base = os.path.dirname(os.path.dirname(exports["deep"][1]))
    out = tmp_path / "models.config"
    write_models_config(base, path=out)
    config = text_format.Parse(out.read_text(), model_server_config_pb2.ModelServerConfig())
    entries = config.model_config_list.config
    assert sorted(entry.name for entry in entries) == sorted(MODELS)
    for entry in entries:
        assert entry.base_path == f"/models/{entry.name}"
        assert entry.model_platform == "tensorflow"
        assert not entry.HasField("model_version_policy")

    local = write_models_config(base, path=tmp_path / "local.config", base_path=None,
                                all_versions=True)
    config = text_format.Parse(open(local).read(), model_server_config_pb2.ModelServerConfig())
    for entry in config.model_config_list.config:
        assert entry.base_path == os.path.join(os.path.abspath(base), entry.name)
        assert entry.model_version_policy.HasField("all")
    with pytest.raises(FileNotFoundError, match="no exported models"):
        write_models_config(tmp_path / "empty")


def test_deploy_files_agree_with_the_export_layout():
    deploy = os.path.join(os.path.dirname(TESTS_DIR), "deploy")
    with open(os.path.join(deploy, "models.config")) as handle:
        config = text_format.Parse(handle.read(), model_server_config_pb2.ModelServerConfig())
    assert [entry.base_path for entry in config.model_config_list.config] == [
        f"{aezoo_export.CONTAINER_BASE_PATH}/deep", f"{aezoo_export.CONTAINER_BASE_PATH}/vae"
    ]
    with open(os.path.join(deploy, "docker-compose.yml")) as handle:
        compose = handle.read()
    assert f"../saved_models/serving:{aezoo_export.CONTAINER_BASE_PATH}:ro" in compose
    config_file = f"{aezoo_export.CONTAINER_BASE_PATH}/{aezoo_export.CONFIG_FILE}"
    assert f"--model_config_file={config_file}" in compose
    assert "image: tensorflow/serving:" in compose


def test_warmup_requests_cover_every_signature_and_run(exports):
    model, path, _ = exports["vae"]
    requests = read_warmup_requests(path)
    defs = signature_defs(path)
    assert sorted(request.model_spec.signature_name for request in requests) == sorted(defs)
    loaded = tf.saved_model.load(path)
    for request in requests:
        assert request.model_spec.name == "vae"
        definition = defs[request.model_spec.signature_name]
        assert set(request.inputs) == set(definition.inputs)
        feed = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
        outputs = loaded.signatures[request.model_spec.signature_name](**feed)
        assert set(outputs) == set(definition.outputs)


# ------------------------------------------------------------------- CLI
def test_cli_exports_a_keras_file(tmp_path, capsys):
    # Through the real entry point, as `aezoo export ...` runs it.
    from aezoo.cli import main

    model = make_small("ksparse")
    model.save(tmp_path / "model.keras")
    base = tmp_path / "saved_models"
    argv = ["export", str(tmp_path / "model.keras"), "--base-dir", str(base),
            "--name", "ks", "--version", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Exported KSparseAutoencoder" in out and "models.config" in out
    assert exported_models(base) == {"ks": [2]}
    x = np.random.default_rng(1).uniform(size=(3, 20)).astype("float32")
    loaded = tf.saved_model.load(str(base / "ks" / "2"))
    np.testing.assert_allclose(loaded.signatures["encode"](x=x)["code"], model.encode(x),
                               atol=ATOL)
    # Usage errors exit 2 with a message and no traceback, and leave the export as it is.
    inputs = keras.Input((3,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(tmp_path / "plain.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip file")
    for bad, message in [
        (argv, "--overwrite"),
        ([*argv[:1], str(tmp_path / "model.h5"), *argv[2:]], ".keras file"),
        ([*argv[:1], str(tmp_path / "missing.keras"), *argv[2:]], "does not exist"),
        ([*argv[:5], "a b"], "--name"),
        ([*argv[:1], str(tmp_path / "plain.keras"), *argv[2:5], "plain"], "not an aezoo"),
        ([*argv[:1], str(tmp_path / "junk.keras"), *argv[2:5], "junk"], "cannot load"),
    ]:
        assert main(bad) == 2, bad
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (bad, err)
    assert exported_models(base) == {"ks": [2]}


def test_export_parser_does_not_import_tensorflow():
    script = (
        "import argparse\n"
        "from aezoo.cli.export import add_parser as add_export_parser\n"
        "parser = argparse.ArgumentParser()\n"
        "add_export_parser(parser.add_subparsers())\n"
        "args = parser.parse_args(['export', 'm.keras', '--name', 'deep', '--version', '3'])\n"
        "assert (args.name, args.version, args.base_dir) == ('deep', 3, 'saved_models/serving')\n"
    )
    assert_script_imports_no_tensorflow(script)


# ------------------------------------------------------------ fine-tuning
def _binary_data(rows=64):
    return (np.random.default_rng(2).uniform(size=(rows, 20)) < 0.4).astype("float32")


def test_stock_tfsmlayer_adam_failure_is_what_the_fix_addresses(exports):
    """Keras 3.15: TFSMLayer weights keep ':0', so Adam cannot name its slots."""
    layer = keras.layers.TFSMLayer(exports["linear"][1], call_endpoint="reconstruct")
    assert any(weight.name.endswith(":0") for weight in layer.weights)
    inputs = keras.Input((20,))
    model = keras.Model(inputs, layer(inputs)["x_hat"])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    x = _binary_data(8)
    try:
        model.fit(x, x, epochs=1, verbose=0)
    except ValueError as error:
        assert ":0" in str(error)
    else:
        pytest.skip("Keras now trains stock TFSMLayers with Adam; the subclass is optional")


def test_fine_tune_an_export_with_adam_and_export_again(exports, tmp_path):
    model, path, _ = exports["unrolled"]
    x = _binary_data()
    tuned = fine_tunable_model(path)
    layer = tuned.layers[-1]
    assert isinstance(layer, FineTunableTFSMLayer)
    assert all(":" not in weight.name for weight in layer.weights)
    assert len(layer.trainable_weights) == len(model.trainable_weights)
    tuned.compile(keras.optimizers.Adam(1e-2), "binary_crossentropy")
    before = tuned.evaluate(x, x, verbose=0)
    np.testing.assert_allclose(tuned(x), model(x), atol=ATOL)
    tuned.fit(x, x, epochs=10, batch_size=32, verbose=0)
    assert tuned.evaluate(x, x, verbose=0) < before
    # Every endpoint shares the fine-tuned variables; a new version carries them.
    version_dir = export_fine_tuned(tuned, tmp_path, "unrolled", 2)
    assert {"saved_model.pb", "assets.extra"} <= set(os.listdir(version_dir))
    assert set(signature_defs(version_dir)) == set(signature_defs(path))
    assert not set(saved_model_ops(version_dir)) & PY_OPS
    reloaded = tf.saved_model.load(version_dir)
    np.testing.assert_allclose(
        reloaded.signatures["reconstruct"](x=x)["x_hat"], tuned(x), atol=ATOL
    )
    assert not np.allclose(reloaded.signatures["encode"](x=x)["code"], model.encode(x),
                           atol=1e-3)
    with pytest.raises(TypeError, match="fine_tunable_model"):
        export_fine_tuned(model, tmp_path, "unrolled", 3)
