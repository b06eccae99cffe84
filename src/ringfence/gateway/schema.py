"""Route JSON Schemas compiled once for the hot path, with jsonschema as the authority.

``jsonschema`` walks a schema per instance through several object layers (milliseconds for a
4 KiB document). Route schemas mostly use a small vocabulary (type, properties, required,
additionalProperties, items, length/size/range bounds, enum, const, pattern), so
``compile_schema`` generates one flat Python function (loops and ifs, like fastjsonschema) with
the same semantics on parsed JSON (exact built-in types, as orjson returns them; a value is
only checked against the keywords of its own type), differentially tested against jsonschema.
Generated code embeds no schema string except ``repr``-quoted property names; bounds, enums
and patterns are passed in as constants. A schema using anything else is not compiled:
``RouteValidator`` then uses jsonschema for every instance. Error details always come from
jsonschema, only on failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2
from jsonschema import ValidationError
from jsonschema.validators import extend, validator_for

Check = Callable[[Any], bool]

# Route schemas' ``pattern`` and ``patternProperties`` run on untrusted bodies: they are matched
# with RE2 (linear time), never Python's backtracking ``re`` — a pattern like ``^(a+)+$`` is
# harmless here. A pattern RE2 cannot compile is refused when the route is loaded
# (``pattern_problems``).
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_CACHE: dict[str, Any] = {}


def re2_pattern(pattern: str) -> Any:
    """``pattern`` compiled with RE2 (cached); raises ``ValueError`` if RE2 refuses it."""
    compiled = _RE2_CACHE.get(pattern)
    if compiled is None:
        try:
            compiled = re2.compile(pattern, _RE2_OPTIONS)
        except Exception as exc:
            raise ValueError(f"pattern {pattern!r} is not RE2 syntax: {exc}") from None
        if len(_RE2_CACHE) < 4096:
            _RE2_CACHE[pattern] = compiled
    return compiled


def pattern_problems(schema: Any) -> list[str]:
    """Every ``pattern`` / ``patternProperties`` key in ``schema`` that RE2 cannot compile."""
    problems: list[str] = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            patterns: list[Any] = []
            if key == "pattern" and isinstance(value, str):
                patterns = [value]
            elif key == "patternProperties" and isinstance(value, dict):
                patterns = list(value)
            for pat in patterns:
                try:
                    re2_pattern(pat)
                except ValueError as exc:
                    problems.append(str(exc))
            if isinstance(value, dict | list):
                stack.append(value)
    return problems


def _re2_keyword_pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and re2_pattern(patrn).search(instance) is None:
        yield ValidationError(f"string does not match {patrn!r}")


def _re2_keyword_pattern_properties(
    validator: Any, pattern_properties: dict[str, Any], instance: Any, schema: Any
) -> Any:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        rx = re2_pattern(pattern)
        for k, v in instance.items():
            if rx.search(k) is not None:
                yield from validator.descend(v, subschema, path=k, schema_path=pattern)


def reference_validator(schema: Any) -> Any:
    """jsonschema's validator for ``schema``'s dialect, matching patterns with RE2."""
    cls = extend(
        validator_for(schema),
        {"pattern": _re2_keyword_pattern, "patternProperties": _re2_keyword_pattern_properties},
    )
    return cls(schema)


_IGNORED = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "examples",
        "default",
        "format",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_SUPPORTED = _IGNORED | {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "maxItems",
    "minItems",
    "maxLength",
    "minLength",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "pattern",
    "maxProperties",
    "minProperties",
    "uniqueItems",
}


class _Unsupported(Exception):
    pass


def _json_equal(a: Any, b: Any) -> bool:
    """jsonschema's equality: booleans never equal numbers; containers compare deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


