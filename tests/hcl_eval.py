"""Evaluate the simple Terraform expressions a stack's deploy-time values go through.

python-hcl2 gives an attribute either as a Python literal or as a ``${...}`` string. This
evaluates the small part of Terraform's expression language that a function's settings use
(numbers, strings, booleans, ``var.`` and ``local.`` references, arithmetic, comparisons,
``&&``/``||``/``!``, ``cond ? a : b``, ``floor``, ``min``, ``max`` and string templates) at
given variable values. Anything else (a resource attribute, a data source, another
function) is ``UNKNOWN``: a value only Terraform knows, at apply.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


class _NotSimple(Exception):
    """The expression leaves the evaluated subset."""


_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)"
    r'|(?P<string>"(?:[^"\\]|\\.)*")'
    r"|(?P<name>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>?:()!,]))"
)
_FUNCTIONS: dict[str, Callable[..., Any]] = {"floor": math.floor, "min": min, "max": max}
_BINARY = [
    ("||", lambda a, b: a or b),
    ("&&", lambda a, b: a and b),
    ("==", lambda a, b: a == b),
    ("!=", lambda a, b: a != b),
    ("<", lambda a, b: a < b),
    ("<=", lambda a, b: a <= b),
    (">", lambda a, b: a > b),
    (">=", lambda a, b: a >= b),
    ("+", lambda a, b: a + b),
    ("-", lambda a, b: a - b),
    ("*", lambda a, b: a * b),
    ("/", lambda a, b: a / b),
    ("%", lambda a, b: a % b),
]
_LEVELS = [{"||"}, {"&&"}, {"==", "!="}, {"<", "<=", ">", ">="}, {"+", "-"}, {"*", "/", "%"}]
_OPERATIONS = dict(_BINARY)


def _tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise _NotSimple(text[position:])
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


class Evaluator:
    """Values of expressions given the variables' values and the locals' expressions."""

    def __init__(self, variables: Mapping[str, Any], locals_: Mapping[str, Any]) -> None:
        self.variables = variables
        self.locals = locals_

    def value(self, node: Any) -> Any:
        """A parsed attribute's value; ``UNKNOWN`` where Terraform alone knows it."""
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if isinstance(node, dict):
            return {key: self.value(item) for key, item in node.items() if not key.startswith("__")}
        if not isinstance(node, str) or "${" not in node:
            return unescape(node) if isinstance(node, str) else node
        whole = re.fullmatch(r"\$\{(.*)\}", node, re.DOTALL)
        if whole and "${" not in whole.group(1):
            return self.expression(whole.group(1))
        parts = []
        for piece in re.split(r"(\$\{[^}]*\})", node):
            if piece.startswith("${"):
                part = self.expression(piece[2:-1])
                if part is UNKNOWN:
                    return UNKNOWN
                parts.append(str(part).lower() if isinstance(part, bool) else str(part))
            else:
                parts.append(unescape(piece))
        return "".join(parts)

    def expression(self, text: str) -> Any:
        try:
            parser = _Parser(_tokens(text), self)
            result = parser.ternary()
            if parser.tokens:
                raise _NotSimple(text)
            return result
        except _NotSimple:
            return UNKNOWN

    def reference(self, name: str) -> Any:
        if name in ("true", "false"):
            return name == "true"
        if name == "null":
            return None
        kind, _, rest = name.partition(".")
        if kind == "var" and rest in self.variables:
            return self.variables[rest]
        if kind == "local" and rest in self.locals:
            return self.value(self.locals[rest])
        raise _NotSimple(name)


def unescape(text: str) -> str:
    """A literal HCL string's text: `$${` and `%%{` are the escapes of `${` and `%{`."""
    return text.replace("$${", "${").replace("%%{", "%{")


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], evaluator: Evaluator) -> None:
        self.tokens = tokens
        self.evaluator = evaluator

    def take(self, op: str | None = None) -> tuple[str, str]:
        if not self.tokens or (op is not None and self.tokens[0] != ("op", op)):
            raise _NotSimple(op or "end")
        return self.tokens.pop(0)

    def peek(self, *ops: str) -> bool:
        return bool(self.tokens) and self.tokens[0][0] == "op" and self.tokens[0][1] in ops

    def ternary(self) -> Any:
        condition = self.binary(0)
        if not self.peek("?"):
            return condition
        self.take("?")
        if_true = self.ternary()
        self.take(":")
        if_false = self.ternary()
        return if_true if condition else if_false

    def binary(self, level: int) -> Any:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek(*_LEVELS[level]):
            _, op = self.take()
            right = self.binary(level + 1)
            left = _OPERATIONS[op](left, right)
        return left

    def unary(self) -> Any:
        if self.peek("!"):
            self.take()
            return not self.unary()
        if self.peek("-"):
            self.take()
            return -self.unary()
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "string":
            return unescape(text[1:-1].encode().decode("unicode_escape"))
        if kind == "op" and text == "(":
            inner = self.ternary()
            self.take(")")
            return inner
        if kind == "name" and self.peek("("):
            if text not in _FUNCTIONS:
                raise _NotSimple(text)
            self.take("(")
            arguments = [self.ternary()]
            while self.peek(","):
                self.take(",")
                arguments.append(self.ternary())
            self.take(")")
            return _FUNCTIONS[text](*arguments)
        if kind == "name":
            return self.evaluator.reference(text)
        raise _NotSimple(text)
