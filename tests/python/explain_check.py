#!/usr/bin/python3
"""Checks `mpitrain explain --method gradient_x_input`'s attributions.h5 against numpy.

Usage: explain_check.py CHECKPOINT IMAGES ATTRIBUTIONS_H5

CHECKPOINT      the MLP explained (dense and activation layers; weights read as Keras reads them, with
                keras_load.py's reader).
IMAGES          the IDX images file explained (its first N samples, N the rows of the file).
ATTRIBUTIONS_H5 explain's output, run with the default target (the predicted class) and target output
                (the softmax probability).

Checks the layout shap.Explanation needs (values and data shaped (N, 28, 28, 1) like the images,
base_values (N,), feature_names (784,)), that data are the images scaled as the checkpoint's scaler says,
that predictions are the arg-max of a float64 forward pass and the targets equal them, and that values =
x * d p_c / d x with the gradient from a float64 backward pass written here (softmax: d p_c / d z =
p_c (e_c - p); dense: dh = dz W^T; activations' derivatives), within 1e-6 + 1e-3 |value|.
Exit status: 0 pass, 1 mismatch, 2 bad usage. Needs numpy and h5py.
"""

import json
import sys

import h5py
import numpy as np

from keras_load import load_keras_weights, read_idx_images, text

DERIVATIVES = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(np.float64)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda z, a: a * (1.0 - a)),
}


def mlp_layers(f):
    """[("dense", kernel, bias) | ("activation", name)] from the model spec and the stored weights."""
    spec = json.loads(text(f["mpitrain"].attrs["model_spec"]))
    stored = [w for _, w in load_keras_weights(f) if w]
    layers = []
    for layer in spec["layers"]:
        if layer["type"] == "dense":
            kernel, bias = stored.pop(0)
            layers.append(("dense", kernel, bias))
        elif layer["type"] == "activation":
            layers.append(("activation", layer["activation"]))
        else:
            raise ValueError(f"explain_check.py handles MLPs only, not {layer['type']}")
    return layers


def probability_gradient(layers, x):
    """Softmax probabilities (N, K), and d p_c / d x (N, F) for c the arg-max, in float64."""
    saved = []
    h = x
    for layer in layers:
        if layer[0] == "dense":
            saved.append(h)
            h = h @ layer[1] + layer[2]
        else:
            z = h
            h = DERIVATIVES[layer[1]][0](z)
            saved.append((z, h))
    p = np.exp(h - h.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    c = p.argmax(axis=1)
    pc = p[np.arange(len(p)), c]
    onehot = np.zeros_like(p)
    onehot[np.arange(len(p)), c] = 1.0
    d = pc[:, None] * (onehot - p)
    for layer, keep in zip(reversed(layers), reversed(saved)):
        if layer[0] == "dense":
            d = d @ layer[1].T
        else:
            z, a = keep
            d = d * DERIVATIVES[layer[1]][1](z, a)
    return p, d


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    checkpoint, images, attributions = argv[1:]
    with h5py.File(checkpoint, "r") as f:
        layers = mlp_layers(f)
        shift = np.asarray(f["mpitrain/scaler/shift"], dtype=np.float64)
        scale = np.asarray(f["mpitrain/scaler/scale"], dtype=np.float64)
    with h5py.File(attributions, "r") as a:
        values = np.asarray(a["values"], dtype=np.float64)
        data = np.asarray(a["data"], dtype=np.float64)
        base_values = np.asarray(a["base_values"])
        names = [text(n) for n in a["feature_names"]]
        predictions = np.asarray(a["predictions"])
        targets = np.asarray(a["targets"])
        method = text(a.attrs["method"])
    n = len(values)
    failures = []
    if method != "gradient_x_input":
        failures.append(f"method {method}, expected gradient_x_input")
    if values.shape != (n, 28, 28, 1) or data.shape != values.shape or base_values.shape != (n,):
        failures.append(f"shapes: values {values.shape}, data {data.shape}, base_values {base_values.shape}")
    if len(names) != 784 or names[0] != "pixel_0_0" or names[29] != "pixel_1_1":
        failures.append(f"feature_names: {len(names)}, {names[:2]}")
    pixels = read_idx_images(images)[:n]
    x = (pixels - shift) / scale
    if np.abs(data.reshape(n, -1) - x).max() > 1e-6:
        failures.append(f"data differ from the scaled images by {np.abs(data.reshape(n, -1) - x).max()}")
    p, grad = probability_gradient(layers, x)
    if (p.argmax(axis=1) != predictions).any() or (targets != predictions).any():
        failures.append(f"predictions differ in {(p.argmax(axis=1) != predictions).sum()} samples")
    expected = x * grad
    error = np.abs(values.reshape(n, -1) - expected) - 1e-3 * np.abs(expected)
    if error.max() > 1e-6:
        failures.append(f"values differ from x * grad by up to {error.max()} beyond 1e-3 relative")
    if failures:
        print("explain_check.py: " + "; ".join(failures), file=sys.stderr)
        return 1
    print(f"{n} samples: values = x * d p_c / d x (max |value| {np.abs(expected).max():.3g}), layout for shap")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
