"""The import check, form by form: every way a module can make Bun's bundler resolve a
specifier (each of the refused forms below read /etc/hostname into a bundle when nothing
checked it), refused before any bundler runs, with the same answer whether or not the file
exists on the host."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from isolane.linker import LinkError, Module, ModuleType, link
from isolane.linker.bundler import bundle as real_bundle

LINK = sys.modules["isolane.linker.link"]  # the module (the package re-exports its function under that name)
UTIL = Module("lib/util.ts", ModuleType.TYPESCRIPT, b"export let counter: number = 0;\nexport function bump(): void { counter++; }\n")

# (form, code with PATH where the specifier goes, module type, expected error code)
REFUSED = [
    ("static import", 'import t from "PATH";', "js", "forbidden_import"),
    ("side-effect import", 'import "PATH";', "js", "forbidden_import"),
    ("re-export all", 'export * from "PATH";', "js", "forbidden_import"),
    ("re-export names", 'export { x } from "PATH";', "js", "forbidden_import"),
    ("re-export namespace", 'export * as ns from "PATH";', "js", "forbidden_import"),
    ("text import attribute", 'import t from "PATH" with { type: "text" };', "js", "forbidden_import"),
    ("template literal import", "import t from `PATH`;", "js", "unsupported_syntax"),
    ("template literal re-export", "export * from `PATH`;", "js", "unsupported_syntax"),
    ("template literal side-effect import", "import `PATH`;", "js", "unsupported_syntax"),
    ("legacy assert attributes", 'import t from "PATH" assert { type: "text" };', "js", "unsupported_syntax"),
    ("dynamic import", 'const t = import("PATH");', "js", "forbidden_import"),
    ("dynamic import, template literal", "const t = import(`PATH`);", "js", "forbidden_import"),
    ("dynamic import, parenthesized", 'const t = import(("PATH"));', "js", "forbidden_import"),
    ("dynamic import, concatenation", 'const t = import("PATH" + "");', "js", "forbidden_import"),
    ("dynamic import, substitution", 'const t = import(`${"PATH"}`);', "js", "forbidden_import"),
    ("dynamic import, conditional", 'const t = import(true ? "PATH" : "x");', "js", "forbidden_import"),
    ("dynamic import, variable", 'const p = "PATH"; const t = import(p);', "js", "forbidden_import"),
    ("dynamic import with options", 'const t = import("PATH", { with: { type: "text" } });', "js", "forbidden_import"),
    ("awaited import", 'async function f() { return await import("PATH"); }', "js", "forbidden_import"),
    ("require", 'const t = require("PATH");', "js", "forbidden_import"),
    ("require, template literal", "const t = require(`PATH`);", "js", "forbidden_import"),
    ("require, tagged template", "const t = require`PATH`;", "js", "forbidden_import"),
    ("require, concatenation", 'const t = require("PATH" + "");', "js", "forbidden_import"),
    ("require, variable", 'const p = "PATH"; const t = require(p);', "js", "forbidden_import"),
    ("require, comment before", 'const t = require(/* c */ "PATH");', "js", "forbidden_import"),
    ("optional call of require", 'const t = require?.("PATH");', "js", "forbidden_import"),
    ("parenthesized require", 'const t = (require)("PATH");', "js", "forbidden_import"),
    ("require behind a comma", 'const t = (0, require)("PATH");', "js", "forbidden_import"),
    ("require behind a conditional", 'const t = (1 ? require : String)("PATH");', "js", "forbidden_import"),
    ("require with escapes", 'const t = requ\\u0069re("PATH");', "js", "forbidden_import"),
    ("new require", 'const t = new require("PATH");', "js", "forbidden_import"),
    ("require.resolve", 'const t = require.resolve("PATH");', "js", "forbidden_import"),
    ("module.require", 'const t = module.require("PATH");', "js", "forbidden_import"),
    ("module['require']", 'const t = module["require"]("PATH");', "js", "forbidden_import"),
    ("import.meta.require", 'const t = import.meta.require("PATH");', "js", "forbidden_import"),
    ("import.meta.resolve", 'const t = import.meta.resolve("PATH");', "js", "forbidden_import"),
    ("require inside JSX", 'const t = <div>{require("PATH")}</div>;', "js", "forbidden_import"),
    ("TypeScript import = require", 'import t = require("PATH");', "ts", "forbidden_import"),
    ("TypeScript export import = require", 'export import t = require("PATH");', "ts", "unsupported_syntax"),
    ("TypeScript require with !", 'const t = require!("PATH");', "ts", "forbidden_import"),
    ("TypeScript require with as", 'const t = (require as any)("PATH");', "ts", "forbidden_import"),
    ("TypeScript type import", 'let t: typeof import("PATH");', "ts", "forbidden_import"),
]


def _module(code: str, kind: str) -> Module:
    if kind == "ts":
        return Module("main.ts", ModuleType.TYPESCRIPT, code.encode())
    return Module("main.js", ModuleType.ESM, code.encode())


def _refusal(code: str, kind: str) -> LinkError:
    main = _module(code + "\nexport default {};\n", kind)
    with pytest.raises(LinkError) as caught:
        asyncio.run(link([main, UTIL], main.name))
    return caught.value


@pytest.fixture()
def no_bundler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if the bundler runs at all (Bun's transpile-only syntax check may)."""

    async def forbidden(*_: object) -> None:
        raise AssertionError("the bundler ran on a refused upload")

    monkeypatch.setattr(LINK, "bundle", forbidden)


