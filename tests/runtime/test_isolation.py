"""Scripts are isolated from each other and from the host."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import execute, run_js, upload


def test_scripts_do_not_share_globals_or_prototypes(admin: httpx.Client) -> None:
    writer = upload(admin, "globalThis.shared = 'secret'; Array.prototype.leak = 1; Object.prototype.polluted = 2; 'set'")
    reader = upload(admin, "[typeof shared, typeof [].leak, typeof ({}).polluted]")
    assert execute(admin, writer)["result"] == "set"
    assert execute(admin, reader)["result"] == ["undefined", "undefined", "undefined"]


@pytest.mark.parametrize(
    "name",
    ["require", "process", "Deno", "Bun", "module", "__timer_manager", "__isolane_doorbell", "window", "importScripts"],
)
def test_host_is_unreachable(admin: httpx.Client, name: str) -> None:
    assert run_js(admin, f"typeof {name}")["result"] == "undefined"


def test_engine_timer_escape_hatch_is_withheld(admin: httpx.Client) -> None:
    assert run_js(admin, "typeof Atomics.waitAsync")["result"] == "undefined"


def test_runtime_interface_cannot_be_replaced(admin: httpx.Client) -> None:
    body = run_js(admin, "'use strict'; try { globalThis.__isolane = {}; 'replaced' } catch (e) { e.name }")
    assert body["result"] == "TypeError"
    assert run_js(admin, "Object.isFrozen(__isolane)")["result"] is True


def test_timers_and_microtasks(admin: httpx.Client) -> None:
    code = """
    (async () => {
      const order = [];
      setTimeout(() => order.push('timeout 20'), 20);
      const t = setTimeout(() => order.push('cleared'), 5);
      clearTimeout(t);
      queueMicrotask(() => order.push('microtask'));
      let ticks = 0;
      await new Promise(resolve => { const i = setInterval(() => { if (++ticks === 3) { clearInterval(i); resolve(); } }, 1); });
      order.push('interval x3');
      await new Promise(r => setTimeout(r, 30));
      return order;
    })()
    """
    assert run_js(admin, code)["result"] == ["microtask", "interval x3", "timeout 20"]
