#!/usr/bin/python3
"""Checks that runs at several world sizes trained the same parameters.

Usage: world_size_params.py WORK STEPS GLOBAL_BATCH NP...

Each run is in WORK/np<N> (its summary.json and final checkpoint). For each: the summary reports STEPS steps,
world size N and GLOBAL_BATCH; param_checksum is the crc32 of the saved parameters (ckpt.final_parameters);
the parameters are not all zero. Every run after the first agrees with the first within
max |difference| / max |parameter| <= 1e-5. Exit status 0 when all hold.
"""

import sys

import numpy as np

import ckpt

TOLERANCE = 1e-5


def params(work, np_, steps, global_batch):
    s = ckpt.summary(f"{work}/np{np_}")
    assert s["steps"] == steps and s["world_size"] == np_ and s["global_batch_size"] == global_batch, s
    flat = ckpt.final_parameters(f"{work}/np{np_}")
    crc = ckpt.crc32_hex(flat)
    assert crc == s["param_checksum"], (np_, crc, s["param_checksum"])
    assert not np.array_equal(flat, np.zeros_like(flat)), np_
    return flat, crc


def main(argv):
    work, steps, global_batch = argv[1], int(argv[2]), int(argv[3])
    sizes = [int(n) for n in argv[4:]]
    first, first_crc = params(work, sizes[0], steps, global_batch)
    for n in sizes[1:]:
        pn, crc = params(work, n, steps, global_batch)
        rel = np.abs(pn - first).max() / np.abs(first).max()
        print(f"world size {n} vs {sizes[0]}: max |diff| / max |param| = {rel:.3e}"
              f" (param_checksum {crc}, {'equal' if crc == first_crc else 'not equal'})")
        assert rel <= TOLERANCE, rel
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
