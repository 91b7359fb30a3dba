"""The engine wrapper itself (isolane.sandbox.engine), on real V8 isolates in this process."""

from __future__ import annotations

import threading
import time

from isolane.sandbox.engine import Isolate

HOT_LOOP = "let s = 0; for (let i = 0; i < 100000; i++) s += i; s"


def test_closing_while_other_isolates_run_optimized_code() -> None:
    # On CPUs with memory protection keys, a close that overlapped a hot loop in another
    # isolate segfaulted the process (V8's PKU-guarded JIT pages): the engine turns them off.
    pool: list[Isolate] = []
    stop = time.monotonic() + 2.0
    created = closed = 0
    done = threading.Event()

    def close_them() -> None:
        nonlocal closed
        while not done.is_set() or pool:
            if pool:
                pool.pop(0).close()
                closed += 1
            else:
                time.sleep(0.0005)

    closer = threading.Thread(target=close_them)
    closer.start()
    while time.monotonic() < stop:
        isolate = Isolate()
        assert isolate.eval_blocking(HOT_LOOP) == 4999950000
        pool.append(isolate)
        created += 1
    done.set()
    closer.join()
    assert created == closed and created > 50


def test_each_isolate_knows_its_own_thread() -> None:
    # Learnt from inside the isolate's thread, even while other isolates start and stop.
    isolates = [Isolate() for _ in range(8)]
    try:
        tids = {isolate.tid for isolate in isolates}
        assert len(tids) == 8 and threading.get_native_id() not in tids
        burn = isolates[0].cpu_ns()
        isolates[0].eval_blocking(HOT_LOOP)
        assert isolates[0].cpu_ns() > burn
    finally:
        for isolate in isolates:
            isolate.close()


def test_external_memory_is_read_per_isolate_from_any_thread() -> None:
    holder, other = Isolate(), Isolate()
    try:
        assert holder.external_bytes() == 0
        holder.eval_blocking("globalThis.keep = new ArrayBuffer(64 * 1024 * 1024); 0")
        holder.eval_blocking("globalThis.wasm = new WebAssembly.Memory({ initial: 160 }); 0")  # 10 MiB
        assert holder.external_bytes() == 64 * 1024 * 1024 + 160 * 65536
        assert other.external_bytes() == 0
    finally:
        holder.close()
        other.close()
    assert holder.external_bytes() == 0  # closed: nothing is read from a freed isolate

