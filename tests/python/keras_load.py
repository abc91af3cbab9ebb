#!/usr/bin/python3
"""Checks an mpitrain checkpoint the way Keras 2 would load it, against `mpitrain predict`'s output.

Usage: keras_load.py CHECKPOINT INPUT OUTPUT_CSV

CHECKPOINT  an .h5 file written by mpitrain.
INPUT       the samples given to `mpitrain predict`: an IDX images file (gzipped or plain, magic 0x00000803)
            or, if the name ends with .csv, a CSV of features (a header line is skipped; a column named
            `label`, or else a first column beyond the model's inputs, is the label and is dropped).
OUTPUT_CSV  the predictions `mpitrain predict` wrote: row,predicted_class,prob_0..prob_{K-1}.

The weights are read exactly as Keras 2's `load_weights_from_hdf5_group` reads them: f.attrs['layer_names'],
then for each layer g = f[name], g.attrs['weight_names'] and g[weight_name]. The forward pass follows the
layers of /mpitrain's `model_spec` JSON (format 2: `dense` takes the next weighted layer's kernel and bias,
`activation` applies its function, `dropout` is the identity (inference), `batch_norm` takes the next
weighted layer's gamma, beta, moving_mean and moving_variance, Keras's order, and computes
(x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta per channel, the last axis), or for a
format-1 file the MLP of its attributes (Dense, the attribute `activation` between layers, none after the
last); then softmax, in float64, on inputs scaled as
/mpitrain/scaler says: x' = (x - shift) / scale. Passes when every probability is within 1e-5 of
the C++ one and the predicted classes agree (a class may differ only at an exact tie, |p_a - p_b| <= 1e-6).
Exit status: 0 pass, 1 mismatch, 2 bad usage or unreadable input. Needs only numpy and h5py.
"""

import csv
import gzip
import json
import struct
import sys

import h5py
import numpy as np

TOLERANCE = 1e-5
TIE = 1e-6
MISSING = {"", "NA", "NaN", "nan", "null", "NULL"}


