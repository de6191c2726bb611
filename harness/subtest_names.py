"""The subtest names a prog_tests C file starts, read from its source.

Most prog_tests name their subtests with a literal, ``test__start_subtest("attach")``.
Some loop over a table instead::

    static struct bond_test_case bond_test_cases[] = {
        { "xdp_bonding_roundrobin", BOND_MODE_ROUNDROBIN, ... },
        ...
    };
    ...
        struct bond_test_case *test_case = &bond_test_cases[i];
        if (test__start_subtest(test_case->name))

Such a name is read from the table when it is a static array initialized with
string literals: an array of strings (``names[i]``), or of structs whose field the
call reads (``tests[i].desc``, ``t->desc`` with ``t`` pointing into the table).
A name computed any other way (a buffer, a macro) is not known: the caller is told
the file has dynamic subtests.

Works on C source without comments (bpf_selftests.strip_comments). Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CALL_RE = re.compile(r"\btest__start_subtest\s*\(")
_LITERAL_RE = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*')
# `struct tag name[...] = {`, `struct { ... } name[] = {`, `struct tag { ... } name[] = {`
_STRUCT_ARRAY_RE = re.compile(
    r"\bstruct\s+(?P<tag>\w+)?\s*(?P<body>\{[^{}]*\})?\s*(?:const\s+)?"
    r"(?P<name>\w+)\s*\[[^\]]*\]\s*=\s*\{"
)
# `char *names[] = {`, `const char * const names[] = {`, `char names[][16] = {`
_STRING_ARRAY_RE = re.compile(
    r"\bchar\s*(?:\*\s*(?:const\s+)?)?(?P<name>\w+)\s*(?:\[[^\]]*\]\s*)+=\s*\{"
)
_STRUCT_DEF_RE = re.compile(r"\bstruct\s+(?P<tag>\w+)\s*(?P<body>\{[^{}]*\})")
# tests[i].desc | t->desc | t.desc
_FIELD_ARG_RE = re.compile(
    r"(?:(?P<array>\w+)\s*\[[^\]]*\]|(?P<var>\w+))\s*(?:\.|->)\s*(?P<field>\w+)"
)
_INDEX_ARG_RE = re.compile(r"(?P<array>\w+)\s*\[[^\]]*\]")
_DESIGNATED_RE = re.compile(r"\s*\.(?P<field>\w+)\s*=(?P<value>.*)", re.S)
_PAIRS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Table:
    """A static array initialized in the file: its struct's fields (none for an
    array of strings) and the text of each element's initializer."""

    fields: tuple[str, ...] | None
    elements: tuple[str, ...]


def find(code: str) -> tuple[list[str], bool]:
    """The subtest names in call order, each once, and whether some call's name
    could not be read from the source."""
    tables = _tables(code)
    names: list[str] = []
    dynamic = False
    for arg in call_arguments(code):
        found = resolve(arg, code, tables)
        if found is None:
            dynamic = True
            continue
        names.extend(n for n in found if n not in names)
    return names, dynamic


def call_arguments(code: str) -> list[str]:
    """The argument text of every test__start_subtest(...) call, in source order."""
    args = []
    for m in _CALL_RE.finditer(code):
        end = _closing(code, m.end() - 1)
        if end is not None:
            args.append(code[m.end() : end - 1].strip())
    return args


def resolve(arg: str, code: str, tables: dict[str, Table]) -> list[str] | None:
    """The names one call's argument takes: a literal, or a table's strings."""
    literal = string_literal(arg)
    if literal is not None:
        return [literal]
    m = _INDEX_ARG_RE.fullmatch(arg)
    if m and m["array"] in tables and tables[m["array"]].fields is None:
        return _column(tables[m["array"]], None)
    m = _FIELD_ARG_RE.fullmatch(arg)
    if m is None:
        return None
    array = m["array"] or _pointed_table(m["var"], m["field"], code, tables)
    table = tables.get(array) if array else None
    if table is None or table.fields is None:
        return None
    return _column(table, m["field"])


def string_literal(text: str) -> str | None:
    """The string of a lone literal ``"abc"``; None for anything else."""
    m = _LITERAL_RE.fullmatch(text)
    return m[1] if m else None


