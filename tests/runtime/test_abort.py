"""AbortController and AbortSignal (WHATWG DOM §3.1-3.2), checked in a real isolate. Cases
follow the standard and the ideas of the Web Platform Tests (dom/abort)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JS = Callable[[str], Any]


def test_abort_with_default_and_given_reasons(js: JS) -> None:
    result = js(
        """
        const controller = new AbortController();
        const signal = controller.signal;
        const before = [signal.aborted, signal.reason, signal instanceof EventTarget, signal === controller.signal];
        const events = [];
        signal.addEventListener("abort", (e) => events.push(["listener", e.type, e.isTrusted, e.target === signal, signal.aborted]));
        signal.onabort = (e) => events.push(["onabort", e.cancelable]);
        controller.abort();
        const reason = signal.reason;
        controller.abort("again"); // a second abort changes nothing and fires nothing
        let thrown;
        try { signal.throwIfAborted(); } catch (e) { thrown = e === reason; }
        const given = new AbortController();
        const why = new RangeError("why");
        given.abort(why);
        let givenThrown;
        try { given.signal.throwIfAborted(); } catch (e) { givenThrown = e === why; }
        ({ before, events, reason: [reason instanceof DOMException, reason.name, reason.code], afterSecond: signal.reason === reason,
           thrown, givenThrown, falsy: (() => { const c = new AbortController(); c.abort(0); return c.signal.reason; })(),
           notThrown: (() => { new AbortController().signal.throwIfAborted(); return true; })() })
        """
    )
    assert result == {
        "before": [False, None, True, True],
        "events": [["listener", "abort", True, True, True], ["onabort", False]],
        "reason": [True, "AbortError", 20],
        "afterSecond": True,
        "thrown": True,
        "givenThrown": True,
        "falsy": 0,
        "notThrown": True,
    }


def test_signals_cannot_be_constructed_and_are_branded(js: JS) -> None:
    result = js(
        """
        const names = [];
        try { new AbortSignal(); } catch (e) { names.push(e.name); }
        try { Object.getOwnPropertyDescriptor(AbortSignal.prototype, "aborted").get.call({}); } catch (e) { names.push(e.name); }
        try { AbortController.prototype.abort.call({}); } catch (e) { names.push(e.name); }
        ({ names, tags: [String(new AbortController()), String(new AbortController().signal)],
           keys: Object.keys(AbortSignal.prototype).sort() })
        """
    )
    assert result == {
        "names": ["TypeError", "TypeError", "TypeError"],
        "tags": ["[object AbortController]", "[object AbortSignal]"],
        "keys": ["aborted", "onabort", "reason", "throwIfAborted"],
    }


def test_onabort_handler_semantics(js: JS) -> None:
    result = js(
        """
        const order = [];
        const c = new AbortController();
        c.signal.addEventListener("abort", () => order.push("first"));
        c.signal.onabort = () => order.push("handler 1");
        c.signal.addEventListener("abort", () => order.push("last"));
        c.signal.onabort = () => order.push("handler 2"); // replaced in place: keeps its position
        const kept = typeof c.signal.onabort;
        c.abort();
        const d = new AbortController();
        d.signal.onabort = () => order.push("never");
        d.signal.onabort = null;
        d.signal.onabort = 5; // not an object: means null
        const cleared = d.signal.onabort;
        d.abort();
        ({ order, kept, cleared })
        """
    )
    assert result == {"order": ["first", "handler 2", "last"], "kept": "function", "cleared": None}


def test_abort_static_and_timeout(js: JS) -> None:
    result = js(
        """
        (async () => {
          const aborted = AbortSignal.abort();
          const withReason = AbortSignal.abort("r");
          const signal = AbortSignal.timeout(10);
          const start = Date.now();
          const early = signal.aborted;
          const event = await new Promise((resolve) => signal.addEventListener("abort", resolve));
          const errors = [];
          for (const bad of [-1, NaN, Infinity, 2 ** 53]) {
            try { AbortSignal.timeout(bad); } catch (e) { errors.push(e.name); }
          }
          return {
            aborted: [aborted.aborted, aborted.reason.name, withReason.reason],
            early,
            timedOut: [signal.aborted, signal.reason instanceof DOMException, signal.reason.name, signal.reason.code, event.type],
            waited: Date.now() - start >= 9,
            errors,
          };
        })()
        """
    )
    assert result == {
        "aborted": [True, "AbortError", "r"],
        "early": False,
        "timedOut": [True, True, "TimeoutError", 23, "abort"],
        "waited": True,
        "errors": ["TypeError", "TypeError", "TypeError", "TypeError"],
    }


def test_timeout_ignores_a_replaced_set_timeout(js: JS) -> None:
    result = js(
        """
        (async () => {
          const original = setTimeout;
          globalThis.setTimeout = () => { throw new Error("not this one"); };
          const signal = AbortSignal.timeout(1);
          globalThis.setTimeout = original;
          await new Promise((resolve) => signal.onabort = resolve);
          return signal.reason.name;
        })()
        """
    )
    assert result == "TimeoutError"


def test_any_follows_its_sources(js: JS) -> None:
    result = js(
        """
        const a = new AbortController();
        const b = new AbortController();
        const any = AbortSignal.any([a.signal, b.signal]);
        const anyOfAny = AbortSignal.any([any]);
        const order = [];
        a.signal.onabort = () => order.push(["a", any.aborted, anyOfAny.aborted]);
        any.onabort = () => order.push(["any", anyOfAny.aborted]);
        anyOfAny.onabort = () => order.push("anyOfAny");
        const before = any.aborted;
        const reason = new Error("b went first");
        b.abort(reason);
        a.abort("too late");
        const already = AbortSignal.any([new AbortController().signal, AbortSignal.abort("done")]);
        const empty = AbortSignal.any([]);
        const errors = [];
        for (const bad of [[{}], 5, [null]]) {
          try { AbortSignal.any(bad); } catch (e) { errors.push(e.name); }
        }
        ({ before, order, same: [any.reason === reason, anyOfAny.reason === reason], already: [already.aborted, already.reason],
           empty: empty.aborted, errors, fromSet: AbortSignal.any(new Set([AbortSignal.abort(1)])).reason })
        """
    )
    # Every dependent signal is aborted before any abort event fires.
    assert result == {
        "before": False,
        "order": [["any", True], "anyOfAny", ["a", True, True]],
        "same": [True, True],
        "already": [True, "done"],
        "empty": False,
        "errors": ["TypeError", "TypeError", "TypeError"],
        "fromSet": 1,
    }


def test_any_sees_every_dependent_aborted_in_the_first_listener(js: JS) -> None:
    result = js(
        """
        const controller = new AbortController();
        const dependent = AbortSignal.any([controller.signal]);
        let seen;
        controller.signal.addEventListener("abort", () => { seen = dependent.aborted; });
        controller.abort();
        seen
        """
    )
    assert result is True


def test_requests_get_a_signal_and_accept_one(js: JS) -> None:
    result = js(
        """
        const plain = new Request("http://example.com/");
        const controller = new AbortController();
        const given = new Request("http://example.com/", { signal: controller.signal });
        let notSignal;
        try { new Request("http://example.com/", { signal: {} }); } catch (e) { notSignal = e.name; }
        controller.abort();
        ({ plain: [plain.signal instanceof AbortSignal, plain.signal.aborted], given: given.signal.aborted, notSignal })
        """
    )
    assert result == {"plain": [True, False], "given": True, "notSignal": "TypeError"}
