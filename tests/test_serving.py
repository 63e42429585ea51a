"""Tests for aezoo.serving, the TensorFlow Serving client, against stand-in servers.

TensorFlow Serving cannot be installed here, so two small stand-ins answer on
127.0.0.1 the way it does, running the real exported SavedModels:

* a REST server (http.server in a thread): ``/v1/models/NAME[/versions/N]``
  status, ``/metadata`` and ``:predict`` with the row ("instances") and
  columnar ("inputs") formats, unnamed single outputs and ``{"error": ...}``
  bodies with TF Serving's messages and status codes;
* a gRPC server with tensorflow-serving-api's PredictionService servicer
  (Predict and GetModelMetadata).
"""

import json
import re
import socket
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from aezoo.export import export_saved_model, signature_defs
from aezoo.models import VariationalAutoencoder
from aezoo.serving import (
    GrpcClient,
    RestClient,
    ServingConnectionError,
    ServingError,
    UnknownSignatureError,
    parse_predict_response,
    predict_request,
    rest_predict_body,
)
from helpers import assert_script_imports_no_tensorflow
from variants import make_small

ATOL = 1e-5


# ------------------------------------------------------------ stand-in servers
class Models:
    """The exported models the stand-ins serve: {name: {version: path}}."""

    def __init__(self, versions):
        self.versions = versions
        self._loaded = {}
        self._lock = threading.Lock()

    def resolve(self, name, version=None):
        """(version, loaded SavedModel, path), or None if not served."""
        versions = self.versions.get(name, {})
        if version is None and versions:
            version = max(versions)
        if version not in versions:
            return None
        path = versions[version]
        with self._lock:
            if path not in self._loaded:
                self._loaded[path] = tf.saved_model.load(path)
        return version, self._loaded[path], path


def _servable(name, version):
    return f"Latest({name})" if version is None else f"Specific({name}, {version})"


def _signature_not_found(signature):
    return f'Serving signature name: "{signature}" not found in signature def'


def run_signature(loaded, signature, inputs):
    """Runs a signature as TF Serving would; returns (outputs, error message)."""
    if signature not in loaded.signatures:
        return None, _signature_not_found(signature)
    function = loaded.signatures[signature]
    specs = function.structured_input_signature[1]
    unknown = sorted(set(inputs) - set(specs))
    if unknown:
        return None, (f"input tensor alias not found in signature: {unknown[0]}. Inputs "
                      f"expected to be in the set {{{','.join(sorted(specs))}}}.")
    missing = sorted(set(specs) - set(inputs))
    if missing:
        return None, f"Missing required inputs: {', '.join(missing)}"
    try:
        outputs = function(**{key: tf.constant(value) for key, value in inputs.items()})
    except (tf.errors.InvalidArgumentError, TypeError, ValueError) as error:
        return None, getattr(error, "message", str(error))
    return {key: value.numpy() for key, value in outputs.items()}, None


