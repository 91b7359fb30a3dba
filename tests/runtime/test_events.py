"""Event, CustomEvent and EventTarget (WHATWG DOM §2), checked in a real isolate. Cases
follow the standard and the ideas of the Web Platform Tests (dom/events)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import run_js

JS = Callable[[str], Any]


def test_event_constructor_and_attributes(js: JS) -> None:
    result = js(
        """
        const plain = new Event("hello");
        const init = new Event("x", { bubbles: 1, cancelable: "yes", composed: {} });
        const read = [];
        new Event("order", { get composed() { read.push("composed"); }, get bubbles() { read.push("bubbles"); }, get cancelable() { read.push("cancelable"); } });
        let missing, badInit;
        try { new Event(); } catch (e) { missing = e.name; }
        try { new Event("x", 5); } catch (e) { badInit = e.name; }
        const own = Object.getOwnPropertyDescriptor(plain, "isTrusted");
        ({
          plain: [plain.type, plain.bubbles, plain.cancelable, plain.composed, plain.defaultPrevented,
                  plain.isTrusted, plain.target, plain.currentTarget, plain.eventPhase, plain.composedPath().length],
          init: [init.bubbles, init.cancelable, init.composed],
          read, missing, badInit,
          isTrustedOwn: own !== undefined && !own.configurable && typeof own.get === "function",
          timeStamp: typeof plain.timeStamp === "number" && plain.timeStamp >= 0 && plain.timeStamp <= performance.now(),
          constants: [Event.NONE, Event.CAPTURING_PHASE, Event.AT_TARGET, Event.BUBBLING_PHASE, plain.AT_TARGET],
          tag: Object.prototype.toString.call(plain),
          enumerable: Object.keys(Event.prototype).includes("preventDefault"),
          typeString: new Event(42).type,
        })
        """
    )
    assert result == {
        "plain": ["hello", False, False, False, False, False, None, None, 0, 0],
        "init": [True, True, True],
        "read": ["bubbles", "cancelable", "composed"],
        "missing": "TypeError",
        "badInit": "TypeError",
        "isTrustedOwn": True,
        "timeStamp": True,
        "constants": [0, 1, 2, 3, 2],
        "tag": "[object Event]",
        "enumerable": True,
        "typeString": "42",
    }


def test_dispatch_order_this_and_phases(js: JS) -> None:
    result = js(
        """
        const target = new EventTarget();
        const log = [];
        target.addEventListener("ping", function (e) { log.push(["bubble", this === target, e.currentTarget === target, e.eventPhase]); });
        target.addEventListener("ping", function (e) { log.push(["capture", e.eventPhase, e.composedPath()[0] === target]); }, { capture: true });
        const listenerObject = { handleEvent(e) { log.push(["object", this === listenerObject, e.target === target]); } };
        target.addEventListener("ping", listenerObject);
        target.addEventListener("other", () => log.push("other"));
        const event = new Event("ping");
        const notCanceled = target.dispatchEvent(event);
        ({ log, notCanceled, after: [event.target === target, event.currentTarget, event.eventPhase, event.composedPath().length] })
        """
    )
    # Capturing listeners run first at the target, then the others in the order added.
    assert result == {
        "log": [["capture", 2, True], ["bubble", True, True, 2], ["object", True, True]],
        "notCanceled": True,
        "after": [True, None, 0, 0],
    }


def test_listeners_are_unique_and_removable(js: JS) -> None:
    result = js(
        """
        const target = new EventTarget();
        let calls = 0;
        const f = () => calls++;
        target.addEventListener("e", f);
        target.addEventListener("e", f);          // the same (type, callback, capture): ignored
        target.addEventListener("e", f, false);   // ignored as well
        target.addEventListener("e", f, true);    // capture makes another listener
        target.addEventListener("e", null);       // null: nothing
        target.dispatchEvent(new Event("e"));
        const both = calls;
        target.removeEventListener("e", f, { capture: true });
        target.dispatchEvent(new Event("e"));
        const one = calls - both;
        target.removeEventListener("e", f);
        target.dispatchEvent(new Event("e"));
        let notObject;
        try { target.addEventListener("e", 5); } catch (e) { notObject = e.name; }
        let noArgs;
        try { target.addEventListener("e"); } catch (e) { noArgs = e.name; }
        ({ both, one, none: calls - both - one, notObject, noArgs })
        """
    )
    assert result == {"both": 2, "one": 1, "none": 0, "notObject": "TypeError", "noArgs": "TypeError"}


def test_listeners_added_or_removed_during_dispatch(js: JS) -> None:
    result = js(
        """
        const target = new EventTarget();
        const log = [];
        const late = () => log.push("late");
        const removed = () => log.push("removed");
        target.addEventListener("e", () => { log.push("first"); target.addEventListener("e", late); target.removeEventListener("e", removed); });
        target.addEventListener("e", removed);
        target.dispatchEvent(new Event("e"));
        log.push("--");
        target.dispatchEvent(new Event("e"));
        log
        """
    )
    # Added during a dispatch: not called by it. Removed during a dispatch: not called either.
    assert result == ["first", "--", "first", "late"]


def test_once_passive_and_prevent_default(js: JS) -> None:
    result = js(
        """
        const target = new EventTarget();
        let onceCalls = 0;
        target.addEventListener("e", () => onceCalls++, { once: true });
        target.dispatchEvent(new Event("e"));
        target.dispatchEvent(new Event("e"));

        const canceler = new EventTarget();
        canceler.addEventListener("c", (e) => e.preventDefault());
        const cancelable = new Event("c", { cancelable: true });
        const cancelResult = canceler.dispatchEvent(cancelable);
        const notCancelable = canceler.dispatchEvent(new Event("c"));

        const passive = new EventTarget();
        let seenInside;
        passive.addEventListener("p", (e) => { e.preventDefault(); seenInside = e.defaultPrevented; }, { passive: true });
        const passiveResult = passive.dispatchEvent(new Event("p", { cancelable: true }));

        const legacy = new Event("l", { cancelable: true });
        legacy.returnValue = false;
        ({ onceCalls, cancelResult, prevented: cancelable.defaultPrevented, notCancelable,
           passiveResult, seenInside, legacy: [legacy.defaultPrevented, legacy.returnValue] })
        """
    )
    assert result == {
        "onceCalls": 1,
        "cancelResult": False,
        "prevented": True,
        "notCancelable": True,
        "passiveResult": True,
        "seenInside": False,
        "legacy": [True, False],
    }


def test_stop_propagation_and_stop_immediate_propagation(js: JS) -> None:
    result = js(
        """
        const log = [];
        const a = new EventTarget();
        a.addEventListener("e", (e) => { log.push("a1"); e.stopImmediatePropagation(); });
        a.addEventListener("e", () => log.push("a2"));
        a.dispatchEvent(new Event("e"));
        // stopPropagation lets the other listeners of the same phase run.
        const b = new EventTarget();
        b.addEventListener("e", (e) => { log.push("b1"); e.stopPropagation(); });
        b.addEventListener("e", () => log.push("b2"));
        const event = new Event("e");
        b.dispatchEvent(event);
        // Flags are cleared after the dispatch, so the event can be dispatched again.
        const again = [event.cancelBubble, b.dispatchEvent(event)];
        ({ log, again })
        """
    )
    assert result == {"log": ["a1", "b1", "b2", "b1", "b2"], "again": [False, True]}


def test_dispatching_twice_at_once_and_non_events(js: JS) -> None:
    result = js(
        """
        const target = new EventTarget();
        const event = new Event("e");
        let nested;
        target.addEventListener("e", () => { try { target.dispatchEvent(event); } catch (e) { nested = [e.name, e instanceof DOMException]; } });
        target.dispatchEvent(event);
        let notEvent;
        try { target.dispatchEvent({ type: "e" }); } catch (e) { notEvent = e.name; }
        let badThis;
        try { EventTarget.prototype.addEventListener.call({}, "e", () => {}); } catch (e) { badThis = e.name; }
        ({ nested, notEvent, badThis })
        """
    )
    assert result == {"nested": ["InvalidStateError", True], "notEvent": "TypeError", "badThis": "TypeError"}


def test_listener_errors_are_reported_and_do_not_stop_the_others(admin: httpx.Client) -> None:
    body = run_js(
        admin,
        """
        const target = new EventTarget();
        const log = [];
        target.addEventListener("e", () => { throw new RangeError("listener failed"); });
        target.addEventListener("e", { handleEvent: "not callable" });
        target.addEventListener("e", () => log.push("still called"));
        const result = target.dispatchEvent(new Event("e"));
        ({ log, result })
        """,
    )
    assert body["outcome"] == "ok", body
    assert body["result"] == {"log": ["still called"], "result": True}
    errors = [entry["message"] for entry in body["logs"] if entry["level"] == "error"]
    assert len(errors) == 2
    assert errors[0].startswith("Uncaught RangeError: listener failed")
    assert errors[1].startswith("Uncaught TypeError")


def test_subclasses_and_custom_event(js: JS) -> None:
    result = js(
        """
        class Counter extends EventTarget {
          #count = 0;
          increment() { this.#count++; this.dispatchEvent(new CustomEvent("change", { detail: this.#count })); }
        }
        class Named extends Event { constructor(name) { super("named"); this.name = name; } }
        const counter = new Counter();
        const seen = [];
        counter.addEventListener("change", (e) => seen.push([e.detail, e instanceof CustomEvent, e instanceof Event]));
        counter.addEventListener("named", (e) => seen.push(e.name));
        counter.increment();
        counter.increment();
        counter.dispatchEvent(new Named("n"));
        ({ seen, detailDefault: new CustomEvent("x").detail, tag: Object.prototype.toString.call(counter) })
        """
    )
    assert result == {"seen": [[1, True, True], [2, True, True], "n"], "detailDefault": None, "tag": "[object EventTarget]"}


def test_signal_option_removes_the_listener(js: JS) -> None:
    result = js(
        """
        const target = new EventTarget();
        const controller = new AbortController();
        let calls = 0;
        target.addEventListener("e", () => calls++, { signal: controller.signal });
        target.dispatchEvent(new Event("e"));
        controller.abort();
        target.dispatchEvent(new Event("e"));
        // An already aborted signal: the listener is never added.
        target.addEventListener("e", () => calls++, { signal: AbortSignal.abort() });
        target.dispatchEvent(new Event("e"));
        const errors = [];
        for (const signal of [null, {}, "x"]) {
          try { target.addEventListener("e", () => {}, { signal }); } catch (e) { errors.push(e.name); }
        }
        ({ calls, errors })
        """
    )
    assert result == {"calls": 1, "errors": ["TypeError", "TypeError", "TypeError"]}


def test_global_add_event_listener_is_not_event_target(js: JS) -> None:
    # The worker's own addEventListener (service-worker syntax) stays what it was.
    result = js("typeof addEventListener === 'function' && !(globalThis instanceof EventTarget)")
    assert result is True
