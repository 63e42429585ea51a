"""First and second ``zoo.load`` of a zoo model through a loopback release server.

    python benchmarks/zoo_download.py [--model mnist-hinton-30] [--rounds 3]

Writes the release folder with ``aezoo.zoo.release`` (as ``aezoo zoo release``
does), serves it on 127.0.0.1 with Python's http.server, and in each round,
with a fresh cache, times:

- the first load: download (streamed, size and sha256 checked, atomic rename)
  plus building the Keras model;
- the second load: the cached file, checked again, plus building the model;
- the peer: the same load straight from the checkout's saved_models/.

The zoo folder the loads see holds only the model's card, so its bytes come
from the server as they do for an installed wheel. TensorFlow is imported
before any timing.
"""

import argparse
import functools
import http.server
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def _serve(folder):
    handler = functools.partial(_QuietHandler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="mnist-hinton-30")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # noqa: F401  (imported before any timing)

    from aezoo import zoo
    from aezoo.zoo.release import release

    source = os.path.join(REPO, "saved_models")
    work = tempfile.mkdtemp(prefix="aezoo-zoo-download-")
    try:
        release_dir = os.path.join(work, "release")
        release(release_dir, root=source, registry_path=os.path.join(work, "registry.json"),
                log=lambda line: None)
        cards = os.path.join(work, "cards", args.model)
        os.makedirs(cards)
        shutil.copy(os.path.join(source, args.model, "card.json"), cards)
        card = zoo.info(args.model, source)
        size = card["files"][card["keras_file"]]["bytes"]
        server = _serve(release_dir)
        os.environ["AEZOO_ZOO_URL"] = f"http://127.0.0.1:{server.server_address[1]}"
        zoo.load(args.model, compile=False, root=source)  # warm Keras' first model build

        first, second, peer = [], [], []
        for round_number in range(1, args.rounds + 1):
            os.environ["AEZOO_CACHE"] = os.path.join(work, f"cache-{round_number}")
            for times, root in ((first, os.path.dirname(cards)), (second, os.path.dirname(cards)),
                                (peer, source)):
                start = time.perf_counter()
                zoo.load(args.model, compile=False, root=root)
                times.append(time.perf_counter() - start)
            print(f"round {round_number}: first load {first[-1]:.3f} s, second {second[-1]:.3f} s, "
                  f"from saved_models/ {peer[-1]:.3f} s", flush=True)
        server.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    f, s, p = (statistics.median(t) for t in (first, second, peer))
    print(f"{args.model}: {size:,} bytes, median of {args.rounds} rounds, loopback HTTP:")
    print(f"first zoo.load (download + check + build): {f:.3f} s ({size / f / 1e6:.1f} MB/s "
          "end to end)")
    print(f"second zoo.load (cache + check + build):   {s:.3f} s")
    print(f"load from the checkout's saved_models/:     {p:.3f} s")
    print(f"ratio second/peer: {s / p:.2f}; first/second: {f / s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