@pytest.mark.parametrize(("form", "code", "kind", "error_code"), REFUSED, ids=[form for form, *_ in REFUSED])
def test_every_import_form_is_refused_before_the_bundler_runs(
    no_bundler: None, tmp_path: Path, form: str, code: str, kind: str, error_code: str
) -> None:
    host_file = tmp_path / "host-secret.txt"
    host_file.write_text("host-secret-7f3a\n")
    present = _refusal(code.replace("PATH", str(host_file)), kind)
    host_file.unlink()
    absent = _refusal(code.replace("PATH", str(host_file)), kind)
    # No oracle: the same request gets the same answer whether or not the file exists.
    assert (present.code, present.message, present.details) == (absent.code, absent.message, absent.details)
    assert present.code == error_code, present.message
    assert present.details["module"] in ("main.js", "main.ts") and present.details["line"] == 1
    assert "host-secret-7f3a" not in present.message


@pytest.mark.parametrize(("form", "code", "kind", "error_code"), REFUSED, ids=[form for form, *_ in REFUSED])
def test_an_existing_and_a_missing_host_path_get_the_same_answer(form: str, code: str, kind: str, error_code: str) -> None:
    exists, missing = "/etc/hostname", "/etc/hostnamx"  # the same length: columns after them agree
    assert Path(exists).exists() and not Path(missing).exists()
    answers = [_refusal(code.replace("PATH", path), kind) for path in (exists, missing)]
    assert answers[0].code == answers[1].code == error_code
    assert answers[0].message.replace(exists, "PATH") == answers[1].message.replace(missing, "PATH")
    assert answers[0].details == answers[1].details


@pytest.mark.parametrize(
    "code",
    [
        'import { bump } from "./lib/util.ts";',
        'import { bump } from "./lib/util";',
        'export { bump } from "./lib/util.ts";',
        'export * from "./lib/util.ts";',
        'const u = import("./lib/util.ts");',
        "const u = import(`./lib/util.ts`);",
        'const u = require("./lib/util.ts");',
        'const u = require.resolve("./lib/util.ts");',
        "const u = require(`./lib/util.ts`);",
        'const s = import("./lib/util.ts", );',
        # Not module requests: nothing here is refused.
        'const m = typeof module === "object" && module.exports; const x = m && module.exports.toString("x");',
        'const a = Array.from("abc"); const o = { require: (x) => x }; const r = o.require("/etc/hostname");',
        'const s = "require(\\"/etc/hostname\\")"; // import("/etc/hostname")\nconst re = /import\\("\\/etc"\\)/;',
        "const url = new URL(\"./x\", import.meta.url).href; const req = typeof require;",
        'const j = <div title="import(/etc/hostname)" />; const React = { createElement: () => 1 };',
    ],
)
def test_requests_inside_the_upload_and_lookalikes_pass(code: str) -> None:
    main = Module("main.js", ModuleType.ESM, (code + "\nexport default {};\n").encode())
    assert asyncio.run(link([main, UTIL], "main.js")).code


