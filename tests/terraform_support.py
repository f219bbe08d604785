"""Helpers for the Terraform stack's tests: parsing, references, `terraform fmt` layout.

No terraform binary is needed: python-hcl2 parses the files, references are found with
regular expressions over the raw text (comments removed), and the layout check follows
hclwrite's rules (two-space indent per open bracket, `=` aligned over runs of single-line
attributes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import hcl2

OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)

Config = dict[str, Any]


def parse(text: str) -> Config:
    return hcl2.loads(text, serialization_options=OPTIONS)


def parse_folder(folder: Path) -> dict[str, Config]:
    return {
        path.name: parse(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.tf"))
    }


def blocks(configs: dict[str, Config], kind: str) -> Iterator[tuple[str, Any]]:
    for config in configs.values():
        for block in config.get(kind, []):
            yield from block.items()


def labelled(configs: dict[str, Config], kind: str) -> dict[str, dict[str, Any]]:
    """`resource`/`data`/`ephemeral` blocks as {"type.name": body}."""
    found: dict[str, dict[str, Any]] = {}
    for type_, named in blocks(configs, kind):
        for name, body in named.items():
            key = f"{type_}.{name}"
            assert key not in found, f"{kind} {key} declared twice"
            found[key] = body
    return found


def named(configs: dict[str, Config], kind: str) -> dict[str, Any]:
    """`variable`/`output` blocks as {name: body}; `locals` as {name: expression}."""
    found: dict[str, Any] = {}
    for name, body in blocks(configs, kind):
        if name == "__comments__":
            continue
        assert name not in found, f"{kind} {name} declared twice"
        found[name] = body
    return found


def comments(body: dict[str, Any]) -> list[str]:
    return [c["value"].strip() for c in body.get("__comments__", [])]


# ---------------------------------------------------------------- references

PROVIDER_PREFIXES = ("aws", "mongodbatlas", "terraform")
REFERENCE_PATTERNS = {
    "var": re.compile(r"(?<![\w.])var\.([A-Za-z_][\w-]*)"),
    "local": re.compile(r"(?<![\w.])local\.([A-Za-z_][\w-]*)"),
    "data": re.compile(r"(?<![\w.])data\.([A-Za-z_]\w*)\.([A-Za-z_][\w-]*)"),
    "ephemeral": re.compile(r"(?<![\w.])ephemeral\.([A-Za-z_]\w*)\.([A-Za-z_][\w-]*)"),
    "module": re.compile(r"(?<![\w.])module\.([A-Za-z_][\w-]*)"),
    "resource": re.compile(
        rf"(?<![\w.\"])((?:{'|'.join(PROVIDER_PREFIXES)})_\w+)\.([A-Za-z_][\w-]*)"
    ),
}


def strip_comments(text: str) -> str:
    """The text without full-line `#` and `//` comments (the stack has no trailing ones)."""
    return "\n".join(
        "" if line.lstrip().startswith(("#", "//")) else line for line in text.splitlines()
    )


def references(text: str) -> set[tuple[str, str]]:
    """Every (kind, target) the text refers to, e.g. ("resource", "aws_vpc.main")."""
    text = strip_comments(text)
    found = set()
    for kind, pattern in REFERENCE_PATTERNS.items():
        for match in pattern.finditer(text):
            found.add((kind, ".".join(match.groups())))
    return found


def declared(configs: dict[str, Config]) -> set[tuple[str, str]]:
    found = {("var", name) for name in named(configs, "variable")}
    found |= {("local", name) for name in named(configs, "locals")}
    found |= {("data", key) for key in labelled(configs, "data")}
    found |= {("ephemeral", key) for key in labelled(configs, "ephemeral")}
    found |= {("resource", key) for key in labelled(configs, "resource")}
    found |= {("module", name) for name in named(configs, "module")}
    return found


def unresolved(texts: dict[str, str], configs: dict[str, Config]) -> list[str]:
    known = declared(configs)
    return sorted(
        f"{file}: {kind} {target}"
        for file, text in texts.items()
        for kind, target in references(text)
        if (kind, target) not in known
    )


def unused(texts: dict[str, str], configs: dict[str, Config]) -> list[str]:
    """Declared variables, locals, data sources and ephemerals nothing else refers to.

    A variable's own validation block does not count as a use.
    """
    used = set()
    for text in texts.values():
        used |= references(_without_variable_blocks(text))
    candidates = declared(configs) - {("resource", key) for key in labelled(configs, "resource")}
    return sorted(f"{kind} {target}" for kind, target in candidates - used)


def _without_variable_blocks(text: str) -> str:
    return re.sub(r'^variable "[^"]+" \{\n.*?^\}\n', "", text, flags=re.MULTILINE | re.DOTALL)


def expression_refs(value: Any) -> set[str]:
    """Resource/data references inside one parsed attribute value."""
    import json

    return {target for _, target in references(json.dumps(value))}


# ---------------------------------------------------------------- terraform fmt layout

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_OPEN = "([{"
_CLOSE = ")]}"


def _code(line: str) -> str:
    """The line with string contents blanked and any comment removed."""
    code = _STRING.sub(lambda m: '"' + "_" * (len(m.group()) - 2) + '"', line)
    for marker in ("#", "//"):
        if code.lstrip().startswith(marker):
            return ""
    return code


def fmt_problems(text: str) -> list[str]:
    """Where `text` differs from what `terraform fmt` writes (indent, `=` alignment, blanks).

    Indentation follows hclwrite: a line with a net increase of open brackets indents what
    follows by one level, however many brackets it opened; closing them dedents by one.
    """
    problems: list[str] = []
    lines = text.split("\n")
    if not text.endswith("\n") or text.endswith("\n\n"):
        problems.append("file must end with exactly one newline")
    indents: list[int] = []
    chain: list[tuple[int, int, int]] = []  # (line number, key width, column of "=")

    def close_chain() -> None:
        if chain:
            width = max(key for _, key, _ in chain)
            for number, _, column in chain:
                if column != width + 1:
                    problems.append(f"line {number}: '=' at column {column}, expected {width + 1}")
        chain.clear()

    for number, line in enumerate(lines[:-1], start=1):
        if line != line.rstrip():
            problems.append(f"line {number}: trailing whitespace")
        if "\t" in line:
            problems.append(f"line {number}: tab")
        if not line.strip():
            close_chain()
            continue
        code = _code(line)
        net = sum(code.count(c) for c in _OPEN) - sum(code.count(c) for c in _CLOSE)
        expected = 2 * len(indents)
        if net > 0:
            indents.append(net)
        elif net < 0:
            closed = -net
            while closed > 0 and indents:
                if closed >= indents[-1]:
                    closed -= indents.pop()
                else:
                    indents[-1] -= closed
                    closed = 0
            expected = 2 * len(indents)
        indent = len(line) - len(line.lstrip(" "))
        if indent != expected:
            problems.append(f"line {number}: indent {indent}, expected {expected}")
        match = re.match(r"^(\s*)([^=\s][^=]*?)(\s*)=(?![=>])", code)
        if match and net == 0:
            key_width = len(match.group(2))
            column = len(match.group(2)) + len(match.group(3))
            chain.append((number, key_width, column))
            after = code[match.end() :]
            if not after.startswith(" ") or after.startswith("  "):
                problems.append(f"line {number}: one space expected after '='")
        else:
            close_chain()
            if match and match.group(3) != " ":
                problems.append(f"line {number}: one space expected before '='")
    close_chain()
    if indents:
        problems.append(f"unbalanced brackets ({len(indents)} levels open at the end)")
    return problems


# ---------------------------------------------------------------- expressions


def strings(value: Any) -> Iterator[str]:
    """Every string inside a parsed value (attribute values, nested blocks, lists)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in ("__comments__", "__inline_comments__"):
                yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def enclosing_calls(expression: str, position: int) -> list[str]:
    """The functions whose argument list holds `position`, outermost first (quotes ignored)."""
    calls: list[str] = []
    for match in re.finditer(r"([A-Za-z_]\w*)?\(|\)", _STRING.sub('""', expression[:position])):
        if match.group() == ")":
            if calls:
                calls.pop()
        else:
            calls.append(match.group(1) or "")
    return calls


class ParsedConfiguration:
    """A configuration's ``*.tf`` files, each parsed once; for a class that sets ``folder``."""

    folder: Path

    @cached_property
    def texts(self) -> dict[str, str]:
        return {p.name: p.read_text(encoding="utf-8") for p in sorted(self.folder.glob("*.tf"))}

    @cached_property
    def configs(self) -> dict[str, Config]:
        return {name: parse(text) for name, text in self.texts.items()}

    @cached_property
    def resources(self) -> dict[str, dict[str, Any]]:
        return labelled(self.configs, "resource")

    @cached_property
    def data(self) -> dict[str, dict[str, Any]]:
        return labelled(self.configs, "data")

    @cached_property
    def ephemeral(self) -> dict[str, dict[str, Any]]:
        return labelled(self.configs, "ephemeral")

    @cached_property
    def variables(self) -> dict[str, dict[str, Any]]:
        return named(self.configs, "variable")

    @cached_property
    def locals(self) -> dict[str, Any]:
        return named(self.configs, "locals")

    @cached_property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return named(self.configs, "output")

    @cached_property
    def checks(self) -> dict[str, Any]:
        return named(self.configs, "check")