def split_top(text: str) -> list[str]:
    """Split at the commas outside brackets and strings: 'a, {b, c}, "d,e"' -> 3 items.
    A trailing comma adds no item."""
    items, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c in "\"'":
            i = _string_end(text, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
        i += 1
    items.append(text[start:])
    if items and not items[-1].strip():
        items.pop()
    return items


def struct_fields(body: str) -> tuple[str, ...] | None:
    """Field names of a struct body in order: '{ char *name; int a, b; }' -> (name, a, b).
    None when a declaration cannot be read (function pointers, nested structs)."""
    fields: list[str] = []
    for raw in body.strip()[1:-1].split(";"):
        decl = re.sub(r"\[[^\]]*\]|:\s*\w+", "", raw)
        if not decl.strip():
            continue
        for part in decl.split(","):
            m = re.search(r"(?:^|[\s*])(\w+)\s*$", part)
            if m is None:
                return None
            fields.append(m[1])
    return tuple(fields)


def initialized_field(element: str, fields: tuple[str, ...], field: str) -> str | None:
    """The string literal an element's initializer ``{ ... }`` gives the field, by
    position or by designator (``.name = "x"``); None if it gives anything else."""
    text = element.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    pos = 0
    for item in split_top(text[1:-1]):
        value = item
        m = _DESIGNATED_RE.fullmatch(item)
        if m:
            if m["field"] not in fields:
                return None
            pos = fields.index(m["field"])
            value = m["value"]
        if pos < len(fields) and fields[pos] == field:
            return string_literal(value)
        pos += 1
    return None


def _tables(code: str) -> dict[str, Table]:
    """Every array with an initializer, of strings or of structs. A name defined twice
    (a ``tests[]`` in each of two functions) is left out: which one a call reads is
    not known."""
    structs = {m["tag"]: m["body"] for m in _STRUCT_DEF_RE.finditer(code)}
    found: list[tuple[str, Table | None]] = []
    for m in _STRING_ARRAY_RE.finditer(code):
        elements = _initializer(code, m.end() - 1)
        found.append((m["name"], Table(None, elements) if elements is not None else None))
    for m in _STRUCT_ARRAY_RE.finditer(code):
        body = m["body"] or structs.get(m["tag"] or "")
        fields = struct_fields(body) if body else None
        elements = _initializer(code, m.end() - 1)
        table = None if fields is None or elements is None else Table(fields, elements)
        found.append((m["name"], table))
    names = [name for name, _ in found]
    return {name: table for name, table in found if table is not None and names.count(name) == 1}


def _pointed_table(var: str, field: str, code: str, tables: dict[str, Table]) -> str | None:
    """The table a pointer or copy reads from: the one assigned to it (``t = &tests[i]``,
    ``t = tests + i``); for one never assigned (a parameter), the only table whose
    struct has the field. None when it is assigned something else."""
    assigned = [m[1] for m in re.finditer(rf"\b{re.escape(var)}\s*=(?!=)\s*&?\s*(\w+)", code)]
    if assigned:
        return next((name for name in assigned if name in tables), None)
    having = [n for n, t in tables.items() if t.fields is not None and field in t.fields]
    return having[0] if len(having) == 1 else None


def _column(table: Table, field: str | None) -> list[str] | None:
    """One string per element: the element itself, or its field; None if one is not
    a literal."""
    out = []
    for element in table.elements:
        value = (
            string_literal(element)
            if field is None or table.fields is None
            else initialized_field(element, table.fields, field)
        )
        if value is None:
            return None
        out.append(value)
    return out or None


def _initializer(code: str, brace: int) -> tuple[str, ...] | None:
    """The elements of the initializer whose ``{`` is at code[brace]."""
    end = _closing(code, brace)
    return None if end is None else tuple(split_top(code[brace + 1 : end - 1]))


def _closing(code: str, start: int) -> int | None:
    """Index just past the bracket that closes the one at code[start]."""
    stack: list[str] = []
    i = start
    while i < len(code):
        c = code[i]
        if c in "\"'":
            i = _string_end(code, i)
            continue
        if c in _PAIRS:
            stack.append(_PAIRS[c])
        elif c in ")]}":
            if not stack or stack.pop() != c:
                return None
            if not stack:
                return i + 1
        i += 1
    return None


def _string_end(text: str, start: int) -> int:
    """Index just past the string or character literal starting at text[start]."""
    quote, i = text[start], start + 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    return i + 1