def test_jsx_compiles_without_a_runtime_import() -> None:
    # Bun's automatic JSX runtime would resolve react/jsx-dev-runtime from the ancestors'
    # node_modules (a world-writable /tmp/node_modules included): JSX is classic here.
    main = Module("main.js", ModuleType.ESM, b"const React = { createElement: (t) => t };\nexport default { x: <b /> };\n")
    assert 'createElement("b"' in asyncio.run(link([main], "main.js")).code


def test_syntax_errors_found_by_the_check_are_reported_by_bun() -> None:
    error = _refusal("export default {\n  fetch() { return 1 + ; }\n};", "js")
    assert (error.code, error.details["line"]) == ("syntax_error", 2)
    assert "main.js:2:" in error.message


def test_a_refused_form_in_a_second_module_names_that_module(no_bundler: None) -> None:
    main = Module("main.js", ModuleType.ESM, b'import { x } from "./lib/other.js";\nexport default { x };\n')
    other = Module("lib/other.js", ModuleType.ESM, b'export const x = 1;\nexport const y = require(`/etc/${"hostname"}`);\n')
    with pytest.raises(LinkError) as caught:
        asyncio.run(link([main, other], "main.js"))
    assert (caught.value.code, caught.value.details["module"], caught.value.details["line"]) == ("forbidden_import", "lib/other.js", 2)


def test_the_bundler_reads_only_the_upload_when_the_check_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second line of defence: had the check missed a request, the bundle would hold an
    input or an output that is not the upload's, and the link fails."""
    seen: list[Path] = []

    async def spy(workdir: Path, entry: str):  # type: ignore[no-untyped-def]
        seen.extend(sorted(path.name for path in workdir.iterdir()))
        return await real_bundle(workdir, entry)

    monkeypatch.setattr(LINK, "bundle", spy)
    asyncio.run(link([Module("main.js", ModuleType.ESM, b'import { bump } from "./lib/util.ts";\nexport default { bump };\n'), UTIL], "main.js"))
    assert seen == ["0.js", "1.ts", "bunfig.toml", "entry.js", "package.json", "tsconfig.json"]


@pytest.mark.parametrize(
    "code",
    [
        'import t from "./DOTS/etc/hostname" with { type: "text" };\nexport default { t };\n',
        'export default { t: require.resolve("./DOTS/etc/hostname") };\n',  # copied in as an asset, not an input
    ],
)
def test_a_request_the_check_missed_still_fails_the_link(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    monkeypatch.setattr(LINK, "find_imports", lambda module: [])  # as if the check had missed it
    main = Module("main.js", ModuleType.ESM, code.replace("DOTS", "/".join([".."] * 12)).encode())
    with pytest.raises(LinkError) as caught:
        asyncio.run(link([main], "main.js"))
    assert caught.value.code == "forbidden_import" and "hostname" not in caught.value.message


def test_absolute_parent_and_package_specifiers_stay_external_in_the_bundler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LINK, "find_imports", lambda module: [])
    code = b'import a from "/etc/hostname";\nimport b from "../../../../etc/hostname";\nimport c from "react";\nexport default { a, b, c };\n'
    linked = asyncio.run(link([Module("main.js", ModuleType.ESM, code)], "main.js"))
    # Left as run-time requires (which fail in an isolate: it has no `require`), never read.
    for specifier in ("/etc/hostname", "../../../../etc/hostname", "react"):
        assert f'__require("{specifier}")' in linked.code
