#!/usr/bin/python3
"""The PyTorch logit match of issue 12: mpitrain's GPT checkpoints load into an independent PyTorch model.

usage: gpt_logits.py LM_CHECKPOINT    (the tests/interop/lm_checkpoint helper; CTest's interop_gpt_logits)

For each model spec below, lm_checkpoint writes a checkpoint with random weights (GPT-2's initialisation,
every tensor then multiplied by 5 so that the logits and the attention are far from uniform) and the logits
mpitrain computes from it, read back, for a fixed byte sequence. This script reads the tensors from the HDF5
file by their names alone (h5py, as Keras's load_weights does: layer_names, then each layer's weight_names),
builds the same network in PyTorch, written here in the GPT-2 layout (nn.Linear weight = kernel transposed;
nn.LayerNorm weight = gamma, bias = beta; nn.Embedding weight = wte, wpe as they are), runs the same bytes in
float64 and asserts max |logit difference| <= 1e-4. Every tensor of the file must be used.

- gpt: embedding, 2 transformer_blocks, final layer_norm `ln_f`, tied_output; T = 16, C = 32, 4 heads.
- stack: the block-free layers one by one (embedding, layer_norm, dense 3C, causal_self_attention, dense C,
  gelu, layer_norm, tied_output), which the blocks are made of.
Exits 77 (CTest: skipped) when this Python has no torch.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("SKIP: no torch in " + sys.executable)
    sys.exit(77)
import h5py
import numpy as np

TEXT = b"In the beginning"  # 16 bytes: T
TOLERANCE = 1e-4

SPECS = {
    "gpt": {"input_shape": [16], "layers": [
        {"type": "embedding", "vocabulary": 256, "dim": 32},
        {"type": "transformer_block", "heads": 4}, {"type": "transformer_block", "heads": 4},
        {"type": "layer_norm", "name": "ln_f"}, {"type": "tied_output", "vocabulary": 256}]},
    "stack": {"input_shape": [16], "layers": [
        {"type": "embedding", "vocabulary": 256, "dim": 32}, {"type": "layer_norm"},
        {"type": "dense", "units": 96}, {"type": "causal_self_attention", "heads": 4},
        {"type": "dense", "units": 32}, {"type": "activation", "activation": "gelu"}, {"type": "layer_norm"},
        {"type": "tied_output", "vocabulary": 256}]},
}


def read_tensors(path):
    """{tensor name: float64 array} of every weight in the checkpoint, and its layer names in order."""
    with h5py.File(path, "r") as f:
        layers = [n.decode() for n in f.attrs["layer_names"]]
        tensors = {w.decode(): np.asarray(f[n][w.decode()], dtype=np.float64)
                   for n in layers for w in f[n].attrs["weight_names"]}
    return tensors, layers


def causal_attention(qkv, heads):
    """GPT-2's attention on the fused q|k|v of shape (T, 3C): heads of C / H channels, causal mask."""
    t, c3 = qkv.shape
    c = c3 // 3
    q, k, v = (z.view(t, heads, c // heads).transpose(0, 1) for z in qkv.split(c, dim=1))
    att = q @ k.transpose(-2, -1) / math.sqrt(c // heads)
    att = att.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
    return (att @ v).transpose(0, 1).reshape(t, c)


class Attention(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.c_attn, self.c_proj = nn.Linear(c, 3 * c), nn.Linear(c, c)

    def forward(self, x):
        return self.c_proj(causal_attention(self.c_attn(x), self.heads))


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc, self.c_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.ln_1, self.attn, self.ln_2, self.mlp = nn.LayerNorm(c), Attention(c, heads), nn.LayerNorm(c), Mlp(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT-2's GPT2LMHeadModel in miniature, with Hugging Face's parameter names (wte, wpe, h.N..., ln_f)."""

    def __init__(self, layers, heads, c, t):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(256, c), nn.Embedding(t, c)
        self.h = nn.ModuleList(Block(c, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[0]))
        for block in self.h:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.t()


def gpt_state_dict(tensors, layers):
    """The GPT's state dict from mpitrain's tensor names: Linear weight = kernel transposed."""
    sd = {"wte.weight": tensors["embedding/wte:0"], "wpe.weight": tensors["embedding/wpe:0"],
          "ln_f.weight": tensors["ln_f/gamma:0"], "ln_f.bias": tensors["ln_f/beta:0"]}
    for n in range(layers):
        for ln in ("ln_1", "ln_2"):
            sd[f"h.{n}.{ln}.weight"] = tensors[f"h.{n}.{ln}/gamma:0"]
            sd[f"h.{n}.{ln}.bias"] = tensors[f"h.{n}.{ln}/beta:0"]
        for linear in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
            sd[f"h.{n}.{linear}.weight"] = tensors[f"h.{n}.{linear}/kernel:0"].T
            sd[f"h.{n}.{linear}.bias"] = tensors[f"h.{n}.{linear}/bias:0"]
    return sd


def gpt_logits(spec, tensors, layers, ids):
    blocks = [l for l in spec["layers"] if l["type"] == "transformer_block"]
    c, t = tensors["embedding/wte:0"].shape[1], spec["input_shape"][0]
    model = GPT(len(blocks), blocks[0]["heads"], c, t).double()
    sd = gpt_state_dict(tensors, len(blocks))
    assert set(sd) == set(model.state_dict()), set(sd) ^ set(model.state_dict())
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()})
    used = {"embedding/wte:0", "embedding/wpe:0", "ln_f/gamma:0", "ln_f/beta:0"} | {
        f"h.{n}.{name}" for n in range(len(blocks)) for name in (
            "ln_1/gamma:0", "ln_1/beta:0", "ln_2/gamma:0", "ln_2/beta:0", "attn.c_attn/kernel:0",
            "attn.c_attn/bias:0", "attn.c_proj/kernel:0", "attn.c_proj/bias:0", "mlp.c_fc/kernel:0",
            "mlp.c_fc/bias:0", "mlp.c_proj/kernel:0", "mlp.c_proj/bias:0")}
    assert used == set(tensors), set(tensors) ^ used
    assert layers == ["embedding"] + [f"h.{n}" for n in range(len(blocks))] + ["ln_f"], layers
    with torch.no_grad():
        return model(ids).numpy()


def stack_logits(spec, tensors, layers, ids):
    """The block-free spec, layer by layer in torch.nn.functional; the layers with tensors take, in order,
    the checkpoint's layer_names."""
    names = iter(layers)
    t_of = lambda name, what: torch.from_numpy(tensors[f"{name}/{what}:0"])
    used = set()
    x = None
    wte = None
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind in ("embedding", "layer_norm", "dense"):
            name = next(names)
            used |= {w for w in tensors if w.startswith(name + "/")}
        if kind == "embedding":
            wte = t_of(name, "wte")
            x = F.embedding(ids, wte) + t_of(name, "wpe")[: ids.shape[0]]
        elif kind == "layer_norm":
            x = F.layer_norm(x, x.shape[-1:], t_of(name, "gamma"), t_of(name, "beta"), eps=1e-5)
        elif kind == "dense":
            x = F.linear(x, t_of(name, "kernel").T, t_of(name, "bias"))
        elif kind == "causal_self_attention":
            x = causal_attention(x, layer["heads"])
        elif kind == "activation":
            assert layer["activation"] == "gelu"
            x = F.gelu(x, approximate="tanh")
        elif kind == "tied_output":
            x = x @ wte.T
        else:
            raise ValueError(kind)
    assert used == set(tensors), set(tensors) ^ used
    return x.numpy()


def main():
    tool = sys.argv[1]
    failed = False
    with tempfile.TemporaryDirectory() as work:
        for kind, spec in SPECS.items():
            spec_path, ckpt, out = (os.path.join(work, f"{kind}{ext}") for ext in (".json", ".h5", "_logits.h5"))
            with open(spec_path, "w") as f:
                json.dump(spec, f)
            subprocess.run([tool, "--spec", spec_path, "--output", ckpt, "--seed", "12", "--scale", "5",
                            "--logits-of", TEXT.decode(), "--logits", out], check=True)
            with h5py.File(out, "r") as f:
                ids, theirs = f["ids"][()], f["logits"][()].astype(np.float64)
            assert bytes(ids.astype(np.uint8)) == TEXT, ids
            tensors, layers = read_tensors(ckpt)
            with h5py.File(ckpt, "r") as f:
                assert json.loads(f["mpitrain"].attrs["model_spec"]) is not None
            ours = (gpt_logits if kind == "gpt" else stack_logits)(spec, tensors, layers, torch.from_numpy(ids.astype(np.int64)))
            assert ours.shape == theirs.shape == (16, 256), (ours.shape, theirs.shape)
            diff = np.abs(ours - theirs).max()
            spread = theirs.std()
            print(f"{kind}: max |logit difference| {diff:.3g} (logits' standard deviation {spread:.3g}, "
                  f"{len(tensors)} tensors)")
            assert spread > 0.5, "logits nearly uniform: the comparison would prove little"
            if not diff <= TOLERANCE:
                print(f"FAIL: {kind}: max |logit difference| {diff} > {TOLERANCE}")
                failed = True
    if failed:
        sys.exit(1)
    print("PASS: mpitrain's logits equal an independent PyTorch GPT-2-layout model's within", TOLERANCE)


if __name__ == "__main__":
    main()
