"""structuredClone (HTML structured clone algorithm, with transfer)."""

from __future__ import annotations

import httpx

from tests.conftest import run_js

HELPERS = """
const attempt = (f) => { try { return f(); } catch (e) { return `${e.name}:${e.code ?? ""}:${e instanceof DOMException}`; } };
const tagOf = (v) => Object.prototype.toString.call(v);
"""
DATA_CLONE_ERROR = "DataCloneError:25:true"


def js(admin: httpx.Client, code: str) -> object:
    body = run_js(admin, HELPERS + code)
    assert body["error"] is None, body["error"]
    return body["result"]


def test_global_and_arguments(admin: httpx.Client) -> None:
    code = """
    const d = Object.getOwnPropertyDescriptor(globalThis, "structuredClone");
    [[typeof d.value, d.writable, d.enumerable, d.configurable, d.value.length, d.value.name],
     attempt(() => structuredClone()), structuredClone(undefined) === undefined,
     structuredClone(1, undefined), structuredClone(1, null), structuredClone(1, {}), structuredClone(1, { transfer: [] }),
     attempt(() => structuredClone(1, 5)), attempt(() => structuredClone(1, "x"))]
    """
    assert js(admin, code) == [
        ["function", True, False, True, 1, "structuredClone"],
        "TypeError::false",
        True,
        1,
        1,
        1,
        1,
        "TypeError::false",
        "TypeError::false",
    ]


def test_primitives(admin: httpx.Client) -> None:
    code = """
    const values = [undefined, null, true, false, 0, -0, 1.5, NaN, -Infinity, "", "text \\ud800 \\ud83d\\ude00", 0n, -(2n ** 70n)];
    values.map((v) => Object.is(structuredClone(v), v))
    """
    assert js(admin, code) == [True] * 13


def test_primitive_wrappers_dates_and_regexps(admin: httpx.Client) -> None:
    code = """
    const wrappers = [new Boolean(false), new Number(-0), new String("ab\\ud800"), Object(12n)];
    wrappers[2].extra = 1;  // not copied: wrappers are not deep
    const copies = structuredClone(wrappers);
    const date = new Date(Date.UTC(2024, 1, 29, 12, 0, 0, 123));
    const re = /a+(?<name>b)/dgimsuy;
    re.lastIndex = 4;
    re.extra = 1;
    const [dateCopy, invalidDate, reCopy, unicodeSets] = structuredClone([date, new Date(NaN), re, /[\\p{L}--[a-z]]/v]);
    [copies.map((c, i) => [typeof c, tagOf(c), c !== wrappers[i], Object.is(c.valueOf(), wrappers[i].valueOf())]), copies[2].extra,
     [dateCopy instanceof Date, dateCopy !== date, dateCopy.toISOString(), Number.isNaN(invalidDate.getTime())],
     [reCopy instanceof RegExp, reCopy !== re, reCopy.source, reCopy.flags, reCopy.lastIndex, reCopy.extra,
      reCopy.exec("aab").groups.name, unicodeSets.flags, unicodeSets.test("\\u00e9"), unicodeSets.test("a")]]
    """
    assert js(admin, code) == [
        [
            ["object", "[object Boolean]", True, True],
            ["object", "[object Number]", True, True],
            ["object", "[object String]", True, True],
            ["object", "[object BigInt]", True, True],
        ],
        None,
        [True, True, "2024-02-29T12:00:00.123Z", True],
        [True, True, "a+(?<name>b)", "dgimsuy", 0, None, "b", "v", True, False],
    ]


