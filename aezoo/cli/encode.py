"""``aezoo encode MODEL --data SOURCE --out codes.npy``: the codes of every row.

MODEL is a .keras file or a zoo name; the rows go in raw (the model scales
them itself). The codes are written as float32 (N, latent_dim) through a
temporary file; an existing file is kept unless ``--overwrite``.
"""

import os

from aezoo.cli.data import (add_model_command, check_features, check_new_file, load_model,
                            load_source)
from aezoo.files import write_atomic


def add_parser(commands):
    parser = add_model_command(commands, "encode", encode_command,
                               "write the codes of your data (.npy)", __doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, metavar="CODES.npy")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return parser


def encode_in_batches(model, data, batch_size):
    import numpy as np

    batches = data.batches(batch_size)
    return np.concatenate([np.asarray(model.encode(batch)) for batch in batches])


def encode_command(args):
    out = check_new_file(args.out, args.overwrite, (".npy",))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    import numpy as np

    model = load_model(args.model)
    data = load_source(args)
    data = check_features(model, data, args.model)
    codes = encode_in_batches(model, data, args.batch_size)
    write_atomic(out, lambda path: np.save(path, codes.astype("float32")))
    print(f"Wrote {args.out}: codes of shape {codes.shape} ({type(model).__name__}, "
          f"latent_dim {model.latent_dim})")
    return 0