class RestHandler(BaseHTTPRequestHandler):
    models = None  # set on the server's handler class
    PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?(/metadata|:predict)?$")

    def log_message(self, *args):  # keep the test output quiet
        pass

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method):
        match = self.PATH.match(self.path)
        if not match or (method == "POST") != (match.group(3) == ":predict"):
            self._send(404, {"error": "Malformed request: " + f"{method} {self.path}"})
            return None
        name, version, action = match.group(1), match.group(2), match.group(3)
        version = None if version is None else int(version)
        served = self.models.resolve(name, version)
        if served is None:
            message = f"Servable not found for request: {_servable(name, version)}"
            self._send(404, {"error": message})
            return None
        return name, action, served

    def do_GET(self):
        route = self._route("GET")
        if route is None:
            return
        name, action, (version, _, path) = route
        if action is None:
            self._send(200, {"model_version_status": [{
                "version": str(version), "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }]})
            return
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, definition in signature_defs(path).items():
            signature_map.signature_def[key].CopyFrom(definition)
        self._send(200, {
            "model_spec": {"name": name, "signature_name": "", "version": str(version)},
            "metadata": {"signature_def": json_format.MessageToDict(
                signature_map, preserving_proto_field_name=True)},
        })

    def do_POST(self):
        route = self._route("POST")
        if route is None:
            return
        _, _, (_, loaded, _) = route
        try:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        except ValueError as error:
            self._send(400, {"error": f"JSON Parse error: {error}"})
            return
        signature = body.get("signature_name", "serving_default")
        if ("instances" in body) == ("inputs" in body):
            message = "JSON Value: must have exactly one of 'instances' or 'inputs'"
            self._send(400, {"error": message})
            return
        if signature not in loaded.signatures:
            self._send(400, {"error": _signature_not_found(signature)})
            return
        names = list(loaded.signatures[signature].structured_input_signature[1])
        row_format = "instances" in body
        if row_format:
            rows = body["instances"]
            named = bool(rows) and isinstance(rows[0], dict)
            raw = {k: [row[k] for row in rows] for k in rows[0]} if named else {names[0]: rows}
        else:
            value = body["inputs"]
            raw = value if isinstance(value, dict) else {names[0]: value}
        try:
            inputs = {key: np.asarray(value, dtype=np.float32) for key, value in raw.items()}
        except (TypeError, ValueError) as error:
            self._send(400, {"error": f"Failed to process element: {error}"})
            return
        outputs, error = run_signature(loaded, signature, inputs)
        if error:
            self._send(400, {"error": error})
            return
        if row_format:
            if len(outputs) == 1:
                payload = {"predictions": next(iter(outputs.values())).tolist()}
            else:
                batch = len(next(iter(outputs.values())))
                payload = {"predictions": [
                    {key: value[row].tolist() for key, value in outputs.items()}
                    for row in range(batch)
                ]}
        elif len(outputs) == 1:
            payload = {"outputs": next(iter(outputs.values())).tolist()}
        else:
            payload = {"outputs": {key: value.tolist() for key, value in outputs.items()}}
        self._send(200, payload)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, models):
        self.models = models
        self.requests = []

    def _served(self, model_spec, context):
        version = model_spec.version.value if model_spec.HasField("version") else None
        served = self.models.resolve(model_spec.name, version)
        if served is None:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"Servable not found for request: {_servable(model_spec.name, version)}")
        return served

    def Predict(self, request, context):
        self.requests.append(request)
        version, loaded, _ = self._served(request.model_spec, context)
        signature = request.model_spec.signature_name or "serving_default"
        if signature not in loaded.signatures:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, _signature_not_found(signature))
        inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
        outputs, error = run_signature(loaded, signature, inputs)
        if error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, error)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.signature_name = signature
        response.model_spec.version.value = version
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):
        version, _, path = self._served(request.model_spec, context)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, definition in signature_defs(path).items():
            signature_map.signature_def[key].CopyFrom(definition)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.metadata["signature_def"].Pack(signature_map)
        return response


# ------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def served(exported_deep_and_vae, tmp_path_factory):
    """{name: keras model} exported (version 1: the session's exports) and served by both."""
    models = {name: model for name, (model, _) in exported_deep_and_vae.items()}
    versions = {name: {1: path} for name, (_, path) in exported_deep_and_vae.items()}
    # A second version of "deep" with other weights: the server serves the latest.
    # (In a folder of its own: the session's base folder is shared.)
    base = tmp_path_factory.mktemp("saved_models_v2")
    models["deep_v1"] = models["deep"]
    models["deep"] = make_small("deep", seed=5)
    versions["deep"][2] = export_saved_model(models["deep"], base, "deep", 2, warmup=False)
    return models, Models(versions)