def test_objects_and_arrays(admin: httpx.Client) -> None:
    code = """
    class Point {
      #secret = 1;
      constructor() { this.x = 1; this.y = 2; }
      get sum() { return this.x + this.y; }
      method() {}
    }
    const source = { b: 1, a: { deep: [1, { deeper: true }] }, 2: "two", 1: "one", [Symbol("s")]: 1 };
    Object.defineProperty(source, "hidden", { value: 1, enumerable: false });
    Object.defineProperty(source, "computed", { get() { return "got"; }, enumerable: true });
    const copy = structuredClone(source);
    const arr = [1, , 3];
    arr[10] = "ten";
    arr.extra = "prop";
    const arrCopy = structuredClone(arr);
    const protoKey = structuredClone(JSON.parse('{"__proto__": {"polluted": true}, "k": 1}'));
    const order = [];
    const sneaky = structuredClone({
      get first() { order.push("first"); delete this.second; this.third = "added"; return 1; },
      second: 2,
      get fourth() { order.push("fourth"); return 4; },
    });
    const nullProto = structuredClone(Object.assign(Object.create(null), { n: 1 }));
    [Object.keys(copy), copy.a.deep[1].deeper, copy.a !== source.a, Object.getOwnPropertyDescriptor(copy, "computed"),
     Object.getOwnPropertySymbols(copy).length,
     [arrCopy.length, Object.keys(arrCopy), 1 in arrCopy, Array.isArray(arrCopy)],
     [JSON.stringify(structuredClone(new Point())), Object.getPrototypeOf(structuredClone(new Point())) === Object.prototype],
     [Object.getPrototypeOf(protoKey) === Object.prototype, Object.keys(protoKey), protoKey.polluted, ({}).polluted],
     [order, Object.keys(sneaky)], [Object.getPrototypeOf(nullProto) === Object.prototype, nullProto.n]]
    """
    assert js(admin, code) == [
        ["1", "2", "b", "a", "computed"],
        True,
        True,
        {"value": "got", "writable": True, "enumerable": True, "configurable": True},
        0,
        [11, ["0", "2", "10", "extra"], False, True],
        ['{"x":1,"y":2}', True],
        [True, ["__proto__", "k"], None, None],
        # Keys are listed before any getter runs; one deleted meanwhile is skipped, one added is not seen.
        [["first", "fourth"], ["first", "fourth"]],
        [True, 1],
    ]


def test_maps_and_sets(admin: httpx.Client) -> None:
    code = """
    const key = { k: 1 };
    const map = new Map([[key, "object key"], ["b", key], [NaN, 1], [-0, "zero"]]);
    const set = new Set([key, 1, "1", map]);
    class MyMap extends Map {}
    const [mapCopy, setCopy, mine] = structuredClone([map, set, new MyMap([[1, 2]])]);
    const keyCopy = [...mapCopy.keys()][0];
    [[...mapCopy.keys()].length, keyCopy !== key, mapCopy.get(keyCopy), mapCopy.get("b") === keyCopy, mapCopy.get(NaN),
     Object.is([...mapCopy.keys()][3], 0), [...setCopy][0] === keyCopy, [...setCopy][3] === mapCopy, setCopy.has("1"),
     [tagOf(mine), Object.getPrototypeOf(mine) === Map.prototype, mine.get(1)]]
    """
    assert js(admin, code) == [4, True, "object key", True, 1, True, True, True, True, ["[object Map]", True, 2]]


def test_cycles_and_shared_references(admin: httpx.Client) -> None:
    code = """
    const shared = { name: "shared" };
    const root = { a: shared, b: [shared, shared], map: new Map(), set: new Set() };
    root.self = root;
    root.b.push(root.b);
    root.map.set(root, root.set);
    root.set.add(root.map);
    const date = new Date(0);
    root.dates = [date, date];
    const c = structuredClone(root);
    [c !== root, c.self === c, c.a === c.b[0], c.b[0] === c.b[1], c.b[2] === c.b, c.map.get(c) === c.set,
     [...c.set][0] === c.map, c.dates[0] === c.dates[1], c.dates[0] !== date, c.a !== shared]
    """
    assert js(admin, code) == [True] * 10


def test_errors(admin: httpx.Client) -> None:
    code = """
    const types = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError];
    const each = types.map((T) => {
      const c = structuredClone(new T("msg"));
      return [Object.getPrototypeOf(c) === T.prototype, c.name, c.message, Error.isError(c)];
    });
    const original = new TypeError("outer", { cause: { detail: [1, 2] } });
    original.extra = "dropped";
    const copy = structuredClone(original);
    const renamed = new RangeError("r");
    renamed.name = "Custom";
    const aggregate = structuredClone(new AggregateError([new Error("inner")], "agg"));
    const circular = new Error("loop");
    circular.cause = circular;
    const loopCopy = structuredClone(circular);
    const accessor = new Error("x");
    Object.defineProperty(accessor, "message", { get() { return "computed"; } });
    const plainName = new Error("n");
    plainName.name = "TypeError";  // the name decides, not the prototype
    const fake = Object.assign(Object.create(Error.prototype), { message: "not an error" });
    [each,
     [copy.message, copy.cause, copy.extra, copy.stack === original.stack, Object.getOwnPropertyDescriptor(copy, "message").enumerable,
      Object.getOwnPropertyDescriptor(copy, "cause").enumerable],
     [structuredClone(renamed).name, Object.getPrototypeOf(structuredClone(renamed)) === Error.prototype],
     [aggregate.name, aggregate.message, aggregate.errors],
     [loopCopy.cause === loopCopy, loopCopy !== circular],
     [Object.hasOwn(structuredClone(accessor), "message"), structuredClone(plainName) instanceof TypeError],
     [Error.isError(structuredClone(fake)), structuredClone(fake).message]]
    """
    assert js(admin, code) == [
        [
            [True, "Error", "msg", True],
            [True, "EvalError", "msg", True],
            [True, "RangeError", "msg", True],
            [True, "ReferenceError", "msg", True],
            [True, "SyntaxError", "msg", True],
            [True, "TypeError", "msg", True],
            [True, "URIError", "msg", True],
        ],
        ["outer", {"detail": [1, 2]}, None, True, False, False],
        ["Error", True],
        ["Error", "agg", None],
        [True, True],
        [False, True],
        [False, "not an error"],
    ]


