"""How long this machine takes to hand a process fresh memory: map N MB and touch every page.

    python3 benches/fresh_memory.py 256 1024 2048 3072     # sizes in MB, each three times

On bare metal this is about 0.1-0.2 s per GB (the kernel zeroing pages). On a VM whose
balloon reports freed pages back to the host, pages the guest freed a moment ago must be
backed again by the host, and the cost per GB grows with the size asked for. That cost lands
on whichever query touches the most new memory, which is why BENCHMARKS.md reports peak
memory beside every time and why the 50M-line runs are sensitive to their footprint.
"""

import mmap
import sys
import time

PAGE = mmap.PAGESIZE


def touch(megabytes):
    size = megabytes << 20
    start = time.perf_counter()
    region = mmap.mmap(-1, size)
    view = memoryview(region)
    for offset in range(0, size, PAGE):
        view[offset] = 1
    elapsed = time.perf_counter() - start
    view.release()
    region.close()
    return elapsed


def main():
    sizes = [int(arg) for arg in sys.argv[1:]] or [256, 1024, 2048]
    for megabytes in sizes:
        runs = [touch(megabytes) for _ in range(3)]
        shown = ", ".join(f"{t:.3f}" for t in runs)
        print(f"{megabytes:>6} MB: {shown} s  ({min(runs) / megabytes * 1024:.2f} s per GB at best)")


if __name__ == "__main__":
    main()
