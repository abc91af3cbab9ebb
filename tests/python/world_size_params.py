#!/usr/bin/python3
"""Checks that runs at several world sizes trained the same parameters and buffers.

Usage: world_size_params.py [--tolerance T] WORK STEPS GLOBAL_BATCH NP...

Each run is in WORK/np<N> (its summary.json and final checkpoint), checked by ckpt.checked_final_tensors:
the summary reports STEPS steps, world size N and GLOBAL_BATCH; param_checksum is the crc32 of the saved
parameters and buffer_crc32 that of the buffers; the parameters are not all zero. Every run after the first
agrees with the first within max |difference| / max |value| <= T (default 1e-5), parameters and buffers
(batch normalization's moving statistics) alike. Exit status 0 when all hold.
"""

import sys

import ckpt

TOLERANCE = 1e-5


def main(argv):
    tolerance = TOLERANCE
    if argv[1] == "--tolerance":
        tolerance = float(argv[2])
        argv = argv[:1] + argv[3:]
    work, steps, global_batch = argv[1], int(argv[2]), int(argv[3])
    sizes = [int(n) for n in argv[4:]]
    first = ckpt.checked_final_tensors(f"{work}/np{sizes[0]}", steps, global_batch, sizes[0])
    for n in sizes[1:]:
        other = ckpt.checked_final_tensors(f"{work}/np{n}", steps, global_batch, n)
        rel_p = ckpt.relative_difference(first[0], other[0])
        rel_b = ckpt.relative_difference(first[1], other[1])
        print(f"world size {n} vs {sizes[0]}: max |diff| / max |value| = {rel_p:.3e} (parameters), "
              f"{rel_b:.3e} (buffers)")
        assert rel_p <= tolerance and rel_b <= tolerance, (rel_p, rel_b, tolerance)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