def test_dom_exception(admin: httpx.Client) -> None:
    code = """
    const original = new DOMException("stopped", "AbortError");
    const copy = structuredClone(original);
    [copy instanceof DOMException, copy !== original, copy.name, copy.message, copy.code, copy.stack === original.stack]
    """
    assert js(admin, code) == [True, True, "AbortError", "stopped", 20, True]


def test_array_buffers_and_views(admin: httpx.Client) -> None:
    code = """
    const buffer = new ArrayBuffer(32);
    new Uint8Array(buffer).set([1, 2, 3, 4, 5, 6, 7, 8]);
    const types = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
                   Float16Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array];
    const views = types.map((T) => new T(buffer, 8, 2));
    const dataView = new DataView(buffer, 4, 8);
    const c = structuredClone({ buffer, views, dataView, alone: new Uint16Array([1, 2, 3]).subarray(1) });
    new Uint8Array(buffer)[0] = 99;  // the copy does not follow the original
    const resizable = new ArrayBuffer(4, { maxByteLength: 64 });
    const resizableCopy = structuredClone(resizable);
    resizableCopy.resize(10);
    const detached = new ArrayBuffer(4);
    const detachedView = new Uint8Array(detached);
    detached.transfer();
    const shrunk = new ArrayBuffer(8, { maxByteLength: 8 });
    const outOfBounds = new DataView(shrunk, 4, 4);
    shrunk.resize(2);
    [[c.buffer !== buffer, c.buffer.byteLength, new Uint8Array(c.buffer)[0]],
     c.views.map((v, i) => [v.constructor === types[i], v.buffer === c.buffer, v.byteOffset, v.length]),
     [c.dataView instanceof DataView, c.dataView.buffer === c.buffer, c.dataView.byteOffset, c.dataView.byteLength, c.dataView.getUint8(0)],
     [c.alone.buffer.byteLength, c.alone.byteOffset, Array.from(c.alone)],
     [resizableCopy.resizable, resizableCopy.maxByteLength, resizableCopy.byteLength, resizable.byteLength],
     attempt(() => structuredClone(detached)), attempt(() => structuredClone(detachedView)),
     attempt(() => structuredClone(outOfBounds)), attempt(() => structuredClone(new SharedArrayBuffer(4))),
     attempt(() => structuredClone(new Int32Array(new SharedArrayBuffer(4))))]
    """
    assert js(admin, code) == [
        [True, 32, 1],
        [[True, True, 8, 2]] * 12,
        [True, True, 4, 8, 5],
        [6, 2, [2, 3]],
        [True, 64, 10, 4],
        DATA_CLONE_ERROR,
        DATA_CLONE_ERROR,
        DATA_CLONE_ERROR,
        DATA_CLONE_ERROR,  # memory is never shared between isolates here
        DATA_CLONE_ERROR,
    ]