@pytest.fixture(scope="module")
def rest_url(served):
    handler = type("Handler", (RestHandler,), {"models": served[1]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def grpc_server(served):
    service = PredictionService(served[1])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", service
    server.stop(grace=None)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _x(rows=4, dim=20, seed=0):
    return np.random.default_rng(seed).uniform(size=(rows, dim)).astype("float32")


def _check_client(client, model):
    x = _x()
    code = np.random.default_rng(1).normal(size=(4, model.latent_dim)).astype("float32")
    np.testing.assert_allclose(client.reconstruct(x), model(x), atol=ATOL)
    np.testing.assert_allclose(client.predict(x)["x_hat"], model(x), atol=ATOL)
    np.testing.assert_allclose(client.decode(code), model.decode(code), atol=ATOL)
    np.testing.assert_allclose(client.anomaly_score(x), model.reconstruction_error(x), atol=ATOL)
    encoded = client.encode(x)
    if isinstance(model, VariationalAutoencoder):
        np.testing.assert_allclose(encoded["code"], model.encode(x), atol=ATOL)
        np.testing.assert_allclose(encoded["stddev"], model.encode_stddev(x), atol=ATOL)
        samples = client.sample(3, temperature=[0.0, 1.0, 1.0])
        assert samples["x_hat"].shape == (3, 20) and samples["code"].shape == (3, 8)
        np.testing.assert_array_equal(samples["code"][0], 0.0)
        np.testing.assert_allclose(samples["x_hat"], model.decode(samples["code"]), atol=ATOL)
    else:
        np.testing.assert_allclose(encoded, model.encode(x), atol=ATOL)
        assert encoded.dtype == np.float32


# ------------------------------------------------------------------------ REST
@pytest.mark.parametrize("format", ["inputs", "instances"])
@pytest.mark.parametrize("name", ["deep", "vae"])
def test_rest_client_matches_keras(served, rest_url, name, format):
    with RestClient(name, url=rest_url, format=format) as client:
        _check_client(client, served[0][name])


def test_rest_client_picks_versions(served, rest_url):
    models, _ = served
    x = _x()
    np.testing.assert_allclose(RestClient("deep", url=rest_url, version=1).reconstruct(x),
                               models["deep_v1"](x), atol=ATOL)
    client = RestClient("deep", url=rest_url, version=2)
    assert client.model_url == f"{rest_url}/v1/models/deep/versions/2"
    np.testing.assert_allclose(client.reconstruct(x), models["deep"](x), atol=ATOL)
    status = RestClient("deep", url=rest_url).status()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"


def test_rest_metadata_lists_the_signatures(rest_url):
    signatures = RestClient("vae", url=rest_url).signatures()
    assert set(signatures) == {"serving_default", "reconstruct", "encode", "decode",
                               "anomaly_score", "sample"}
    assert signatures["encode"] == {
        "inputs": {"x": ("DT_FLOAT", (-1, 20))},
        "outputs": {"code": ("DT_FLOAT", (-1, 8)), "stddev": ("DT_FLOAT", (-1, 8))},
    }
    assert signatures["sample"]["inputs"] == {"temperature": ("DT_FLOAT", (-1,))}


def test_rest_errors_are_clear(rest_url):
    client = RestClient("deep", url=rest_url)
    with pytest.raises(UnknownSignatureError, match="has no signature 'sample'") as info:
        client.predict(_x(), "sample")
    assert "reconstruct" in info.value.available and "sample" not in info.value.available
    with pytest.raises(UnknownSignatureError):
        client.predict({"x": _x()}, "nope")
    with pytest.raises(ServingError, match="not compatible with expected shape"):
        client.reconstruct(_x(dim=19))
    with pytest.raises(ServingError, match="Failed to process element"):
        client.predict({"x": np.full((2, 20), "a")}, "reconstruct")
    with pytest.raises(ServingError, match="input tensor alias not found"):
        client.predict({"code": _x()}, "reconstruct")
    with pytest.raises(ServingError, match="NaN or inf"):
        client.reconstruct(np.full((1, 20), np.nan, "float32"))
    with pytest.raises(ServingError, match=r"Servable not found .*Latest\(missing\)"):
        RestClient("missing", url=rest_url).reconstruct(_x())


def test_unreachable_rest_server_names_the_url():
    url = f"http://127.0.0.1:{_free_port()}"
    client = RestClient("deep", url=url, timeout=5)
    with pytest.raises(ConnectionError, match=re.escape(f"{url}/v1/models/deep:predict")) as info:
        client.reconstruct(_x())
    assert isinstance(info.value, ServingConnectionError)
    with pytest.raises(ServingConnectionError, match="cannot reach TensorFlow Serving"):
        client.status()


# ------------------------------------------------------------------------ gRPC
@pytest.mark.parametrize("name", ["deep", "vae"])
def test_grpc_client_matches_keras(served, grpc_server, name):
    target, service = grpc_server
    with GrpcClient(name, target=target) as client:
        _check_client(client, served[0][name])
    request = service.requests[-1]
    assert request.model_spec.name == name


def test_grpc_requests_match_the_signatures(served, grpc_server):
    target, service = grpc_server
    with GrpcClient("vae", target=target, version=1) as client:
        signatures = client.signatures()
        for signature, definition in signatures.items():
            if signature == "sample":
                client.sample(2)
            elif signature == "decode":
                client.decode(np.zeros((2, 8)))  # float64 goes out as float32
            else:
                client.predict(_x(2), signature)
            request = service.requests[-1]
            assert request.model_spec.signature_name == signature
            assert request.model_spec.version.value == 1
            assert set(request.inputs) == set(definition["inputs"])
            for key, tensor in request.inputs.items():
                dtype, shape = definition["inputs"][key]
                assert tf.dtypes.as_dtype(tensor.dtype).name == "float32" and dtype == "DT_FLOAT"
                assert [d.size for d in tensor.tensor_shape.dim] == [2, *shape[1:]]


def test_grpc_errors_are_clear(grpc_server):
    target, _ = grpc_server
    with GrpcClient("deep", target=target) as client:
        with pytest.raises(UnknownSignatureError, match="has no signature 'sample'"):
            client.sample(2)
        with pytest.raises(ServingError, match="not compatible with expected shape"):
            client.reconstruct(_x(dim=21))
    # The client sends float32; an int64 tensor from another client fails at the signature.
    request = predict_request("deep", {"x": np.zeros((2, 20), np.int64)}, "custom")
    request.model_spec.signature_name = "reconstruct"
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError, match="expected to be a float tensor"):
            stub.Predict(request, timeout=10)
    with pytest.raises(ServingError, match="NOT_FOUND: Servable not found"):
        GrpcClient("missing", target=target).reconstruct(_x())


def test_unreachable_grpc_server_names_the_target():
    target = f"127.0.0.1:{_free_port()}"
    with pytest.raises(ConnectionError, match=re.escape(target)):
        GrpcClient("deep", target=target, timeout=5).reconstruct(_x())


# ------------------------------------------------------ bodies and responses
def test_rest_bodies():
    x = np.arange(6, dtype=np.int64).reshape(2, 3)
    assert rest_predict_body(x, "encode") == {
        "signature_name": "encode", "inputs": {"x": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]},
    }
    assert rest_predict_body({"x": x}, "reconstruct", format="instances") == {
        "signature_name": "reconstruct",
        "instances": [{"x": [0.0, 1.0, 2.0]}, {"x": [3.0, 4.0, 5.0]}],
    }
    body = rest_predict_body(np.ones(3, np.float32), "sample", format="instances")
    assert body["instances"] == [{"temperature": 1.0}] * 3
    with pytest.raises(ValueError, match="dict"):
        rest_predict_body(x, "custom")
    with pytest.raises(ValueError, match="first dimension"):
        rest_predict_body({"a": x, "b": x[:1]}, "custom", format="instances")
    with pytest.raises(ValueError, match="format"):
        rest_predict_body(x, "encode", format="rows")


