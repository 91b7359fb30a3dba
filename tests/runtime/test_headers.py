"""Headers (WHATWG Fetch §5.2), checked in a real isolate. Cases follow the standard and
the ideas of the Web Platform Tests (fetch/api/headers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JS = Callable[[str], Any]


def test_names_are_case_insensitive_and_iteration_is_sorted_and_combined(js: JS) -> None:
    result = js(
        """
        const h = new Headers([["Z-Last", "1"], ["Accept", "a"], ["ACCEPT", "b"], ["b", ""]]);
        ({
          get: [h.get("accept"), h.get("Accept"), h.get("missing"), h.get("b")],
          has: [h.has("z-LAST"), h.has("nope")],
          entries: [...h],
          keys: [...h.keys()],
          values: [...h.values()],
        })
        """
    )
    assert result == {
        "get": ["a, b", "a, b", None, ""],
        "has": [True, False],
        "entries": [["accept", "a, b"], ["b", ""], ["z-last", "1"]],
        "keys": ["accept", "b", "z-last"],
        "values": ["a, b", "", "1"],
    }


def test_set_cookie_values_stay_separate(js: JS) -> None:
    result = js(
        """
        const h = new Headers();
        h.append("Set-Cookie", "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
        h.append("set-cookie", "b=2");
        h.append("Cookie", "c=3");
        h.append("cookie", "d=4");
        ({ entries: [...h], get: h.get("set-cookie"), list: h.getSetCookie(), none: new Headers().getSetCookie() })
        """
    )
    assert result == {
        "entries": [
            ["cookie", "c=3, d=4"],
            ["set-cookie", "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"],
            ["set-cookie", "b=2"],
        ],
        "get": "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT, b=2",
        "list": ["a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "b=2"],
        "none": [],
    }


def test_init_from_record_sequence_and_headers(js: JS) -> None:
    result = js(
        """
        const attempt = (init) => { try { return [...new Headers(init)]; } catch (e) { return e.name; } };
        const hidden = Object.defineProperty({ shown: "1" }, "hidden", { value: "2", enumerable: false });
        const source = new Headers([["set-cookie", "a"], ["set-cookie", "b"], ["x", "1"]]);
        const copy = new Headers(source);
        source.set("x", "changed");
        ({
          record: attempt({ B: "2", a: "1" }),
          nonEnumerable: attempt(hidden),
          sequence: attempt([["a", "1"], ["a", "2"]]),
          iterablePairs: attempt(new Map([["m", "v"]])),
          fromHeaders: [...copy],
          undefinedInit: attempt(undefined),
          invalid: [null, "a:b", 5, [["only-name"]], [["a", "b", "c"]], [5], { [Symbol("s")]: "v" }].map(attempt),
        })
        """
    )
    assert result == {
        "record": [["a", "1"], ["b", "2"]],
        "nonEnumerable": [["shown", "1"]],
        "sequence": [["a", "1, 2"]],
        "iterablePairs": [["m", "v"]],
        "fromHeaders": [["set-cookie", "a"], ["set-cookie", "b"], ["x", "1"]],
        "undefinedInit": [],
        "invalid": ["TypeError"] * 7,
    }


def test_names_and_values_are_validated_and_values_trimmed(js: JS) -> None:
    result = js(
        """
        const attempt = (name, value) => { try { const h = new Headers(); h.append(name, value); return h.get(name); } catch (e) { return e.name; } };
        ({
          trimmed: attempt("x", " \\t value with inner  spaces \\r\\n"),
          badNames: ["", "a b", "a:b", "é", "a\\u0100", "(x)", "x\\n"].map((n) => attempt(n, "v")),
          badValues: ["a\\nb", "a\\rb", "a\\0b", "\\u0100", "\\u{1F600}"].map((v) => attempt("x", v)),
          okValues: ["\\u00ff", "a\\tb", ""].map((v) => attempt("x", v)),
          tokenName: attempt("!#$%&'*+-.^_`|~09AZaz", "v"),
          getInvalid: (() => { try { new Headers().get("bad name"); } catch (e) { return e.name; } })(),
          missingArgs: (() => { try { new Headers().append("x"); } catch (e) { return e.name; } })(),
        })
        """
    )
    assert result == {
        "trimmed": "value with inner  spaces",
        "badNames": ["TypeError"] * 7,
        "badValues": ["TypeError"] * 5,
        "okValues": ["\u00ff", "a\tb", ""],
        "tokenName": "v",
        "getInvalid": "TypeError",
        "missingArgs": "TypeError",
    }


def test_set_replaces_in_place_and_delete_removes_all(js: JS) -> None:
    result = js(
        """
        const h = new Headers([["a", "1"], ["b", "2"], ["A", "3"]]);
        h.set("a", "9");
        const afterSet = h.get("a");
        h.set("new", "n");
        h.append("b", "22");
        h.delete("B");
        ({ afterSet, entries: [...h], has: h.has("b") })
        """
    )
    assert result == {"afterSet": "9", "entries": [["a", "9"], ["new", "n"]], "has": False}


def test_iteration_is_live_and_for_each(js: JS) -> None:
    result = js(
        """
        const h = new Headers({ a: "1", c: "3" });
        const seen = [];
        for (const [name] of h) { seen.push(name); if (name === "a") h.append("b", "2"); }
        const calls = [];
        h.forEach(function (value, name, target) { calls.push([name, value, target === h, this.tag]); }, { tag: "T" });
        let notCallable;
        try { h.forEach(5); } catch (e) { notCallable = e.name; }
        const iterator = h.entries();
        ({
          seen, calls, notCallable,
          iteratorTag: Object.prototype.toString.call(iterator),
          iteratorHasHelpers: typeof iterator.map === "function" && iterator[Symbol.iterator]() === iterator,
          defaultIterator: Headers.prototype[Symbol.iterator] === Headers.prototype.entries,
        })
        """
    )
    assert result == {
        "seen": ["a", "b", "c"],
        "calls": [["a", "1", True, "T"], ["b", "2", True, "T"], ["c", "3", True, "T"]],
        "notCallable": "TypeError",
        "iteratorTag": "[object Headers Iterator]",
        "iteratorHasHelpers": True,
        "defaultIterator": True,
    }


def test_interface_shape_hides_internals(js: JS) -> None:
    result = js(
        """
        const h = new Headers({ a: "1" });
        const global = Object.getOwnPropertyDescriptor(globalThis, "Headers");
        let wrongThis;
        try { Headers.prototype.get.call({}, "a"); } catch (e) { wrongThis = e.name; }
        ({
          tag: String(h),
          ownKeys: Reflect.ownKeys(h),
          global: [global.enumerable, global.writable, global.configurable],
          enumerableMembers: Object.keys(Headers.prototype),
          wrongThis,
          callWithoutNew: (() => { try { Headers(); } catch (e) { return e.name; } })(),
        })
        """
    )
    assert result == {
        "tag": "[object Headers]",
        "ownKeys": [],
        "global": [False, True, True],
        "enumerableMembers": ["append", "delete", "get", "getSetCookie", "has", "set", "entries", "keys", "values", "forEach"],
        "wrongThis": "TypeError",
        "callWithoutNew": "TypeError",
    }