def text(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def load_keras_weights(f):
    """[(layer name, [weight, ...]), ...] in layer order, read like Keras 2's load_weights_from_hdf5_group."""
    layers = []
    for name in [text(n) for n in f.attrs["layer_names"]]:
        g = f[name]
        weight_names = [text(w) for w in g.attrs["weight_names"]]
        layers.append((name, [np.asarray(g[w]).astype(np.float64) for w in weight_names]))
    return layers


def take(layers, kind, count):
    """The weights of the next weighted layer, which must hold `count` of them."""
    if not layers:
        raise ValueError(f"the model spec has more weighted layers than the file ({kind})")
    name, weights = layers.pop(0)
    if len(weights) != count:
        raise ValueError(f"layer {name} ({kind}): expected {count} weights, got {len(weights)}")
    return weights


def read_idx_images(path):
    with open(path, "rb") as raw:
        data = raw.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 0x00000803:
        raise ValueError(f"{path}: bad IDX images magic 0x{magic:08x}")
    pixels = np.frombuffer(data, dtype=np.uint8, count=count * rows * cols, offset=16)
    return pixels.reshape(count, rows * cols).astype(np.float64)


def read_csv_features(path, inputs):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        records = [r for r in csv.reader(handle) if r]
    label = None
    try:
        [float(v) for v in records[0] if v not in MISSING]
    except ValueError:  # a header
        names = [v.strip() for v in records[0]]
        label = names.index("label") if "label" in names else None
        records = records[1:]
    x = np.array([[0.0 if v in MISSING else float(v) for v in r] for r in records], dtype=np.float64)
    if label is None and x.shape[1] == inputs + 1:
        label = 0
    if label is not None:
        x = np.delete(x, label, axis=1)
    return x


def activation(name):
    return {
        "relu": lambda z: np.maximum(z, 0.0),
        "tanh": np.tanh,
        "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    }[name]


def dense_step(kernel, bias):
    return lambda h: h @ kernel + bias


def batch_norm_step(shape, gamma, beta, mean, variance, epsilon):
    """Inference batch normalization of a flat batch whose samples have `shape` (channels last)."""
    def step(h):
        x = h.reshape((h.shape[0],) + tuple(shape))
        return ((x - mean) / np.sqrt(variance + epsilon) * gamma + beta).reshape(h.shape[0], -1)
    return step


def model_steps(own, layers):
    """The forward pass as a list of functions of the batch, from the model spec (format 2) or the format-1
    attributes, and the input features per sample."""
    layers = list(layers)
    if "model_spec" not in own.attrs:  # format 1: Dense, activation between, none after the last
        act = activation(text(own.attrs["activation"]))
        inputs = layers[0][1][0].shape[0]
        steps = []
        while layers:
            steps.append(dense_step(*take(layers, "dense", 2)))
            if layers:
                steps.append(act)
        return steps, inputs
    spec = json.loads(text(own.attrs["model_spec"]))
    shape = list(spec["input_shape"])
    steps = []
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "dense":
            kernel, bias = take(layers, kind, 2)
            steps.append(dense_step(kernel, bias))
            shape = [kernel.shape[1]]
        elif kind == "activation":
            steps.append(activation(layer["activation"]))
        elif kind == "dropout":
            pass  # the identity at inference
        elif kind == "batch_norm":
            steps.append(batch_norm_step(shape, *take(layers, kind, 4), layer["epsilon"]))
        else:
            raise ValueError(f"layer type {kind} is not known to keras_load.py")
    if layers:
        raise ValueError(f"{len(layers)} weighted layers are not in the model spec")
    return steps, int(np.prod(spec["input_shape"]))


def forward(steps, x):
    h = x
    for step in steps:
        h = step(h)
    h = h - h.max(axis=1, keepdims=True)
    e = np.exp(h)
    return e / e.sum(axis=1, keepdims=True)


def read_predictions(path):
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [r for r in reader if r]
    if header[:2] != ["row", "predicted_class"] or not all(h.startswith("prob_") for h in header[2:]):
        raise ValueError(f"{path}: unexpected header {header}")
    table = np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
    table = table[np.argsort(table[:, 0], kind="stable")]
    if len(np.unique(table[:, 0])) != len(table):
        raise ValueError(f"{path}: repeated row numbers")
    return table[:, 1].astype(np.int64), table[:, 2:]


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    checkpoint, input_path, predictions = argv[1:]
    try:
        with h5py.File(checkpoint, "r") as f:
            layers = load_keras_weights(f)
            own = f["mpitrain"]
            steps, inputs = model_steps(own, layers)
            method = text(own["scaler"].attrs["method"])
            shift = np.asarray(own["scaler/shift"], dtype=np.float64)
            scale = np.asarray(own["scaler/scale"], dtype=np.float64)
        if input_path.endswith(".csv"):
            x = read_csv_features(input_path, inputs)
        else:
            x = read_idx_images(input_path)
        cpp_class, cpp_prob = read_predictions(predictions)
    except (OSError, KeyError, ValueError, struct.error) as error:
        print(f"keras_load.py: {error}", file=sys.stderr)
        return 2

    if x.shape[1] != inputs:
        print(f"FAIL: {input_path} has {x.shape[1]} features, the checkpoint's model needs {inputs}")
        return 1
    if method != "none" and shift.size:
        x = (x - shift) / scale
    prob = forward(steps, x)
    if cpp_prob.shape != prob.shape:
        print(f"FAIL: {predictions} holds {cpp_prob.shape} probabilities, numpy computed {prob.shape}")
        return 1

    max_diff = float(np.max(np.abs(prob - cpp_prob))) if prob.size else 0.0
    np_class = prob.argmax(axis=1)
    differing = np.nonzero(np_class != cpp_class)[0]
    # A differing class is acceptable only at a genuine tie between the two classes' probabilities.
    real = [i for i in differing if prob[i, np_class[i]] - prob[i, cpp_class[i]] > TIE]
    print(f"{len(prob)} samples, {prob.shape[1]} classes, scaler {method}: "
          f"max |prob difference| = {max_diff:.3g}, differing classes = {len(real)}")
    if max_diff > TOLERANCE:
        worst = np.unravel_index(np.argmax(np.abs(prob - cpp_prob)), prob.shape)
        print(f"FAIL: max |prob difference| {max_diff:.3g} > {TOLERANCE} (sample {worst[0]}, class {worst[1]}: "
              f"numpy {prob[worst]:.8f}, mpitrain {cpp_prob[worst]:.8f})")
        return 1
    if real:
        i = real[0]
        print(f"FAIL: {len(real)} predicted classes differ, first at sample {i}: "
              f"numpy {np_class[i]}, mpitrain {cpp_class[i]}")
        return 1
    print("PASS: Keras-style load reproduces mpitrain's predictions")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
