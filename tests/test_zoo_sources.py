"""Where the zoo's bytes come from: cache, mirrors, faults, offline use, release, export, CLI.

Everything runs against a loopback server (tests/zoo_server.py) serving a
release folder made here; nothing reaches the internet.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from aezoo import zoo
from aezoo.cli import main
from aezoo.errors import ZooDownloadError, ZooIntegrityError, ZooOfflineError
from aezoo.zoo import cache, resolver
from aezoo.zoo.registry import release_name
from aezoo.zoo.release import release
from variants import make_small
from zoo_server import ZooServer, dead_url

X = np.random.default_rng(0).uniform(size=(16, 20)).astype("float32")
RELATIVE = "blob/blob.bin"
BLOB = np.random.default_rng(1).bytes(300_000)
EXPECTED = {"sha256": hashlib.sha256(BLOB).hexdigest(), "bytes": len(BLOB)}
FLAT = release_name(RELATIVE, EXPECTED["sha256"])
TESTS = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def settings(monkeypatch, tmp_path):
    """A fresh cache per test, quick retries, short timeouts."""
    monkeypatch.setenv("AEZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AEZOO_DOWNLOAD_BACKOFF", "0.01")
    monkeypatch.setenv("AEZOO_READ_TIMEOUT", "2")
    monkeypatch.setenv("AEZOO_CONNECT_TIMEOUT", "2")
    return tmp_path / "cache"


@pytest.fixture
def blob_server(tmp_path, monkeypatch):
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / FLAT).write_bytes(BLOB)
    with ZooServer(folder) as server:
        monkeypatch.setenv("AEZOO_ZOO_URL", server.url)
        yield server


def _cache_listing(cache_dir):
    return sorted(f for f in os.listdir(cache_dir) if f != ".locks") \
        if os.path.isdir(cache_dir) else []


@pytest.fixture(scope="module")
def tiny_release(tmp_path_factory):
    """A published tiny model, its release folder, and a zoo folder holding only its card."""
    base = tmp_path_factory.mktemp("tiny-zoo")
    model = make_small("deep")
    zoo.publish(model, "tiny", None, [{"name": "squared_error", "value": 1.0}], 1.0,
                {"name": "synthetic"}, root=base / "zoo")
    release(base / "release", root=base / "zoo", registry_path=base / "registry.json",
            log=lambda line: None)
    cards = base / "cards"
    (cards / "tiny").mkdir(parents=True)
    shutil.copy(base / "zoo" / "tiny" / "card.json", cards / "tiny" / "card.json")
    return {"model": model, "zoo": base / "zoo", "release": base / "release", "cards": cards,
            "registry": base / "registry.json", "card": zoo.info("tiny", base / "zoo")}


# ------------------------------------------------------------- downloading
def test_first_load_downloads_and_the_second_makes_no_request(tiny_release, monkeypatch,
                                                              settings):
    with ZooServer(tiny_release["release"]) as server:
        monkeypatch.setenv("AEZOO_ZOO_URL", server.url)
        first = zoo.load("tiny", compile=False, root=tiny_release["cards"])
        assert server.count() == 1
        second = zoo.load("tiny", compile=False, root=tiny_release["cards"])
        assert server.count() == 1, "a cached, verified file is used without a request"
    np.testing.assert_array_equal(np.asarray(first.encode(X)),
                                  np.asarray(tiny_release["model"].encode(X)))
    np.testing.assert_array_equal(np.asarray(second.encode(X)), np.asarray(first.encode(X)))
    flat = release_name("tiny/tiny.keras", tiny_release["card"]["files"]["tiny/tiny.keras"]
                        ["sha256"])
    assert _cache_listing(settings) == [flat]
    assert not os.listdir(tiny_release["cards"] / "tiny") == [], "the card folder is untouched"
    assert os.listdir(tiny_release["cards"] / "tiny") == ["card.json"]


def test_offline_miss_names_url_sha_and_path_and_opens_no_socket(blob_server, monkeypatch,
                                                                 settings):
    monkeypatch.setenv("AEZOO_OFFLINE", "1")

    def no_socket(*args, **kwargs):
        raise AssertionError("a socket was opened while AEZOO_OFFLINE=1")

    monkeypatch.setattr(socket.socket, "connect", no_socket)
    monkeypatch.setattr(socket, "create_connection", no_socket)
    with pytest.raises(ZooOfflineError) as error:
        resolver.fetch(RELATIVE, EXPECTED)
    message = str(error.value)
    assert f"{blob_server.url}/{FLAT}" in message
    assert EXPECTED["sha256"] in message
    assert os.path.join(str(settings), FLAT) in message
    assert blob_server.count() == 0
    # The hand-downloaded file, put where the message says, is used offline.
    os.makedirs(settings, exist_ok=True)
    (settings / FLAT).write_bytes(BLOB)
    assert resolver.fetch(RELATIVE, EXPECTED) == str(settings / FLAT)


def test_wrong_bytes_fail_and_leave_nothing_behind(blob_server, settings):
    blob_server.fail(FLAT, *["corrupt"] * 4)
    with pytest.raises(ZooDownloadError, match="sha256 mismatch"):
        resolver.fetch(RELATIVE, EXPECTED)
    assert blob_server.count(FLAT) == 4  # the first try and 3 retries
    assert _cache_listing(settings) == [], "no partial, temporary or wrong file is left"


def test_truncated_body_is_retried_then_fails_cleanly(blob_server, settings):
    blob_server.fail(FLAT, *["truncate"] * 4)
    with pytest.raises(ZooDownloadError, match="4 attempts failed") as error:
        resolver.fetch(RELATIVE, EXPECTED)
    assert blob_server.url in str(error.value)
    assert blob_server.count(FLAT) == 4
    assert _cache_listing(settings) == []


def test_truncated_once_then_whole(blob_server, settings):
    blob_server.fail(FLAT, "truncate")
    assert resolver.fetch(RELATIVE, EXPECTED) == str(settings / FLAT)
    assert blob_server.count(FLAT) == 2


def test_two_server_errors_then_success(blob_server, settings):
    blob_server.fail(FLAT, "500", "500")
    path = resolver.fetch(RELATIVE, EXPECTED)
    assert open(path, "rb").read() == BLOB
    assert blob_server.count(FLAT) == 3


def test_not_found_is_one_request_naming_the_url(blob_server):
    blob_server.fail(FLAT, "404")
    with pytest.raises(ZooDownloadError, match=rf"{blob_server.url}/{FLAT}: HTTP 404"):
        resolver.fetch(RELATIVE, EXPECTED)
    assert blob_server.count(FLAT) == 1


def test_dead_first_mirror_falls_through_to_the_second(blob_server, monkeypatch, settings):
    monkeypatch.setenv("AEZOO_DOWNLOAD_RETRIES", "1")
    monkeypatch.setenv("AEZOO_ZOO_URL", f"{dead_url()} {blob_server.url}")
    assert resolver.fetch(RELATIVE, EXPECTED) == str(settings / FLAT)
    assert blob_server.count(FLAT) == 1


def test_a_404_on_one_mirror_tries_the_next(blob_server, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    with ZooServer(empty) as other:
        monkeypatch.setenv("AEZOO_ZOO_URL", f"{other.url} {blob_server.url}")
        resolver.fetch(RELATIVE, EXPECTED)
        assert (other.count(FLAT), blob_server.count(FLAT)) == (1, 1)


def test_file_url(tmp_path, monkeypatch, settings):
    folder = tmp_path / "mirror folder"  # a space: the URL is quoted
    folder.mkdir()
    (folder / FLAT).write_bytes(BLOB)
    monkeypatch.setenv("AEZOO_ZOO_URL", folder.as_uri())
    assert open(resolver.fetch(RELATIVE, EXPECTED), "rb").read() == BLOB
    (settings / FLAT).unlink()
    (folder / FLAT).write_bytes(BLOB[:-1])
    with pytest.raises(ZooDownloadError, match="short read"):
        resolver.fetch(RELATIVE, EXPECTED)


def test_hf_source_through_huggingface_hub(tmp_path, monkeypatch, settings):
    import types

    (tmp_path / FLAT).write_bytes(BLOB)
    calls = []

    def hf_hub_download(repo_id, filename, revision=None):
        calls.append((repo_id, filename, revision))
        return str(tmp_path / filename)

    monkeypatch.setitem(sys.modules, "huggingface_hub",
                        types.SimpleNamespace(hf_hub_download=hf_hub_download))
    monkeypatch.setenv("AEZOO_ZOO_URL", "hf://aezoo/zoo@v1")
    assert open(resolver.fetch(RELATIVE, EXPECTED), "rb").read() == BLOB
    assert calls == [("aezoo/zoo", FLAT, "v1")]


def test_flipped_byte_in_the_cache_is_fetched_again(blob_server, settings, capsys):
    path = resolver.fetch(RELATIVE, EXPECTED)
    data = bytearray(open(path, "rb").read())
    data[1000] ^= 0xFF
    open(path, "wb").write(bytes(data))
    assert resolver.fetch(RELATIVE, EXPECTED) == path
    assert open(path, "rb").read() == BLOB
    assert blob_server.count(FLAT) == 2
    assert "fetching it again" in capsys.readouterr().err


def test_three_processes_at_once_end_with_one_valid_file(blob_server, settings):
    blob_server.fail(FLAT, "slow", "slow", "slow")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); "
              "from aezoo.zoo import resolver; "
              f"print(resolver.fetch({RELATIVE!r}, {EXPECTED!r}))")
    env = {**os.environ, "AEZOO_ZOO_URL": blob_server.url}
    processes = [subprocess.Popen([sys.executable, "-c", script, os.path.dirname(TESTS)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(3)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], [err for _, err in outputs]
    assert {out.strip() for out, _ in outputs} == {str(settings / FLAT)}
    assert _cache_listing(settings) == [FLAT]
    assert open(settings / FLAT, "rb").read() == BLOB
    assert blob_server.count(FLAT) == 1, "the later processes waited for the first one's file"


def test_stalled_server_times_out(blob_server, monkeypatch, settings):
    monkeypatch.setenv("AEZOO_READ_TIMEOUT", "0.5")
    monkeypatch.setenv("AEZOO_DOWNLOAD_RETRIES", "1")
    blob_server.fail(FLAT, "stall", "stall")
    start = time.perf_counter()
    with pytest.raises(ZooDownloadError, match="(?i)timed? ?out"):
        resolver.fetch(RELATIVE, EXPECTED)
    assert time.perf_counter() - start < 4.0  # two 0.5 s timeouts, not the 5 s stall
    assert _cache_listing(settings) == []


def test_no_source_configured_says_how_to_configure_one(settings):
    with pytest.raises(ZooDownloadError, match="AEZOO_ZOO_URL"):
        resolver.fetch(RELATIVE, EXPECTED)


def test_bad_settings_are_named(blob_server, monkeypatch):
    monkeypatch.setenv("AEZOO_DOWNLOAD_RETRIES", "many")
    with pytest.raises(ZooDownloadError, match="AEZOO_DOWNLOAD_RETRIES"):
        resolver.fetch(RELATIVE, EXPECTED)


def test_a_bad_file_in_the_users_zoo_folder_is_reported_not_replaced(tiny_release, tmp_path,
                                                                     monkeypatch):
    folder = tmp_path / "zoo"
    shutil.copytree(tiny_release["zoo"], folder)
    keras_path = folder / "tiny" / "tiny.keras"
    keras_path.write_bytes(keras_path.read_bytes()[:-10])
    with ZooServer(tiny_release["release"]) as server:
        monkeypatch.setenv("AEZOO_ZOO_URL", server.url)
        with pytest.raises(ZooIntegrityError, match="tiny.keras: truncated"):
            zoo.load("tiny", root=folder)
        assert server.count() == 0
    assert keras_path.stat().st_size == tiny_release["card"]["files"]["tiny/tiny.keras"][
        "bytes"] - 10


# ---------------------------------------------------------------- release
def test_release_folder_is_flat_hash_named_and_the_registry_matches(tiny_release, tmp_path):
    card = tiny_release["card"]
    sha = card["files"]["tiny/tiny.keras"]["sha256"]
    assert os.listdir(tiny_release["release"]) == [f"tiny-{sha[:12]}.keras"]
    registry = json.loads(tiny_release["registry"].read_text())
    assert registry["models"] == {"tiny": card} and registry["schema"] == 1
    # Again into the same folder: kept, not rewritten; a clashing file stops it.
    lines = []
    outcome = release(tiny_release["release"], root=tiny_release["zoo"],
                      registry_path=tmp_path / "r.json", base_urls=["https://example.org/z"],
                      log=lines.append)
    assert outcome == {f"tiny-{sha[:12]}.keras": "kept"}
    assert json.loads((tmp_path / "r.json").read_text())["base_urls"] == ["https://example.org/z"]
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / f"tiny-{sha[:12]}.keras").write_bytes(b"someone else's file")
    assert main(["zoo", "release", str(clash), "--root", str(tiny_release["zoo"]),
                 "--registry", str(tmp_path / "r2.json")]) == 1
    assert (clash / f"tiny-{sha[:12]}.keras").read_bytes() == b"someone else's file"


def test_release_refuses_a_zoo_that_does_not_verify(tiny_release, tmp_path):
    folder = tmp_path / "zoo"
    shutil.copytree(tiny_release["zoo"], folder)
    with open(folder / "tiny" / "tiny.keras", "ab") as handle:
        handle.write(b"!")
    with pytest.raises(ZooIntegrityError, match="padded"):
        release(tmp_path / "out", root=folder, registry_path=tmp_path / "r.json",
                log=lambda line: None)
    assert not (tmp_path / "r.json").exists()


# -------------------------------------------------------------------- CLI
def test_cli_fetch_verify_cache_and_clear(tiny_release, monkeypatch, settings, capsys):
    cards = str(tiny_release["cards"])
    with ZooServer(tiny_release["release"]) as server:
        monkeypatch.setenv("AEZOO_ZOO_URL", server.url)
        assert main(["zoo", "verify", "--root", cards]) == 1  # the folder lacks the file
        assert main(["zoo", "fetch", "tiny", "--root", cards]) == 0
        out = capsys.readouterr().out
        assert "1 models verified" in out and str(settings) in out
        assert main(["zoo", "fetch", "--root", cards]) == 2  # neither names nor --all
    flat = os.listdir(settings)
    cached = next(settings / f for f in flat if f.endswith(".keras"))
    assert main(["zoo", "cache", "--root", cards]) == 0
    out = capsys.readouterr().out
    assert cached.name in out and " ok" in out and "1 files" in out
    data = bytearray(cached.read_bytes())
    data[50] ^= 0xFF
    cached.write_bytes(bytes(data))
    assert main(["zoo", "verify", "--root", cards]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  tiny/tiny.keras (cache: {cached})" in out and "sha256 mismatch" in out
    (settings / "notes.txt").write_text("the user's own file")
    assert main(["zoo", "cache", "--clear", "--root", cards]) == 0
    assert "Removed 1 files" in capsys.readouterr().out
    assert os.listdir(settings) == ["notes.txt"], "only aezoo's files are removed"


def test_cli_export_writes_the_serving_layout_matching_keras(tiny_release, tmp_path, capsys):
    import tensorflow as tf

    base = tmp_path / "serving"
    assert main(["zoo", "export", "tiny", "--root", str(tiny_release["zoo"]),
                 "--base-dir", str(base)]) == 0
    assert "largest difference" in capsys.readouterr().out
    assert (base / "models.config").is_file()
    loaded = tf.saved_model.load(str(base / "tiny" / "1")).signatures
    np.testing.assert_allclose(loaded["anomaly_score"](x=tf.constant(X))["score"],
                               tiny_release["model"].reconstruction_error(X), atol=1e-5)
    assert main(["zoo", "export", "tiny", "--root", str(tiny_release["zoo"]),
                 "--base-dir", str(base)]) == 1  # exists: --overwrite


def test_check_export_catches_a_different_model(tiny_release, tmp_path):
    from aezoo.export import export_saved_model
    from aezoo.zoo.serving import check_export

    other = make_small("deep", seed=7)
    version_dir = export_saved_model(other, str(tmp_path), "other", 1, warmup=False)
    with pytest.raises(zoo.ZooError, match="differs from the Keras model"):
        check_export(tiny_release["model"], version_dir)
    assert check_export(other, version_dir) <= 1e-5


def test_cache_location_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("AEZOO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == str(tmp_path / "xdg" / "aezoo")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == str(tmp_path / "home" / ".cache" / "aezoo")