# Instances are parsed JSON (orjson): exactly dict, list, str, int, float, bool or None, so
# exact type tests suffice (and ``type(v) is int`` already excludes bool).
_TYPE_EXPR = {
    "object": "type({v}) is dict",
    "array": "type({v}) is list",
    "string": "type({v}) is str",
    "boolean": "type({v}) is bool",
    "null": "{v} is None",
    "integer": "(type({v}) is int or (type({v}) is float and {v}.is_integer()))",
    "number": "(type({v}) is int or type({v}) is float)",
}


class _Gen:
    """Generates one flat Python function (loops and ifs, no per-value calls)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {}
        self.n = 0

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, value: Any) -> str:
        key = self.name("C")
        self.consts[key] = value
        return key

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def schema(self, schema: Any, v: str, ind: int) -> None:
        if schema is True or schema == {}:
            return
        if schema is False:
            self.emit(ind, "return False")
            return
        if not isinstance(schema, dict):
            raise _Unsupported("schema")
        unknown = set(schema) - _SUPPORTED
        if unknown:
            raise _Unsupported(",".join(sorted(unknown)))
        known: str | None = None  # the one type a value reaching the next lines can have
        if "type" in schema:
            names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not names or any(n not in _TYPE_EXPR for n in names):
                raise _Unsupported("type")
            cond = " or ".join(_TYPE_EXPR[n].format(v=v) for n in names)
            self.emit(ind, f"if not ({cond}): return False")
            if len(names) == 1:
                known = "number" if names[0] == "integer" else names[0]
        if "enum" in schema:
            c = self.const(list(schema["enum"]))
            self.emit(ind, f"if not any(_eq({v}, o) for o in {c}): return False")
        if "const" in schema:
            c = self.const(schema["const"])
            self.emit(ind, f"if not _eq({v}, {c}): return False")
        self._strings(schema, v, ind, known)
        self._numbers(schema, v, ind, known)
        self._arrays(schema, v, ind, known)
        self._objects(schema, v, ind, known)

    def _guard(self, kind: str, cond: str, ind: int, known: str | None) -> int | None:
        """Open ``if <value is kind>:`` and return the body's indent; None: cannot apply.

        Once ``type`` has pinned the value to one kind, the guard is known true (no line)
        or known false (the keywords of other kinds do not apply: no code).
        """
        if known is None:
            self.emit(ind, f"if {cond}:")
            return ind + 1
        return ind if known == kind else None

    def _strings(self, schema: dict[str, Any], v: str, ind: int, known: str | None) -> None:
        keys = [k for k in ("maxLength", "minLength", "pattern") if k in schema]
        if not keys:
            return
        if "pattern" in schema:
            rx = self.const(re2_pattern(schema["pattern"]))
        inner = self._guard("string", f"type({v}) is str", ind, known)
        if inner is None:
            return
        if "maxLength" in schema:
            self.emit(inner, f"if len({v}) > {int(schema['maxLength'])}: return False")
        if "minLength" in schema:
            self.emit(inner, f"if len({v}) < {int(schema['minLength'])}: return False")
        if "pattern" in schema:
            self.emit(inner, f"if {rx}.search({v}) is None: return False")

    def _numbers(self, schema: dict[str, Any], v: str, ind: int, known: str | None) -> None:
        ops = {"minimum": "<", "maximum": ">", "exclusiveMinimum": "<=", "exclusiveMaximum": ">="}
        keys = [k for k in ops if k in schema]
        if not keys:
            return
        for k in keys:
            bound = schema[k]
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise _Unsupported(k)  # draft-4 boolean form
        inner = self._guard("number", _TYPE_EXPR["number"].format(v=v), ind, known)
        if inner is None:
            return
        for k in keys:
            self.emit(inner, f"if {v} {ops[k]} {self.const(schema[k])}: return False")

    def _arrays(self, schema: dict[str, Any], v: str, ind: int, known: str | None) -> None:
        keys = [k for k in ("maxItems", "minItems", "items", "uniqueItems") if k in schema]
        if not keys:
            return
        if isinstance(schema.get("items"), list):
            raise _Unsupported("items-tuple")
        inner = self._guard("array", f"type({v}) is list", ind, known)
        if inner is None:
            return
        ind = inner - 1  # the body below is written at ind + 1
        if "maxItems" in schema:
            self.emit(ind + 1, f"if len({v}) > {int(schema['maxItems'])}: return False")
        if "minItems" in schema:
            self.emit(ind + 1, f"if len({v}) < {int(schema['minItems'])}: return False")
        if schema.get("uniqueItems") is True:
            self.emit(ind + 1, f"if not _unique({v}): return False")
        if "items" in schema:
            if isinstance(schema["items"], list):
                raise _Unsupported("items-tuple")
            x = self.name("x")
            self.emit(ind + 1, f"for {x} in {v}:")
            before = len(self.lines)
            self.schema(schema["items"], x, ind + 2)
            if len(self.lines) == before:
                self.emit(ind + 2, "pass")

    def _objects(self, schema: dict[str, Any], v: str, ind: int, known: str | None) -> None:
        props = schema.get("properties") or {}
        required = list(schema.get("required") or ())
        additional = schema.get("additionalProperties", True)
        keys = [k for k in ("maxProperties", "minProperties") if k in schema]
        if not (props or required or keys or additional is not True):
            return
        inner = self._guard("object", f"type({v}) is dict", ind, known)
        if inner is None:
            return
        ind = inner - 1  # the body below is written at ind + 1
        for k in required:
            self.emit(ind + 1, f"if {str(k)!r} not in {v}: return False")
        if "maxProperties" in schema:
            self.emit(ind + 1, f"if len({v}) > {int(schema['maxProperties'])}: return False")
        if "minProperties" in schema:
            self.emit(ind + 1, f"if len({v}) < {int(schema['minProperties'])}: return False")
        if additional is True:
            for k, sub in props.items():
                x = self.name("x")
                self.emit(ind + 1, f"{x} = {v}.get({str(k)!r}, _MISSING)")
                self.emit(ind + 1, f"if {x} is not _MISSING:")
                before = len(self.lines)
                self.schema(sub, x, ind + 2)
                if len(self.lines) == before:
                    self.emit(ind + 2, "pass")
            return
        key, x = self.name("k"), self.name("x")
        self.emit(ind + 1, f"for {key}, {x} in {v}.items():")
        first = True
        for k, sub in props.items():
            self.emit(ind + 2, f"{'if' if first else 'elif'} {key} == {str(k)!r}:")
            first = False
            before = len(self.lines)
            self.schema(sub, x, ind + 3)
            if len(self.lines) == before:
                self.emit(ind + 3, "pass")
        if first:
            self.schema(additional, x, ind + 2)
            if self.lines[-1].strip().startswith("for "):
                self.emit(ind + 2, "pass")
        else:
            self.emit(ind + 2, "else:")
            before = len(self.lines)
            self.schema(additional, x, ind + 3)
            if len(self.lines) == before:
                self.emit(ind + 3, "pass")


def _unique(v: list[Any]) -> bool:
    return not any(_json_equal(v[i], v[j]) for i in range(len(v)) for j in range(i))


_MISSING = object()


def _compile(schema: Any) -> Check:
    gen = _Gen()
    gen.emit(0, "def _valid(v0):")
    gen.schema(schema, "v0", 1)
    gen.emit(1, "return True")
    namespace: dict[str, Any] = {"_eq": _json_equal, "_unique": _unique, "_MISSING": _MISSING}
    namespace.update(gen.consts)
    code = compile("\n".join(gen.lines), "<route-schema>", "exec")
    exec(code, namespace)  # noqa: S102 - code generated from a validated schema, no user strings
    fn: Check = namespace["_valid"]
    return fn


def compile_schema(schema: dict[str, Any]) -> Check | None:
    """A fast ``is_valid`` for ``schema``, or None when it uses keywords not compiled here."""
    if "$ref" in repr(schema) or "$defs" in schema or "definitions" in schema:
        return None
    dialect = str(schema.get("$schema", "2020-12"))
    if not any(d in dialect for d in ("2020-12", "2019-09", "draft-07", "draft-06")):
        return None  # draft 3/4 type and bound semantics differ: leave them to jsonschema
    try:
        return _compile(schema)
    except (_Unsupported, TypeError, ValueError):
        return None


def _literal_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_literal_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_literal_depth(v) for v in value), default=0)
    return 0


def depth_bound(schema: Any) -> int | None:
    """The deepest container nesting any instance valid under ``schema`` can have, or None.

    Counted like the gateway's structure cap: a scalar is 0, a container 1 + its deepest
    child. None when the schema leaves some container unconstrained (no ``type``, an open
    ``items`` or ``additionalProperties``). Only meaningful for schemas ``compile_schema``
    accepts (their keywords either constrain structure as read here or only restrict values).
    """
    if schema is False:
        return 0  # nothing is valid
    if not isinstance(schema, dict) or not schema:
        return None  # True / {}: anything
    if "const" in schema or "enum" in schema:
        # A valid instance equals one of the literals (containers compare deeply).
        literals = [schema["const"]] if "const" in schema else list(schema["enum"])
        return max((_literal_depth(v) for v in literals), default=0)
    if "type" not in schema or schema.get("uniqueItems") is True:
        # uniqueItems compares items deeply before their own schema is checked: such a
        # document must meet the depth cap first, so no bound is claimed.
        return None
    names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    bound = 0
    if "array" in names:
        child = depth_bound(schema.get("items", True))
        if child is None:
            return None
        bound = max(bound, 1 + child)
    if "object" in names:
        subs = list((schema.get("properties") or {}).values())
        additional = schema.get("additionalProperties", True)
        if additional is not False:
            subs.append(additional)
        children = [depth_bound(sub) for sub in subs]
        if any(c is None for c in children):
            return None
        bound = max(bound, 1 + max((c for c in children if c is not None), default=0))
    return bound


# -- the raw-body check (C, csrc/gateway/_rawschema.c) -----------------------------------------

_RawProgram: Any
try:
    from ringfence.gateway._rawschema import Program as _RawProgram
except ImportError:  # the optional extension was not built: every body takes the Python path
    _RawProgram = None

_ALL_TYPES = 0x7F
_RAW_TYPES = {
    "null": 1,
    "boolean": 2,
    "integer": 4,
    "number": 4 | 8,
    "string": 16,
    "array": 32,
    "object": 64,
}
_NO_LIMIT = -1
_ANY = -1  # a child that is anything
_NONE = -2  # additionalProperties: false
_MAX_EXACT = 2**53  # bounds beyond this are not exact as doubles: left to Python


class _RawCompiler:
    """A compiled schema's nodes for ``_rawschema.Program`` (see there for the tuple).

    Only schemas ``compile_schema`` accepts come here, so the vocabulary is known. What the C
    check does not decide itself (``pattern``, ``uniqueItems``, ``minProperties``, enums of
    non-strings, inexact bounds, ``false``) marks its node as a fallback: a value that reaches
    it sends the whole body to the Python path.
    """

    def __init__(self) -> None:
        self.nodes: list[tuple[Any, ...]] = []

    def node(self, schema: Any) -> int:
        index = len(self.nodes)
        self.nodes.append(())  # reserved: children come after their parent
        self.nodes[index] = self._build(schema)
        return index

    def child(self, schema: Any) -> int:
        if schema is True or schema == {}:
            return _ANY
        return self.node(schema)

    def _build(self, schema: Any) -> tuple[Any, ...]:
        fallback = 0
        if schema is True or schema == {}:
            schema = {}
        elif schema is False or not isinstance(schema, dict):
            return (_ALL_TYPES, 1, 0, -1, 0, -1, -1, _ANY, _ANY, None, None, None, None, (), None)
        types = _ALL_TYPES
        if "type" in schema:
            names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            types = 0
            for n in names:
                types |= _RAW_TYPES[n]
        if "pattern" in schema or schema.get("uniqueItems") is True or "minProperties" in schema:
            fallback = 1
        if any(int(schema.get(k, 0)) < 0 for k in ("maxLength", "maxItems", "maxProperties")):
            fallback = 1  # -1 means "no limit" to the C side; to Python nothing fits
        enum: list[bytes] | None = None
        literals = None
        if "const" in schema:
            literals = [schema["const"]]
        if "enum" in schema:
            literals = list(schema["enum"]) if literals is None else literals
            if "const" in schema:
                fallback = 1  # both: leave the intersection to Python
        if literals is not None:
            if all(isinstance(x, str) for x in literals):
                enum = [x.encode("utf-8") for x in literals]
                types &= _RAW_TYPES["string"]  # nothing else can equal a string literal
            else:
                fallback = 1
        bounds: list[float | None] = []
        for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            b = schema.get(k)
            if b is None:
                bounds.append(None)
            elif isinstance(b, bool) or not isinstance(b, int | float) or abs(b) > _MAX_EXACT:
                fallback = 1
                bounds.append(None)
            else:
                bounds.append(float(b))
        items = self.child(schema.get("items", True))
        additional_schema = schema.get("additionalProperties", True)
        additional = _NONE if additional_schema is False else self.child(additional_schema)
        props = schema.get("properties") or {}
        required = [str(k) for k in schema.get("required") or ()]
        if len(set(required)) > 64:
            fallback = 1
            required = []
        bits = {k: i for i, k in enumerate(dict.fromkeys(required))}
        keys = [
            (str(k).encode("utf-8"), self.child(sub), bits.get(str(k), -1))
            for k, sub in props.items()
        ]
        keys += [(k.encode("utf-8"), -1, bit) for k, bit in bits.items() if k not in props]
        return (
            types,
            fallback,
            int(schema.get("minLength", 0)),
            int(schema.get("maxLength", _NO_LIMIT)),
            int(schema.get("minItems", 0)),
            int(schema.get("maxItems", _NO_LIMIT)),
            int(schema.get("maxProperties", _NO_LIMIT)),
            items,
            additional,
            *bounds,
            tuple(keys),
            enum,
        )


def compile_raw(schema: Any) -> Any:
    """A ``_rawschema.Program`` for ``schema`` (None: the extension is missing, or the schema
    is one ``compile_schema`` does not compile). ``compile_raw(True)``: no schema, the
    structure caps only."""
    if schema is not True and compile_schema(schema) is None:
        return None
    return _raw_program(schema)


def _raw_program(schema: Any) -> Any:
    """``compile_raw`` for a schema already known to compile."""
    if _RawProgram is None:
        return None
    compiler = _RawCompiler()
    compiler.node(schema)
    return _RawProgram(compiler.nodes)


class RouteValidator:
    """``is_valid`` (compiled when possible) and ``iter_errors`` (jsonschema) for one schema.

    ``depth_bound``: for a compiled schema, how deep a valid instance can nest (None when
    unbounded), so a valid document needs no separate depth walk. ``raw``: the schema for
    the C check of raw bodies (``compile_raw``), or None.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self._reference = reference_validator(schema)
        self._fast = compile_schema(schema)
        self.compiled = self._fast is not None
        self.depth_bound = depth_bound(schema) if self.compiled else None
        self.raw = _raw_program(schema) if self.compiled else None

    def is_valid(self, instance: Any) -> bool:
        if self._fast is not None:
            return self._fast(instance)
        return bool(self._reference.is_valid(instance))

    def iter_errors(self, instance: Any) -> Any:
        return self._reference.iter_errors(instance)
