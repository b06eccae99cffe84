"""The plans of ``codegen`` as data for the C matcher (``_native``, built from csrc/sigma).

``program`` walks a plan's rules exactly like ``codegen._Generator`` and emits, instead of
Python source, a nested tuple the extension turns into C structs once: the fields (each a list
of candidate paths), the rules' tests (the same kinds codegen inlines, with the same constants
and the same compiled Python callables for everything else) and the equality indexes. The C
code decides only events made of plain values on the paths it reads; for any other event it
hands the event back and the Python path (generated plan, then the interpreted one) decides —
so the Python path stays the reference, and tests hold the two to the same answers.

The extension is optional: when it is missing (no C compiler at install time) or
``RINGFENCE_SIGMA_NATIVE=0`` is set, ``RuleSet`` runs its Python path alone. Never puts an
event value into a plan; the only state that grows at run time are the bounded memos.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from types import ModuleType
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

from ringfence.monitor.sigma.codegen import IndexSpec
from ringfence.monitor.sigma.compiler import (
    Compiler,
    FusedSpec,
    fused_spec,
    regex_text_memo,
    value_test,
)
from ringfence.monitor.sigma.fields import View, candidate_paths

if TYPE_CHECKING:
    from ringfence.monitor.sigma.engine import CompiledRule

ENV = "RINGFENCE_SIGMA_NATIVE"
_OFF = frozenset({"0", "false", "no", "off"})

# node and step codes; csrc/sigma/_native.c has the same numbers
AND, OR, NOT, FUSED, NUMS, CMP, REGEX, BOOL, EXISTS, NULL, VALUE, CLOSURE = range(12)
RULE, INDEX = 0, 1
BASE_RAW, BASE_OCSF, BASE_SHAPE = 0, 1, 2
_CMP = {
    CompareOperators.LT: 0,
    CompareOperators.LTE: 1,
    CompareOperators.GT: 2,
    CompareOperators.GTE: 3,
}


def load_native() -> ModuleType | None:
    """The ``_native`` module, or None when it is unavailable or switched off."""
    if os.environ.get(ENV, "").strip().lower() in _OFF:
        return None
    try:
        from ringfence.monitor.sigma import _native
    except ImportError:
        return None
    return _native


NATIVE: ModuleType | None = load_native()


def _path_spec(path: str) -> tuple[int, tuple[str, ...]]:
    """One candidate path as (base, keys), like ``codegen._Generator._walk`` reads it."""
    if path == "raw":
        return (BASE_SHAPE, ())  # the whole record: always the getter's
    # interned: a dict probe with the same object as the event's (interned) key skips the
    # character comparison
    if path.startswith("raw."):
        return (BASE_RAW, tuple(sys.intern(k) for k in path[4:].split(".")))
    return (BASE_OCSF, tuple(sys.intern(k) for k in path.split(".")))


class _Program:
    def __init__(self) -> None:
        self.slots: dict[tuple[str | None, str], int] = {}
        self.fields: list[tuple[tuple[int, tuple[str, ...]], ...]] = []
        self.blocks: list[tuple[Any, ...]] = [()]

    def slot(self, product: str | None, fname: str) -> int:
        key = (product, fname)
        i = self.slots.get(key)
        if i is None:
            i = self.slots[key] = len(self.fields)
            self.fields.append(tuple(_path_spec(c) for c in candidate_paths(product, fname)))
        return i

    # -- conditions, as codegen._Generator.expr decides them ----------------------------
    def node(self, node: Any, compiler: Compiler) -> tuple[Any, ...]:
        if isinstance(node, ConditionAND):
            return (AND, tuple(self.node(a, compiler) for a in node.args))
        if isinstance(node, ConditionOR):
            fes = [a for a in node.args if isinstance(a, ConditionFieldEqualsValueExpression)]
            if fes and len(fes) == len(node.args) and len({a.field for a in fes}) == 1:
                spec = fused_spec([a.value for a in fes])
                if spec is not None:
                    return self._fused(fes[0].field, spec, compiler)
            return (OR, tuple(self.node(a, compiler) for a in node.args))
        if isinstance(node, ConditionNOT):
            return (NOT, self.node(node.args[0], compiler))
        if isinstance(node, ConditionFieldEqualsValueExpression):
            spec = fused_spec([node.value])
            if spec is not None:
                return self._fused(node.field, spec, compiler)
            if isinstance(node.value, SigmaExists):
                return (EXISTS, self.slot(compiler.product, node.field), bool(node.value.exists))
            if isinstance(node.value, SigmaNull):
                return (NULL, self.slot(compiler.product, node.field))
            if not isinstance(node.value, SigmaFieldReference):
                return self._value(node, compiler)
        return (CLOSURE, compiler.compile(node))

    def _value(
        self, node: ConditionFieldEqualsValueExpression, compiler: Compiler
    ) -> tuple[Any, ...]:
        value = node.value
        i = self.slot(compiler.product, node.field)
        if isinstance(value, SigmaCompareExpression) and value.op in _CMP:
            return (CMP, i, _CMP[value.op], float(value.number.number))
        if isinstance(value, SigmaRegularExpression):
            rx_test, rx_memo = regex_text_memo(value)
            return (REGEX, i, rx_test, rx_memo)
        if isinstance(value, SigmaBool):
            return (BOOL, i, bool(value.boolean))
        return (VALUE, i, value_test(value, compiler.placeholders))

    def _fused(self, fname: str, spec: FusedSpec, compiler: Compiler) -> tuple[Any, ...]:
        i = self.slot(compiler.product, fname)
        if spec.nums is not None:
            return (NUMS, i, tuple(sorted(spec.nums)))
        eqs = spec.eqs or None
        return (FUSED, i, eqs, tuple(spec.starts), tuple(spec.ends), tuple(spec.contains))

    # -- rules and indexes, as codegen.generate lays them out ---------------------------
    def rule_steps(
        self, rules: Sequence[CompiledRule], *, residual: bool
    ) -> tuple[tuple[Any, ...], ...]:
        steps: list[tuple[Any, ...]] = []
        for r in rules:
            if residual and r.residual is None:
                steps.append((RULE, r, None))
                continue
            assert r.compiler is not None
            compiler = r.compiler
            if residual:
                assert r.residual_nodes is not None
                test = (AND, tuple(self.node(n, compiler) for n in r.residual_nodes))
            elif len(r.conditions) == 1 and isinstance(r.conditions[0], ConditionAND):
                test = self.node(r.conditions[0], compiler)
            else:
                test = (OR, tuple(self.node(c, compiler) for c in r.conditions))
            steps.append((RULE, r, test))
        return tuple(steps)

    def index_step(self, spec: IndexSpec) -> tuple[Any, ...]:
        dispatch: dict[str, Any] = {}
        for key, rules in spec.table.items():
            if all(r.residual is None for r in rules):
                dispatch[key] = tuple(rules)  # the key proves them: extend the hits
            else:
                self.blocks.append(self.rule_steps(rules, residual=True))
                dispatch[key] = len(self.blocks) - 1
        # the table's own keys are their own lower case: known answers from the start
        memo = {k: f for k, f in dispatch.items() if k.lower() == k}
        return (INDEX, self.slot(spec.product, spec.field), memo, dispatch)


def program(unindexed: Sequence[CompiledRule], indexes: Sequence[IndexSpec]) -> tuple[Any, ...]:
    """The plan of ``codegen.generate(unindexed, indexes)`` as the extension's spec."""
    p = _Program()
    main = list(p.rule_steps(unindexed, residual=False))
    main.extend(p.index_step(spec) for spec in indexes)
    p.blocks[0] = tuple(main)
    return (tuple(p.fields), tuple(p.blocks), View)


def native_plan(unindexed: Sequence[CompiledRule], indexes: Sequence[IndexSpec]) -> Any | None:
    """The C plan for these rules, or None without the extension (or if the extension
    refuses the spec: then the matcher hands these events to the Python path)."""
    if NATIVE is None:
        return None
    try:
        return NATIVE.Plan(program(unindexed, indexes))
    except (ValueError, TypeError):  # a spec this module got wrong: never fatal to matching
        return None
