"""Reading mpitrain checkpoints and run directories in the end-to-end tests (tests/scripts/*.sh).

The scripts' common.sh puts this folder on PYTHONPATH, so a test's Python writes `import ckpt`.
The parameters are read as Keras 2's `load_weights_from_hdf5_group` reads them, independently of the C++
reader: f.attrs['layer_names'], then for each layer g = f[name], g.attrs['weight_names'] and g[weight_name].
Needs only numpy and h5py.
"""

import json
import zlib

import h5py
import numpy as np


def flat_parameters(path):
    """All parameters of the checkpoint at `path` as one float32 vector: the layers in `layer_names` order,
    each layer's weights in `weight_names` order, each weight flattened row-major (the C++ registry's order)."""
    with h5py.File(path, "r") as f:
        names = [n.decode() for n in f.attrs["layer_names"]]
        return np.concatenate([np.asarray(f[n][w.decode()]).ravel()
                               for n in names for w in f[n].attrs["weight_names"]]).astype(np.float32)


def summary(run_dir):
    """The run's summary.json as a dict."""
    with open(f"{run_dir}/summary.json") as f:
        return json.load(f)


def final_parameters(run_dir):
    """flat_parameters of the checkpoint that the run's summary.json names (its last one)."""
    return flat_parameters(f"{run_dir}/{summary(run_dir)['checkpoint']}")


def crc32_hex(flat):
    """zlib's crc32 of the float32 bytes of `flat` as 8 lower-case hex digits: summary.json's param_checksum."""
    return "%08x" % zlib.crc32(np.asarray(flat, dtype=np.float32).tobytes())
