"""The link step on its own: real Bun, real tree-sitter, no server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from isolane.linker import LinkError, Module, ModuleType, SourceMap, link


def js(name: str, code: str) -> Module:
    return Module(name, ModuleType.ESM, code.encode())


def ts(name: str, code: str) -> Module:
    return Module(name, ModuleType.TYPESCRIPT, code.encode())


def run(modules: list[Module], main: str):
    return asyncio.run(link(modules, main))


def refused(modules: list[Module], main: str) -> LinkError:
    with pytest.raises(LinkError) as caught:
        run(modules, main)
    return caught.value


UTIL = ts("lib/util.ts", "export let counter: number = 0;\nexport function bump(): void { counter++; }\n")


def test_typescript_graph_becomes_one_script_with_types_stripped() -> None:
    main = ts(
        "main.ts",
        'import { counter, bump } from "./lib/util";\ninterface Env { NAME: string }\n'
        "export default { fetch(r: Request, env: Env): number { bump(); return counter; } };\n",
    )
    linked = run([main, UTIL], "main.ts")
    assert linked.code.startswith("(function (__isolane_exports) {")
    assert "interface" not in linked.code and ": number" not in linked.code
    assert set(SourceMap.parse(linked.source_map).sources) >= {"main.ts", "lib/util.ts"}


def test_positions_map_back_to_the_module_and_line() -> None:
    main = ts("main.ts", 'import { bump } from "./lib/util.ts";\n\ntype T = string;\nexport default { fetch() { bump(); throw new Error("x"); } };\n')
    linked = run([main, UTIL], "main.ts")
    lines = linked.code.split("\n")
    line = next(i for i, text in enumerate(lines, 1) if "throw new Error" in text)
    position = SourceMap.parse(linked.source_map).original(line, lines[line - 1].index("throw") + 1)
    assert position is not None and (position.source, position.line) == ("main.ts", 4)


def test_text_json_and_data_modules() -> None:
    modules = [
        js("main.js", 'import page from "./page.html";\nimport conf from "./conf.json";\nimport raw from "./blob.bin";\nexport default { page, conf, raw };\n'),
        Module("page.html", ModuleType.TEXT, b"<b>hi</b>"),
        Module("conf.json", ModuleType.JSON, b'{"a": 1}'),
        Module("blob.bin", ModuleType.DATA, bytes(range(4))),
    ]
    linked = run(modules, "main.js")
    assert "<b>hi</b>" in linked.code and 'atob("AAECAw==")' in linked.code


@pytest.mark.parametrize(
    ("code", "error_code"),
    [
        ('import t from "/etc/hostname" with { type: "text" };', "forbidden_import"),
        ('import t from "../../etc/passwd";', "forbidden_import"),
        ('import t from "./lib/../../etc/passwd";', "forbidden_import"),
        ('import t from "https://example.com/x.js";', "forbidden_import"),
        ('import t from "npm:lodash";', "forbidden_import"),
        ('import t from "jsr:@std/path";', "forbidden_import"),
        ('import t from "node:fs";', "forbidden_import"),
        ('import t from "fs";', "forbidden_import"),
        ('export * from "/etc/passwd";', "forbidden_import"),
        ('const t = require("/etc/passwd");', "forbidden_import"),
        ('const t = await import("/etc/passwd");', "forbidden_import"),
        ('const t = await import(`../../etc/passwd`);', "forbidden_import"),
        ('import t from "./missing.js";', "unresolved_import"),
        ('import t from "./other.txt" with { type: "text" };', "unresolved_import"),
        ('import { bump } from "./lib/util.ts" with { type: "macro" };', "unsupported_import_attribute"),
        ('import { bump } from "./lib/util.ts" with { type: "file" };', "unsupported_import_attribute"),
    ],
)
def test_imports_outside_the_upload_are_refused(code: str, error_code: str) -> None:
    error = refused([js("main.js", code + "\nexport default {};\n"), UTIL], "main.js")
    assert error.code == error_code, error.message
    assert error.module == "main.js" and error.line == 1


def test_typescript_require_import_is_checked_too() -> None:
    error = refused([ts("main.ts", 'import t = require("/etc/passwd");\nexport default {};\n')], "main.ts")
    assert error.code == "forbidden_import"


def test_no_host_file_reaches_a_bundle(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host-secret-7f3a")
    attempts = [
        f'import t from "{secret}" with {{ type: "text" }};',
        f'import t from "{secret.parent}/../{secret.parent.name}/secret.txt";',
        f'const t = require("{secret}");',
    ]
    for code in attempts:
        with pytest.raises(LinkError) as caught:
            run([js("main.js", code + "\nexport default { t };\n")], "main.js")
        assert "host-secret" not in caught.value.message


def test_module_names_cannot_escape_or_shadow_configuration() -> None:
    for name in ("../evil.js", "/abs.js", "a//b.js", "./x.js", "a/../b.js", ""):
        assert refused([js(name, "export default {};")], name).code == "invalid_module_name"


def test_uploaded_config_files_are_just_modules() -> None:
    # A tenant's tsconfig.json or package.json never configures the bundler: on disk
    # every module has an opaque name.
    modules = [
        js("main.js", 'import conf from "./tsconfig.json";\nexport default { conf };\n'),
        Module("tsconfig.json", ModuleType.JSON, b'{"compilerOptions": {"paths": {"x": ["/etc/passwd"]}}}'),
    ]
    assert "compilerOptions" in run(modules, "main.js").code


def test_syntax_errors_name_module_line_and_column() -> None:
    error = refused([js("main.js", "export default {\n  fetch() { return 1 + ; }\n};\n")], "main.js")
    assert (error.code, error.module, error.line) == ("syntax_error", "main.js", 2)
    error = refused([js("main.js", 'import { bump } from "./lib/util.ts";\nexport default {};\n'), ts("lib/util.ts", "export const x: = 1;\n")], "main.js")
    assert (error.code, error.module, error.line) == ("syntax_error", "lib/util.ts", 1)


def test_missing_export_is_reported_in_upload_names() -> None:
    error = refused([js("main.js", 'import { nope } from "./lib/util.ts";\nexport default { nope };\n'), UTIL], "main.js")
    assert "lib/util.ts" in error.message and "1.ts" not in error.message


def test_main_module_must_exist_and_be_code() -> None:
    assert refused([js("a.js", "export default {};")], "b.js").code == "main_module_missing"
    assert refused([Module("a.txt", ModuleType.TEXT, b"x")], "a.txt").code == "main_module_invalid"
    assert refused([], "a.js").code == "empty_script"


def test_invalid_json_module_is_refused() -> None:
    modules = [js("main.js", 'import c from "./c.json";\nexport default { c };'), Module("c.json", ModuleType.JSON, b"{nope")]
    assert refused(modules, "main.js").code == "invalid_json_module"
