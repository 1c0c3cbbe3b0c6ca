"""TaskRouter's expression language, the subset flexchat evaluates: workflow filter
``expression`` values and the task list's ``EvaluateTaskAttributes``.

Supported: attribute paths (``language``, ``customer.tier``, ``skills[0]``; a leading
``task.`` is allowed; a key the attributes lack is null), string (single or double
quotes), number, ``true``/``false``/``null`` and list literals; ``==`` (or ``=``), ``!=``,
``>``, ``<``, ``>=``, ``<=``, ``IN`` / ``NOT IN``, ``HAS`` (a list attribute holds the
value), ``CONTAINS`` (a string attribute holds the substring); ``AND``, ``OR``, ``NOT``
and parentheses; keywords in any case. ``1 == 1`` is the usual "everything" filter.
Not supported (a 400 that says so): worker expressions and TaskRouter's time functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..errors import InvalidParameter

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>==|!=|>=|<=|=|>|<|\(|\)|\[|\]|,)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "has", "contains", "true", "false", "null"}
MAX_LENGTH = 4096
MAX_NESTING = 50


def _tokens(text: str, name: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise InvalidParameter(f"Invalid {name}: cannot read the expression at {text[position:position + 20]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            out.append(("literal", re.sub(r"\\(.)", r"\1", value[1:-1])))
        elif kind == "number":
            out.append(("literal", float(value) if "." in value else int(value)))
        elif kind == "word" and value.lower() in _KEYWORDS:
            lowered = value.lower()
            if lowered in ("true", "false"):
                out.append(("literal", lowered == "true"))
            elif lowered == "null":
                out.append(("literal", None))
            else:
                out.append(("keyword", lowered))
        else:
            out.append((kind, value))
    return out


class _Parser:
    def __init__(self, text: str, name: str) -> None:
        self.name = name
        if len(text) > MAX_LENGTH:
            raise self.fail(f"an expression is at most {MAX_LENGTH} characters")
        self.tokens = _tokens(text, name)
        self.position = 0
        self.depth = 0

    def fail(self, what: str) -> InvalidParameter:
        return InvalidParameter(f"Invalid {self.name}: {what}")

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        if token is None:
            raise self.fail("the expression ends too early")
        self.position += 1
        return token

    def accept(self, kind: str, value: Any) -> bool:
        if self.peek() == (kind, value):
            self.position += 1
            return True
        return False

    def parse(self) -> Predicate:
        if not self.tokens:
            raise self.fail("the expression is empty")
        predicate = self.disjunction()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.accept("keyword", "or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda attrs: any(part(attrs) for part in parts))

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.accept("keyword", "and"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else (lambda attrs: all(part(attrs) for part in parts))

    def negation(self) -> Predicate:
        # Nesting is bounded: the parser and the predicates it builds recurse.
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"an expression nests at most {MAX_NESTING} levels")
        try:
            if self.accept("keyword", "not"):
                inner = self.negation()
                return lambda attrs: not inner(attrs)
            if self.accept("op", "("):
                inner = self.disjunction()
                if not self.accept("op", ")"):
                    raise self.fail("a parenthesis is not closed")
                return inner
            return self.comparison()
        finally:
            self.depth -= 1

    def operand(self) -> Callable[[dict[str, Any]], Any]:
        kind, value = self.take()
        if kind == "literal":
            return lambda attrs: value
        if kind == "word":
            path: list[str | int] = list(value.split("."))
            if path[0] == "task" and len(path) > 1:
                path = path[1:]
            if path[0] in ("worker", "taskrouter"):
                raise self.fail(f"{value!r}: flexchat evaluates task attributes only")
            # Array indices: object.array[2]
            while self.accept("op", "["):
                index_kind, index = self.take()
                if index_kind != "literal" or type(index) is not int or not self.accept("op", "]"):
                    raise self.fail(f"{value!r}: an index is a whole number in brackets")
                path.append(index)
            return lambda attrs: _lookup(attrs, path)
        if (kind, value) == ("op", "["):
            items: list[Any] = []
            while not self.accept("op", "]"):
                item_kind, item = self.take()
                if item_kind != "literal":
                    raise self.fail("a list holds literals only")
                items.append(item)
                if not self.accept("op", ","):
                    if not self.accept("op", "]"):
                        raise self.fail("a list is not closed")
                    break
            return lambda attrs: items
        raise self.fail(f"unexpected {value!r}")

    def comparison(self) -> Predicate:
        left = self.operand()
        token = self.peek()
        if token is None:
            raise self.fail("a comparison is missing its operator")
        kind, op = token
        if kind == "op" and op in ("==", "=", "!=", ">", "<", ">=", "<="):
            self.position += 1
            op = "==" if op == "=" else op  # TaskRouter reads a single = as equality too
            right = self.operand()
            return lambda attrs: _compare(op, left(attrs), right(attrs))
        if kind == "keyword" and op in ("in", "has", "contains", "not"):
            self.position += 1
            negate = op == "not"
            if negate and not self.accept("keyword", "in"):
                raise self.fail("NOT must be followed by IN here")
            right = self.operand()
            if op == "has":
                return lambda attrs: _has(left(attrs), right(attrs))
            if op == "contains":
                return lambda attrs: _contains(left(attrs), right(attrs))
            return lambda attrs: _has(right(attrs), left(attrs)) != negate
        raise self.fail(f"unexpected {op!r}")


def _lookup(attrs: Any, path: list[str | int]) -> Any:
    """The value at ``path``; a key the document does not have resolves to null, as in
    TaskRouter."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(attrs, list) or not -len(attrs) <= key < len(attrs):
                return None
        elif not isinstance(attrs, dict) or key not in attrs:
            return None
        attrs = attrs[key]
    return attrs


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    try:
        if op == ">":
            return bool(left > right)
        if op == "<":
            return bool(left < right)
        if op == ">=":
            return bool(left >= right)
        return bool(left <= right)
    except TypeError:  # "a" > 1: TaskRouter matches nothing rather than failing
        return False


def _has(container: Any, value: Any) -> bool:
    return isinstance(container, list) and value in container


def _contains(text: Any, part: Any) -> bool:
    return isinstance(text, str) and isinstance(part, str) and part in text


def compile_expression(text: str, name: str = "expression") -> Predicate:
    """A predicate over a task's attributes (a dict); :class:`InvalidParameter` naming
    ``name`` where the expression cannot be read or uses what flexchat does not evaluate."""
    return _Parser(text, name).parse()