def test_responses():
    assert parse_predict_response({"predictions": [[1, 2]]}, "x_hat")["x_hat"].shape == (1, 2)
    rows = parse_predict_response({"predictions": [{"a": [1.5], "b": 2}, {"a": [2.5], "b": 3}]})
    np.testing.assert_array_equal(rows["a"], [[1.5], [2.5]])
    assert rows["a"].dtype == np.float32 and rows["b"].tolist() == [2, 3]
    columns = parse_predict_response({"outputs": {"score": [0.5, 1.5]}})
    assert columns["score"].dtype == np.float32
    assert parse_predict_response({"outputs": [0.25]}, "score")["score"].tolist() == [0.25]
    with pytest.raises(ServingError, match="unexpected response"):
        parse_predict_response({"result": []})


def test_grpc_request_builder():
    request = predict_request("m", np.zeros((3, 4)), "encode", version=7)
    assert (request.model_spec.name, request.model_spec.version.value) == ("m", 7)
    assert tf.make_ndarray(request.inputs["x"]).dtype == np.float32
    custom = predict_request("m", {"ids": np.arange(3)}, "custom")
    assert tf.make_ndarray(custom.inputs["ids"]).dtype == np.int64  # left as it is


def test_serving_module_does_not_import_tensorflow():
    script = (
        "import aezoo.serving as s\n"
        "s.rest_predict_body([[1.0]], 'reconstruct')\n"
        "s.RestClient('deep')\n"
    )
    assert_script_imports_no_tensorflow(script)
