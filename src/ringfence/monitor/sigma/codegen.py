"""Generate one Python function per (product, service) plan: every rule of the plan inlined.

The closures of ``compiler`` cost a call per condition node and a list per field read. Here
the plan's rules become the source of one function, compiled once: each field is read at most
once into a local (an inline walk over nested objects, just before the first test that needs
it), the common tests (value lists fused into set lookups and str methods, numbers,
comparisons, ``exists``, ``null``, booleans) are inline expressions, any other value (``re``,
``cidr``, cased or wildcard strings ...) runs the compiler's own value test on the single
value, and the equality index is a dict from the lower-cased key to a generated function
holding the rules behind that key. When the field is not a single plain value — a list in the
event, a dotted key, a non-object on the way — and for field references and keywords, the
condition's compiled closure decides, so those cases are the closure's by construction.

Never puts rule text into source code: every value, path part and closure reaches the
generated code through its namespace under a name this module made up. A generated plan must
decide exactly like ``RuleSet``'s interpreted path (tests prove it over the bundled rules and
the bench corpus).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaRegularExpression,
)

from ringfence.monitor.sigma.compiler import (
    Compiler,
    FusedSpec,
    _as_number,
    _as_text,
    fused_spec,
    regex_text_memo,
    value_test,
)
from ringfence.monitor.sigma.fields import Getter, View, candidate_paths

if TYPE_CHECKING:
    from ringfence.monitor.sigma.engine import CompiledRule

# A generated plan: (ocsf, raw, hits) -> None, appending the matching rules to hits.
PlanFunction = Callable[[Any, Any, list[Any]], None]

_OPS = {
    CompareOperators.LT: "<",
    CompareOperators.LTE: "<=",
    CompareOperators.GT: ">",
    CompareOperators.GTE: ">=",
}
_M = object()  # the path ends in a missing key: the field has no values
_S = object()  # a shape the inline walk does not decide (list, dotted key ...): use the getter


def _no_dict() -> Any:
    """A plan read the OCSF side and it is not a dict: the interpreted path decides."""
    raise TypeError("the event's OCSF object is not a dict")


def _lower_text(v: Any) -> str | None:
    t = _as_text(v)
    return None if t is None else t.lower()


def _slow_index(
    view: Any, get: Getter, table: dict[str, list[CompiledRule]], hits: list[Any]
) -> None:
    """The interpreted index probe, for an index field whose value is not a plain scalar."""
    vals = get(view)
    found: list[CompiledRule] = []
    for v in vals:
        if isinstance(v, str):
            found.extend(table.get(v.lower(), ()))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            found.extend(table.get(str(v), ()))
    if len(vals) > 1:
        found = list({id(r): r for r in found}.values())
    for r in found:
        if r.residual is None or r.residual(view):
            hits.append(r)


# Per index, the function found for an event's exact text is remembered: index fields are
# equalities on categorical values (event types, actions, operations) that repeat, and the
# lower-cased copy a probe needs costs more than the lookup. Bounded like the RE2 memo: texts
# up to _MEMO_TEXT characters, at most _MEMO_SIZE per index, then the memo starts over. A
# remembered answer is the answer: the text decides it alone.
_MEMO_TEXT = 256
_MEMO_SIZE = 4096
_N = object()  # not remembered yet


def _probe(memo: dict[str, Any], dispatch: dict[str, Any], text: str) -> Any:
    """The index function for ``text`` (a plain str; None: no rule), remembered."""
    found = dispatch.get(text.lower())
    if len(text) <= _MEMO_TEXT:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[text] = found
    return found


@dataclass
class IndexSpec:
    """One equality index of a plan: the field, the product its getter was built for, the
    getter and the table (lower-cased value → rules, in plan order)."""

    field: str
    product: str | None
    get: Getter
    table: dict[str, list[CompiledRule]]


@dataclass
class _Scope:
    """The locals of one generated function: ``x<i>`` is field i's single value (or ``_M`` /
    ``_S``), ``t<i>`` its lower-case text, ``y<i>`` its number. Fields are read lazily, just
    before the first test that needs them, so a rule whose first condition fails reads no
    more fields."""

    reads: dict[tuple[str | None, str], int] = field(default_factory=dict)
    ready: set[str] = field(default_factory=set)  # locals assigned on every path to here
    need: list[str] = field(default_factory=list)  # locals the expression being built uses


class _Generator:
    def __init__(self) -> None:
        self.ns: dict[str, Any] = {
            "_M": _M,
            "_S": _S,
            "_V": View,
            "_lt": _lower_text,
            "_num": _as_number,
            "_text": _as_text,
            "_slow_index": _slow_index,
            "_probe": _probe,
            "_no_dict": _no_dict,
            "_N": _N,
        }
        self.funcs: list[str] = []
        self._n = 0
        self._fields: dict[int, tuple[str | None, str]] = {}

    def const(self, obj: Any, prefix: str = "k") -> str:
        self._n += 1
        name = f"{prefix}{self._n}"
        self.ns[name] = obj
        return name

    # -- field reads --------------------------------------------------------------------
    def var(self, product: str | None, fname: str, scope: _Scope, kind: str = "x") -> int:
        """Field ``fname`` as local ``<kind><i>`` (x: value, t: lower-case text, y: number)."""
        key = (product, fname)
        i = scope.reads.get(key)
        if i is None:
            self._n += 1
            i = scope.reads[key] = self._n
            self._fields[i] = key
        scope.need.append(f"x{i}")
        if kind != "x":
            scope.need.append(f"{kind}{i}")
        return i

    def _walk(self, var: str, path: str) -> list[str]:
        """Lines leaving in ``var`` the single value at ``path``, ``_M`` or ``_S``. ``o`` and
        ``r`` is known to be a dict (checked once at the top of the plan); ``o`` is checked
        where it is read (many plans never read it: its memory stays untouched)."""
        if path == "raw":
            return [f"{var} = _S"]
        base, rest = ("r", path[4:]) if path.startswith("raw.") else ("o", path)
        parts = rest.split(".")
        first = self.const(parts[0], "p")
        if base == "r":
            lines = [f"{var} = r.get({first}, _M)"]
        else:
            lines = [f"{var} = o.get({first}, _M) if type(o) is dict else _no_dict()"]
        for p in parts[1:]:
            # an intermediate that is not an object (missing: maybe a dotted key; a list: fan
            # out) is left to the getter
            part = self.const(p, "p")
            lines.append(f"{var} = {var}.get({part}, _M) if type({var}) is dict else _S")
        lines.append(f"if type({var}) is list: {var} = _S")
        return lines

    def _read(self, i: int) -> list[str]:
        var = f"x{i}"
        product, fname = self._fields[i]
        cands = candidate_paths(product, fname)
        lines = self._walk(var, cands[0])
        for depth, c in enumerate(cands[1:]):  # first non-empty candidate wins
            lines.append("    " * depth + f"if {var} is _M:")
            lines.extend("    " * (depth + 1) + ln for ln in self._walk(var, c))
        return lines

    def prepare(self, scope: _Scope) -> list[str]:
        """Lines assigning the locals the last expression needs that are not assigned yet."""
        out: list[str] = []
        for name in scope.need:
            if name in scope.ready:
                continue
            i = int(name[1:])
            x = f"x{i}"
            if name[0] == "x":
                out += self._read(i)
            elif name[0] == "t":
                out.append(f"{name} = {x}.lower() if isinstance({x}, str) else _lt({x})")
            else:
                # _as_number; an int too large for a float raises in the closures as it did
                # before: leave the field to them
                out += [
                    "try:",
                    f"    {name} = float({x}) if type({x}) is int else _num({x})",
                    "except OverflowError:",
                    f"    {x} = _S",
                    f"    {name} = None",
                ]
            scope.ready.add(name)
        scope.need.clear()
        return out

    # -- conditions ---------------------------------------------------------------------
    def expr(self, node: Any, compiler: Compiler, scope: _Scope) -> str:
        if isinstance(node, ConditionAND):
            return "(" + " and ".join(self.expr(a, compiler, scope) for a in node.args) + ")"
        if isinstance(node, ConditionOR):
            # ``field: [a, b, c]``: fused exactly when Compiler._fused_or fuses it
            fes = [a for a in node.args if isinstance(a, ConditionFieldEqualsValueExpression)]
            if fes and len(fes) == len(node.args) and len({a.field for a in fes}) == 1:
                spec = fused_spec([a.value for a in fes])
                if spec is not None:
                    return self._fused(node, fes[0].field, spec, compiler, scope)
            return "(" + " or ".join(self.expr(a, compiler, scope) for a in node.args) + ")"
        if isinstance(node, ConditionNOT):
            return f"(not {self.expr(node.args[0], compiler, scope)})"
        if isinstance(node, ConditionFieldEqualsValueExpression):
            spec = fused_spec([node.value])
            if spec is not None:
                return self._fused(node, node.field, spec, compiler, scope)
            if isinstance(node.value, SigmaExists | SigmaNull):
                i = self.var(compiler.product, node.field, scope)
                if isinstance(node.value, SigmaExists):
                    inline = f"(x{i} is not _M) is {bool(node.value.exists)}"
                else:
                    inline = f"x{i} is _M or x{i} is None"
                return self._guarded(inline, i, node, compiler)
            if not isinstance(node.value, SigmaFieldReference):
                return self._value(node, compiler, scope)
        return self._closure(node, compiler)

    def _closure(self, node: Any, compiler: Compiler) -> str:
        return f"{self.const(compiler.compile(node), 'c')}(_V(o, r))"

    def _guarded(self, inline: str, i: int, node: Any, compiler: Compiler) -> str:
        """The inline test on a single value, or the closure when the read was not decided."""
        return f"(({inline}) if x{i} is not _S else {self._closure(node, compiler)})"

    def _value(
        self, node: ConditionFieldEqualsValueExpression, compiler: Compiler, scope: _Scope
    ) -> str:
        """Any other value on one field: the closure's own value test on the single value
        (``field_matches`` is "any value passes the test"; no value: False)."""
        value = node.value
        if isinstance(value, SigmaCompareExpression) and value.op in _OPS:
            i = self.var(compiler.product, node.field, scope, "y")
            n = self.const(float(value.number.number))
            inline = f"y{i} is not None and y{i} {_OPS[value.op]} {n}"
        elif isinstance(value, SigmaRegularExpression):
            # _regex's value test, inline: text of the value, then the remembered RE2 search
            # (a plain str reads the memo itself first: no call when it is remembered)
            i = self.var(compiler.product, node.field, scope)
            rx_test, rx_memo = regex_text_memo(value)
            x, rx, mm = f"x{i}", self.const(rx_test, "v"), self.const(rx_memo, "rm")
            inline = (
                f"(_a if (_a := {mm}.get({x})) is not None else {rx}({x})) if type({x}) is str"
                f" else (_t := _text({x})) is not None and {rx}(_t)"
            )
        elif isinstance(value, SigmaBool):
            # value_test's bool: identity for bools, else the text "true"/"false" (cased)
            i = self.var(compiler.product, node.field, scope)
            b = bool(value.boolean)
            x = f"x{i}"
            inline = f"{x} is {b} if isinstance({x}, bool) else _text({x}) == {str(b).lower()!r}"
        else:
            i = self.var(compiler.product, node.field, scope)
            test = self.const(value_test(value, compiler.placeholders), "v")
            inline = f"x{i} is not _M and {test}(x{i})"
        return self._guarded(inline, i, node, compiler)

    def _fused(
        self, node: Any, fname: str, spec: FusedSpec, compiler: Compiler, scope: _Scope
    ) -> str:
        if spec.nums is not None:
            i = self.var(compiler.product, fname, scope, "y")
            return self._guarded(f"y{i} in {self.const(spec.nums)}", i, node, compiler)
        i = self.var(compiler.product, fname, scope, "t")
        t = f"t{i}"
        tests: list[str] = []
        if spec.eqs:
            tests.append(f"{t} in {self.const(spec.eqs)}")
        if spec.starts:
            tests.append(f"{t}.startswith({self.const(spec.starts)})")
        if spec.ends:
            tests.append(f"{t}.endswith({self.const(spec.ends)})")
        tests.extend(f"{self.const(n)} in {t}" for n in spec.contains)
        if spec.eqs and len(tests) == 1:
            inline = tests[0]  # None is in no set of strings
        else:
            inline = f"{t} is not None and ({' or '.join(tests)})"
        return self._guarded(inline, i, node, compiler)

    # -- rules and functions ------------------------------------------------------------
    def rule_lines(
        self, rules: Sequence[CompiledRule], scope: _Scope, *, residual: bool
    ) -> list[str]:
        """One nested ``if`` per top-level AND term of each rule, each term's fields read just
        before it; the rule is appended to ``h`` at the innermost level."""
        out: list[str] = []
        for r in rules:
            name = self.const(r, "rule")
            if residual and r.residual is None:
                out.append(f"h.append({name})")
                continue
            assert r.compiler is not None
            compiler = r.compiler
            if residual:
                assert r.residual_nodes is not None
                terms: list[Any] = list(r.residual_nodes)
            elif len(r.conditions) == 1 and isinstance(r.conditions[0], ConditionAND):
                terms = list(r.conditions[0].args)
            else:
                terms = [None]  # several conditions: any of them, as one term
            outer = set(scope.ready)
            depth = ""
            for n, term in enumerate(terms):
                if term is None:
                    e = " or ".join(self.expr(c, compiler, scope) for c in r.conditions)
                else:
                    e = self.expr(term, compiler, scope)
                out += [depth + ln for ln in self.prepare(scope)]
                if n == 0:
                    outer = set(scope.ready)  # reads before the first test always happen
                out.append(f"{depth}if {e}:")
                depth += "    "
            out.append(f"{depth}h.append({name})")
            scope.ready = outer
        return out

    def function(self, name: str, body: list[str], *, check: bool) -> None:
        lines = [f"def {name}(o, r, h):"]
        if check:  # every walk starts with r.get (o.get checks o itself)
            lines.append("    if type(r) is not dict: raise TypeError")
        lines += ["    " + ln for ln in body] or ["    pass"]
        self.funcs.append("\n".join(lines))


def generate(
    unindexed: Sequence[CompiledRule], indexes: Sequence[IndexSpec]
) -> tuple[PlanFunction, str]:
    """The plan function for these rules and its source (for tests and debugging)."""
    g = _Generator()
    main = _Scope()
    body = g.rule_lines(unindexed, main, residual=False)
    dispatches: list[dict[str, Any]] = []
    memos: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for spec in indexes:
        dispatch: dict[str, Any] = {}
        for key, rules in spec.table.items():
            if all(r.residual is None for r in rules):
                # the key alone proves these rules: the plan extends the hits, no call
                dispatch[key] = tuple(rules)
                continue
            fn = f"_key{len(g.funcs)}"
            g.function(fn, g.rule_lines(rules, _Scope(), residual=True), check=False)
            dispatch[key] = fn  # a name until the source is executed
        dispatches.append(dispatch)
        # the index field is read through the getter of the table's first rule's product
        i = g.var(spec.product, spec.field, main)
        body += g.prepare(main)
        table, get, d = g.const(spec.table), g.const(spec.get), g.const(dispatch, "d")
        x = f"x{i}"
        if f"t{i}" in main.ready:
            # the lower-cased text an earlier rule already made (same value for a str)
            text_probe = [f"    f = {d}.get(t{i})"]
        else:
            # a plain str: the function remembered for this exact text, else lower-case it,
            # probe and remember (``_probe``); a str subclass may lower() differently
            memo = g.const({}, "m")
            memos.append((g.ns[memo], dispatch))
            text_probe = [
                f"    f = {memo}.get({x}, _N)",
                f"    if f is _N: f = _probe({memo}, {d}, {x})",
            ]
        # f: the rules the key proves (a tuple) or the function checking their residuals
        run_f = [
            "    if f is not None:",
            "        if type(f) is tuple: h.extend(f)",
            "        else: f(o, r, h)",
        ]
        body += [
            f"if type({x}) is str:",  # the common case first
            *text_probe,
            *run_f,
            f"elif {x} is _S:",
            f"    _slow_index(_V(o, r), {get}, {table}, h)",
            "else:",
            f"    if isinstance({x}, str): f = {d}.get({x}.lower())",
            f"    elif isinstance({x}, int | float) and not isinstance({x}, bool):",
            f"        f = {d}.get(str({x}))",
            "    else: f = None",
            *run_f,
        ]
    g.function("plan", body, check=True)
    source = "\n\n".join(g.funcs) + "\n"
    exec(compile(source, "<ringfence sigma plan>", "exec"), g.ns)  # noqa: S102 - see module doc
    for dispatch in dispatches:
        for key, fn_name in list(dispatch.items()):
            if type(fn_name) is str:
                dispatch[key] = g.ns[fn_name]
    for known, dispatch in memos:
        # the table's own keys are their own lower case: known answers from the start
        known.update((k, f) for k, f in dispatch.items() if k.lower() == k)
    return g.ns["plan"], source
