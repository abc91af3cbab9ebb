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


# The weights that are buffers (saved, neither trained nor reduced): a batch norm's moving statistics.
BUFFER_SUFFIXES = ("/moving_mean:0", "/moving_variance:0")


def _flat(path, buffers):
    with h5py.File(path, "r") as f:
        names = [n.decode() for n in f.attrs["layer_names"]]
        weights = [np.asarray(f[n][w.decode()]).ravel() for n in names for w in f[n].attrs["weight_names"]
                   if w.decode().endswith(BUFFER_SUFFIXES) == buffers]
    return np.concatenate(weights).astype(np.float32) if weights else np.zeros(0, np.float32)


def flat_parameters(path):
    """All parameters of the checkpoint at `path` as one float32 vector: the layers in `layer_names` order,
    each layer's weights in `weight_names` order but the buffers, each weight flattened row-major (the C++
    registry's order)."""
    return _flat(path, buffers=False)


def flat_buffers(path):
    """The buffers (BUFFER_SUFFIXES) of the checkpoint at `path` in the same order, as one float32 vector:
    the C++ buffer registry's order; empty for a model without any."""
    return _flat(path, buffers=True)


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


def checked_final_tensors(run_dir, steps, global_batch, world_size):
    """(parameters, buffers) of the last checkpoint of a finished run, after checking that its summary.json
    says `steps` steps of `global_batch` samples on `world_size` ranks, that the parameters' crc32 is its
    param_checksum and the buffers' the checkpoint's /mpitrain buffer_crc32, and that the parameters are not
    all zero."""
    s = summary(run_dir)
    assert (s["steps"], s["global_batch_size"], s["world_size"]) == (steps, global_batch, world_size), (run_dir, s)
    path = f"{run_dir}/{s['checkpoint']}"
    params, buffers = flat_parameters(path), flat_buffers(path)
    assert crc32_hex(params) == s["param_checksum"], (run_dir, crc32_hex(params), s["param_checksum"])
    with h5py.File(path, "r") as f:
        assert "%08x" % int(f["mpitrain"].attrs["buffer_crc32"]) == crc32_hex(buffers), (run_dir, "buffer crc32")
    assert np.any(params != 0), run_dir
    return params, buffers


def relative_difference(reference, other):
    """max |other - reference| / max |reference| (0 for two empty vectors)."""
    if reference.size == 0 and other.size == 0:
        return 0.0
    return float(np.abs(other - reference).max() / np.abs(reference).max())
