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
layers of /mpitrain's `model_spec` JSON (format 2), each layer with weights taking the next stored layer,
whose name must be the one Keras gives it (`dense`, `conv2d_1`, ...: load_weights(by_name=True) works):
`dense` (kernel, bias), `activation`, and on channels-last images (N, H, W, C), the input reshaped to the
spec's input_shape, `conv2d` (kernel (kh, kw, C_in, C_out), bias if use_bias, optional activation),
`max_pool2d`, `avg_pool2d` (Keras's valid and same: ceil(H / s) outputs, total padding split with total // 2
before; padding cells take no part in a max or an average), `global_avg_pool2d` and `flatten` (row-major,
channels last), `dropout` (the identity at inference), `batch_norm` (gamma, beta, moving_mean,
moving_variance, Keras's order: (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta over the
last axis), written with numpy alone (sliding_window_view). For a format-1 file the MLP of its
attributes (Dense, the attribute `activation` between layers, none after the last). Then softmax, in
float64, on inputs scaled as /mpitrain/scaler says: x' = (x - shift) / scale. Passes when every probability is within 1e-5 of
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
    """[(layer name, [weights...]), ...] in layer order, read like Keras 2's load_weights_from_hdf5_group."""
    layers = []
    for name in [text(n) for n in f.attrs["layer_names"]]:
        g = f[name]
        weight_names = [text(w) for w in g.attrs["weight_names"]]
        layers.append((name, [np.asarray(g[w]).astype(np.float64) for w in weight_names]))
    return layers


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


KERAS_NAMES = {"max_pool2d": "max_pooling2d", "avg_pool2d": "average_pooling2d",
               "global_avg_pool2d": "global_average_pooling2d", "batch_norm": "batch_normalization"}


def window(size, stride, extent, padding):
    """Keras's output size and padding (before, after) of a window along one axis."""
    if padding == "valid":
        return (extent - size) // stride + 1, (0, 0)
    out = -(-extent // stride)
    total = max((out - 1) * stride + size - extent, 0)
    return out, (total // 2, total - total // 2)


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def windows(h, size, strides, padding, fill):
    """The (N, Ho, Wo, C, kh, kw) windows of h (N, H, W, C), padded with `fill` as Keras pads."""
    (kh, kw), (sh, sw) = size, strides
    out_h, pad_h = window(kh, sh, h.shape[1], padding)
    out_w, pad_w = window(kw, sw, h.shape[2], padding)
    padded = np.pad(h, ((0, 0), pad_h, pad_w, (0, 0)), constant_values=fill)
    view = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))
    return view[:, : (out_h - 1) * sh + 1 : sh, : (out_w - 1) * sw + 1 : sw]


def conv2d(layer, weights):
    kernel, bias = weights[0], (weights[1] if layer.get("use_bias", True) else 0.0)
    size, strides = pair(layer["kernel_size"]), pair(layer.get("strides", 1))
    act = activation(layer["activation"]) if "activation" in layer else (lambda z: z)

    def step(h):
        patches = windows(h, size, strides, layer.get("padding", "valid"), 0.0)  # (N, Ho, Wo, C, kh, kw)
        return act(np.tensordot(patches, kernel, axes=([4, 5, 3], [0, 1, 2])) + bias)
    return step


def pool2d(layer):
    size = pair(layer.get("pool_size", 2))
    strides, padding = pair(layer.get("strides", size)), layer.get("padding", "valid")
    if layer["type"] == "max_pool2d":
        return lambda h: windows(h, size, strides, padding, -np.inf).max(axis=(4, 5))
    # Average over the cells inside the input: the sum of zero-padded values over the count of real cells.
    return lambda h: (windows(h, size, strides, padding, 0.0).sum(axis=(4, 5)) /
                      windows(np.ones_like(h), size, strides, padding, 0.0).sum(axis=(4, 5)))


def model_steps(own, layers):
    """The forward pass as a list of functions of the batch, from the model spec (format 2) or the format-1
    attributes, and the per-sample input shape."""
    if "model_spec" not in own.attrs:  # format 1: Dense, activation between, none after the last
        act = activation(text(own.attrs["activation"]))
        steps = []
        for i, (_, w) in enumerate(layers):
            steps.append(lambda h, k=w[0], b=w[1]: h @ k + b)
            if i + 1 < len(layers):
                steps.append(act)
        return steps, (layers[0][1][0].shape[0],)
    spec = json.loads(text(own.attrs["model_spec"]))
    stored = list(layers)
    counts = {}
    steps = []
    for layer in spec["layers"]:
        kind = layer["type"]
        prefix = KERAS_NAMES.get(kind, kind)
        name = prefix if prefix not in counts else f"{prefix}_{counts[prefix]}"
        counts[prefix] = counts.get(prefix, 0) + 1
        if kind in ("dense", "conv2d", "batch_norm"):
            if not stored or stored[0][0] != name:
                raise ValueError(f"layer {name} ({kind}) is not the next stored layer: "
                                 f"{stored[0][0] if stored else 'none left'}")
            weights = stored.pop(0)[1]
        if kind == "dense":
            steps.append(lambda h, k=weights[0], b=weights[1]: h @ k + b)
        elif kind == "conv2d":
            steps.append(conv2d(layer, weights))
        elif kind == "activation":
            steps.append(activation(layer["activation"]))
        elif kind in ("max_pool2d", "avg_pool2d"):
            steps.append(pool2d(layer))
        elif kind == "global_avg_pool2d":
            steps.append(lambda h: h.mean(axis=(1, 2)))
        elif kind == "dropout":
            pass  # the identity at inference
        elif kind == "batch_norm":
            gamma, beta, mean, variance = weights
            steps.append(lambda h, g=gamma, b=beta, m=mean, v=variance, e=layer["epsilon"]:
                         (h - m) / np.sqrt(v + e) * g + b)
        elif kind == "flatten":
            steps.append(lambda h: h.reshape(len(h), -1))
        else:
            raise ValueError(f"layer type {kind} is not known to keras_load.py")
    if stored:
        raise ValueError(f"{len(stored)} weighted layers are not in the model spec")
    return steps, tuple(spec["input_shape"])


def forward(steps, input_shape, x, chunk=500):
    """Softmax of the logits, computed `chunk` samples at a time (the windows of a convolution are large)."""
    out = []
    for begin in range(0, len(x), chunk):
        h = x[begin : begin + chunk].reshape((-1,) + input_shape)
        for step in steps:
            h = step(h)
        h = h - h.max(axis=1, keepdims=True)
        e = np.exp(h)
        out.append(e / e.sum(axis=1, keepdims=True))
    return np.concatenate(out) if out else np.zeros((0, 0))


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
            steps, input_shape = model_steps(own, layers)
            method = text(own["scaler"].attrs["method"])
            shift = np.asarray(own["scaler/shift"], dtype=np.float64)
            scale = np.asarray(own["scaler/scale"], dtype=np.float64)
        inputs = int(np.prod(input_shape))
        if input_path.endswith(".csv"):
            x = read_csv_features(input_path, inputs)
        else:
            x = read_idx_images(input_path)
        cpp_class, cpp_prob = read_predictions(predictions)
    except (OSError, KeyError, ValueError, struct.error) as error:
        print(f"keras_load.py: {error}", file=sys.stderr)
        return 2

    if x.shape[1] != inputs:
        print(f"FAIL: {input_path} has {x.shape[1]} features, the checkpoint's input shape {input_shape} needs {inputs}")
        return 1
    if method != "none" and shift.size:
        x = (x - shift) / scale
    prob = forward(steps, input_shape, x)
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