def test_uncloneable_values(admin: httpx.Client) -> None:
    code = """
    const values = [
      () => {}, function named() {}, class K {}, async () => {}, Symbol("s"), Object(Symbol("w")),
      new WeakMap(), new WeakSet(), new WeakRef({}), new FinalizationRegistry(() => {}), Promise.resolve(1),
      (function* () {})(), (function () { return arguments; })(1), [1].values(), new Map().entries(),
      new Intl.NumberFormat(), { nested: { fn() {} } }, [1, 2, Symbol.iterator], new Map([[1, () => {}]]),
      new Set([Promise.resolve()]), new Error("x", { cause: () => {} }),
    ];
    const first = (() => { try { structuredClone(Symbol("described")); } catch (e) { return [e.message, String(e)]; } })();
    [values.map((v) => attempt(() => structuredClone(v))), first]
    """
    results, first = js(admin, code)
    assert results == [DATA_CLONE_ERROR] * 21
    assert first == ["Symbol(described) could not be cloned.", "DataCloneError: Symbol(described) could not be cloned."]


def test_types_are_told_by_internal_slots_not_tags(admin: httpx.Client) -> None:
    code = """
    const fakeMap = { [Symbol.toStringTag]: "Map", size: 3 };
    const fakeDate = Object.create(Date.prototype);
    fakeDate.own = 1;
    const fakePromise = { [Symbol.toStringTag]: "Promise", then: 1 };
    const realMap = new Map([[1, 2]]);
    realMap[Symbol.toStringTag] = "Something";
    const realDate = new Date(5);
    Object.setPrototypeOf(realDate, Array.prototype);
    const c = structuredClone({ fakeMap, fakeDate, realMap, realDate });
    [tagOf(c.fakeMap), c.fakeMap.size, Object.getPrototypeOf(c.fakeDate) === Object.prototype, c.fakeDate.own,
     c.realMap instanceof Map, c.realMap.get(1), c.realDate instanceof Date, c.realDate.getTime(),
     attempt(() => Object.keys(structuredClone(fakePromise)))]
    """
    # A plain object that claims to be a Promise is still uncloneable: promises are only
    # recognisable by their tag.
    assert js(admin, code) == ["[object Object]", 3, True, 1, True, 2, True, 5, DATA_CLONE_ERROR]


def test_transfer(admin: httpx.Client) -> None:
    code = """
    const buffer = new Uint8Array([1, 2, 3, 4]).buffer;
    const view = new Uint8Array(buffer, 1, 2);
    const unrelated = new ArrayBuffer(8);
    const copy = structuredClone({ buffer, view }, { transfer: [buffer, unrelated] });
    const resizable = new ArrayBuffer(4, { maxByteLength: 16 });
    const resizableCopy = structuredClone(resizable, { transfer: new Set([resizable]) });
    const kept = new ArrayBuffer(8);
    const failed = attempt(() => structuredClone({ kept, bad: () => {} }, { transfer: [kept] }));
    const dup = new ArrayBuffer(1);
    const detached = new ArrayBuffer(1);
    detached.transfer();
    const detachedByGetter = new ArrayBuffer(1);
    const getterResult = attempt(() => structuredClone({ get x() { detachedByGetter.transfer(); return 1; } }, { transfer: [detachedByGetter] }));
    [[buffer.detached, buffer.byteLength, view.length, unrelated.detached],
     [Array.from(new Uint8Array(copy.buffer)), copy.view.buffer === copy.buffer, Array.from(copy.view)],
     [resizable.detached, resizableCopy.resizable, resizableCopy.maxByteLength],
     [failed, kept.detached, kept.byteLength],
     attempt(() => structuredClone(1, { transfer: [dup, dup] })), dup.detached,
     attempt(() => structuredClone(1, { transfer: [detached] })), getterResult,
     attempt(() => structuredClone(1, { transfer: [new Uint8Array(1)] })),
     attempt(() => structuredClone(1, { transfer: [new SharedArrayBuffer(1)] })),
     attempt(() => structuredClone(1, { transfer: [{}] })),
     attempt(() => structuredClone(1, { transfer: [1] })), attempt(() => structuredClone(1, { transfer: {} })),
     attempt(() => structuredClone(1, { transfer: "ab" })), structuredClone(1, { transfer: undefined })]
    """
    assert js(admin, code) == [
        [True, 0, 0, True],
        [[1, 2, 3, 4], True, [2, 3]],
        [True, True, 16],
        [DATA_CLONE_ERROR, False, 8],  # a failed clone transfers nothing
        DATA_CLONE_ERROR,
        False,
        DATA_CLONE_ERROR,
        DATA_CLONE_ERROR,
        DATA_CLONE_ERROR,
        DATA_CLONE_ERROR,
        DATA_CLONE_ERROR,
        "TypeError::false",
        "TypeError::false",
        "TypeError::false",
        1,
    ]
