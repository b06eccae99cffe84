"""The rule set: Sigma rules parsed by pySigma, compiled once, indexed by log source and by
an equality key, evaluated per event; correlation rules fed from the base rules' matches.

Loading never fails as a whole: a rule that does not parse or uses an unsupported construct is
reported (``RuleSet.problems``) and skipped; the others run. Matching never raises on odd
event shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from ringfence.core.errors import ValidationError
from ringfence.monitor.events import Event
from ringfence.monitor.sigma.codegen import IndexSpec, PlanFunction, generate
from ringfence.monitor.sigma.compiler import (
    Compiler,
    Predicate,
    Unsupported,
    index_options,
    split_index,
)
from ringfence.monitor.sigma.correlation import (
    CompiledCorrelation,
    CorrelationHit,
    compile_correlation,
)
from ringfence.monitor.sigma.fields import View, candidate_paths
from ringfence.monitor.sigma.native import NATIVE, native_plan

BUNDLED_RULES = Path(__file__).resolve().parent.parent / "rules"
# Services that mean "every record of this product" (SigmaHQ uses them for the whole log).
# How many distinct (product, service) pairs are remembered before the table starts over.
MAX_SOURCES = 4096
_ALL_SERVICES = {("m365", "audit"), ("github", "audit"), ("okta", "okta"), ("slack", "audit")}


@dataclass
class RuleProblem:
    rule: str
    origin: str
    message: str


@dataclass
class CompiledRule:
    key: str
    id: str | None
    name: str | None
    title: str
    level: str
    status: str | None
    description: str
    tags: list[str]
    product: str | None
    service: str | None
    origin: str
    matcher: Predicate
    index: tuple[str, frozenset[str]] | None
    # what is left to check when the rule was reached through its index (None: nothing)
    residual: Predicate | None
    tests: list[dict[str, Any]]
    generate: bool = True
    falsepositives: list[str] = field(default_factory=list)
    # what the plan generator inlines: the condition trees, the residual nodes after the index
    # split (None: no index), and the compiler that made the closures
    conditions: list[Any] = field(default_factory=list, repr=False)
    residual_nodes: list[Any] | None = field(default=None, repr=False)
    compiler: Compiler | None = field(default=None, repr=False)

    def applies_to(self, event: Event) -> bool:
        return self.applies_to_source(event.product, event.service)

    def applies_to_source(self, product: str, service: str) -> bool:
        if self.product and self.product != product:
            return False
        if not self.service or (self.product, self.service) in _ALL_SERVICES:
            return True
        return service == self.service or service.startswith(self.service + ".")

    def matches(self, event: Event, view: Any = None) -> bool:
        if not self.applies_to(event):
            return False
        try:
            return self.matcher(view if view is not None else event.view())
        except (TypeError, ValueError, AttributeError):
            return False


@dataclass
class Detection:
    """One finding of the rule set: a rule match or a correlation hit."""

    rule_key: str
    title: str
    level: str
    events: list[Event]
    tags: list[str]
    sentence: str
    kind: str  # "rule" | "correlation"


@dataclass
class _Plan:
    unindexed: list[CompiledRule] = field(default_factory=list)
    indexes: list[IndexSpec] = field(default_factory=list)
    # the plan as one generated function (``codegen``); None until first used
    run: PlanFunction | None = None
    source: str = ""
    # the same plan for the C matcher (``native``); None without the extension
    native: Any = None


class RuleSet:
    def __init__(self) -> None:
        self.rules: list[CompiledRule] = []
        self.correlations: list[CompiledCorrelation] = []
        self.problems: list[RuleProblem] = []
        self._plans: dict[tuple[str, str], _Plan] = {}
        # Plans by the rules they hold: ``service`` comes from the records (m365 Workload,
        # Google application name ...), so an attacker can send endlessly many; they share the
        # few plans the rules make distinct instead of generating code for each value.
        self._plans_by_rules: dict[tuple[int, ...], _Plan] = {}
        # plan.run by product, then service
        self._runs: dict[str, dict[str, PlanFunction | None]] = {}
        self._by_key: dict[str, CompiledRule] = {}
        self._corr_by_rule: dict[str, list[CompiledCorrelation]] = {}
        # ``match(event)``: the rules matching an event, in plan order. With the extension,
        # the C matcher (dispatch + plan in C), which hands any event it does not decide to
        # the Python path; without it, the Python path itself.
        self.match: Callable[[Event], list[CompiledRule]] = self.match_python
        if NATIVE is not None:
            self.match = NATIVE.Matcher(self._native_plan, self.match_python, MAX_SOURCES)

    # -- loading ------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        paths: Iterable[Path],
        placeholders: Mapping[str, Sequence[str]] | None = None,
    ) -> RuleSet:
        docs: list[tuple[str, dict[str, Any]]] = []
        problems: list[RuleProblem] = []
        for path in paths:
            files = (
                sorted(path.rglob("*.yml")) + sorted(path.rglob("*.yaml"))
                if path.is_dir()
                else [path]
            )
            for f in files:
                try:
                    text = f.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise ValidationError(f"cannot read rule file {f}: {exc}") from None
                docs.extend(_yaml_docs(text, str(f), problems))
        rs = cls.from_docs(docs, placeholders)
        rs.problems[:0] = problems
        return rs

    @classmethod
    def bundled(cls) -> RuleSet:
        return cls.load([BUNDLED_RULES])

    @classmethod
    def from_yaml(cls, text: str, origin: str = "<text>") -> RuleSet:
        problems: list[RuleProblem] = []
        rs = cls.from_docs(_yaml_docs(text, origin, problems))
        rs.problems[:0] = problems
        return rs

    @classmethod
    def from_docs(
        cls,
        docs: Sequence[tuple[str, dict[str, Any]]],
        placeholders: Mapping[str, Sequence[str]] | None = None,
    ) -> RuleSet:
        rs = cls()
        origins: dict[int, str] = {}
        parsed: list[SigmaRule | SigmaCorrelationRule] = []
        for origin, doc in docs:
            title = str(doc.get("title", "?"))
            try:
                if "correlation" in doc:
                    item: SigmaRule | SigmaCorrelationRule = SigmaCorrelationRule.from_dict(doc)
                else:
                    item = SigmaRule.from_dict(doc, collect_errors=True)
                    if item.errors:
                        raise item.errors[0]
            except SigmaError as exc:
                rs.problems.append(RuleProblem(title, origin, f"invalid rule: {exc}"))
                continue
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                rs.problems.append(RuleProblem(title, origin, f"invalid rule: {exc!r}"))
                continue
            origins[id(item)] = origin
            parsed.append(item)
        plain = [r for r in parsed if isinstance(r, SigmaRule)]
        rank = _index_ranking(plain)
        for r in plain:
            rs._add_rule(r, origins[id(r)], placeholders or {}, rank)
        for c in (r for r in parsed if isinstance(r, SigmaCorrelationRule)):
            rs._add_correlation(c, origins[id(c)])
        return rs

    def _add_rule(
        self,
        rule: SigmaRule,
        origin: str,
        placeholders: Mapping[str, Sequence[str]],
        rank: Callable[[str | None, str], int] | None = None,
    ) -> None:
        product = rule.logsource.product
        key = str(rule.name or rule.id or rule.title)
        try:
            compiler = Compiler(product, placeholders)
            trees = [c.parsed for c in rule.detection.parsed_condition]
            preds = [compiler.compile(t) for t in trees]
            matcher: Predicate = (
                preds[0] if len(preds) == 1 else (lambda d: any(p(d) for p in preds))
            )
            by_field = (lambda f: rank(product, f)) if rank is not None else None
            split = split_index(trees[0], by_field) if len(trees) == 1 else None
            index = split[0] if split else None
            residual: Predicate | None = matcher
            residual_nodes: list[Any] | None = None
            if split is not None:
                residual_nodes = list(split[1])
                rest = [compiler.compile(n) for n in split[1]]
                if not rest:
                    residual = None
                elif len(rest) == 1:
                    residual = rest[0]
                else:
                    residual = lambda d: all(p(d) for p in rest)  # noqa: E731
        except Unsupported as exc:
            self.problems.append(RuleProblem(rule.title, origin, f"unsupported: {exc}"))
            return
        except SigmaError as exc:
            self.problems.append(RuleProblem(rule.title, origin, f"invalid rule: {exc}"))
            return
        custom = rule.custom_attributes or {}
        tests = custom.get("x_tests") or custom.get("tests") or []
        compiled = CompiledRule(
            key=key,
            id=str(rule.id) if rule.id else None,
            name=rule.name,
            title=rule.title,
            level=rule.level.name.lower() if rule.level else "medium",
            status=rule.status.name.lower() if rule.status else None,
            description=rule.description or "",
            tags=[str(t) for t in rule.tags],
            product=product,
            service=rule.logsource.service,
            origin=origin,
            matcher=matcher,
            index=index,
            residual=residual,
            tests=list(tests) if isinstance(tests, list) else [],
            falsepositives=list(rule.falsepositives or []),
            conditions=trees,
            residual_nodes=residual_nodes,
            compiler=compiler,
        )
        self.rules.append(compiled)
        for k in {key, compiled.id, compiled.name, compiled.title}:
            if k:
                self._by_key[k] = compiled

    def _add_correlation(self, rule: SigmaCorrelationRule, origin: str) -> None:
        refs = list(rule.rules or [])
        keys: list[str] = []
        for ref in refs:
            target = self._by_key.get(ref.reference)
            if target is None:
                self.problems.append(
                    RuleProblem(rule.title, origin, f"references unknown rule {ref.reference!r}")
                )
                return
            keys.append(target.key)
        products = {k: self._by_key[k].product for k in keys}
        try:
            c = compile_correlation(rule, str(rule.name or rule.id or rule.title), keys, products)
        except Unsupported as exc:
            self.problems.append(RuleProblem(rule.title, origin, f"unsupported: {exc}"))
            return
        c_tests = (rule.custom_attributes or {}).get("x_tests") or []
        c.tests = list(c_tests) if isinstance(c_tests, list) else []
        c.origin = origin
        self.correlations.append(c)
        for k in dict.fromkeys(keys):  # a rule listed twice still sees each event once
            self._corr_by_rule.setdefault(k, []).append(c)
            if not c.generate:
                self._by_key[k].generate = False

    # -- matching -----------------------------------------------------------------------
    def _plan(self, product: str, service: str) -> _Plan:
        """The rules that apply to one (product, service), indexed; built once, then cached."""
        plan = self._plans.get((product, service))
        if plan is None:
            applicable = tuple(
                i for i, r in enumerate(self.rules) if r.applies_to_source(product, service)
            )
            plan = self._plans_by_rules.get(applicable)
            if plan is None:
                plan = self._build_plan([self.rules[i] for i in applicable])
                self._plans_by_rules[applicable] = plan
            if len(self._plans) >= MAX_SOURCES:  # bounded like the memos: start over
                self._plans.clear()
            self._plans[(product, service)] = plan
        return plan

    @staticmethod
    def _build_plan(rules: list[CompiledRule]) -> _Plan:
        """The rules of one log source, indexed, as one generated function."""
        plan = _Plan()
        specs: dict[tuple[str, ...], IndexSpec] = {}
        for r in rules:
            if r.index is None:
                plan.unindexed.append(r)
                continue
            fname, values = r.index
            # fields that resolve to the same paths (eventType / eventtype) share a table
            paths = tuple(candidate_paths(r.product, fname))
            if paths not in specs:
                get = Compiler(r.product).get(fname)
                specs[paths] = IndexSpec(fname, r.product, get, {})
            for v in values:
                specs[paths].table.setdefault(v, []).append(r)
        plan.indexes = list(specs.values())
        plan.run, plan.source = generate(plan.unindexed, plan.indexes)
        plan.native = native_plan(plan.unindexed, plan.indexes)
        return plan

    def _native_plan(self, product: str, service: str) -> Any:
        """What the C matcher runs for one (product, service): the C plan (anything else
        makes it hand every such event to ``match_python``)."""
        return self._plan(product, service).native

    def candidates(self, event: Event, view: Any) -> list[CompiledRule]:
        """Rules whose log source and index key fit the event (each at most once)."""
        plan = self._plan(event.product, event.service)
        out = list(plan.unindexed)
        for spec in plan.indexes:
            table = spec.table
            vals = spec.get(view)
            found: list[CompiledRule] = []
            for v in vals:
                if isinstance(v, str):
                    found.extend(table.get(v.lower(), ()))
                elif isinstance(v, int | float) and not isinstance(v, bool):
                    found.extend(table.get(str(v), ()))
            if len(vals) > 1:  # a list field may hit one rule through several values
                found = list({id(r): r for r in found}.values())
            out.extend(found)
        return out

    def _hits_interpreted(self, event: Event, view: Any) -> list[CompiledRule]:
        """The same decision without generated code: index probe + compiled closures."""
        plan = self._plan(event.product, event.service)
        hits: list[CompiledRule] = []
        try:
            for r in plan.unindexed:
                if r.matcher(view):
                    hits.append(r)
            for spec in plan.indexes:
                table = spec.table
                vals = spec.get(view)
                found: list[CompiledRule] = []
                for v in vals:
                    if isinstance(v, str):
                        found.extend(table.get(v.lower(), ()))
                    elif isinstance(v, int | float) and not isinstance(v, bool):
                        found.extend(table.get(str(v), ()))
                if len(vals) > 1:
                    found = list({id(r): r for r in found}.values())
                for r in found:
                    # the index already proved the indexed equality: check the rest only
                    if r.residual is None or r.residual(view):
                        hits.append(r)
        except (TypeError, ValueError, AttributeError):
            # a pathological event shape: fall back to full, guarded evaluation
            return [r for r in self.candidates(event, view) if r.matches(event, view)]
        return hits

    def match_python(self, event: Event) -> list[CompiledRule]:
        """The rules matching ``event``, in plan order, without the C matcher: the plan's
        generated function; an event shape it refuses (or a TypeError/ValueError/AttributeError
        on the way) is decided by the interpreted path, which falls back to guarded full
        evaluation. The reference the C matcher must equal."""
        # product, then service: two lookups on (usually shared) strings cost less than
        # building, hashing and comparing a (product, service) tuple per event
        by_service = self._runs.get(event.product)
        run = None if by_service is None else by_service.get(event.service)
        if run is None:
            run = self._plan(event.product, event.service).run
            known = self._runs.setdefault(event.product, {})
            if len(known) >= MAX_SOURCES:
                known.clear()
            known[event.service] = run
        hits: list[CompiledRule] = []
        try:
            run(event.ocsf, event.raw, hits)  # type: ignore[misc]
        except (TypeError, ValueError, AttributeError):
            return self._hits_interpreted(event, View(event.ocsf, event.raw))
        return hits

    def match_interpreted(self, event: Event) -> list[CompiledRule]:
        """``match`` without the generated plan functions (the reference they must equal)."""
        return self._hits_interpreted(event, View(event.ocsf, event.raw))

    def evaluate(self, events: Iterable[Event]) -> list[Detection]:
        out: list[Detection] = []
        for e in events:
            view: Any = None
            for r in self.match(e):
                if view is None:
                    view = View(e.ocsf, e.raw)
                if r.generate:
                    out.append(
                        Detection(r.key, r.title, r.level, [e], r.tags, _sentence(r, e), "rule")
                    )
                for c in self._corr_by_rule.get(r.key, ()):
                    hit = c.observe(r.key, e, view)
                    if hit is not None:
                        out.append(_from_hit(hit))
        return out

    def checkpoint(self) -> None:
        """Journal the correlation windows from now on (see ``CompiledCorrelation``)."""
        for c in self.correlations:
            c.checkpoint()

    def commit(self) -> None:
        for c in self.correlations:
            c.commit()

    def rollback(self) -> None:
        """Correlation windows back to their state at ``checkpoint``."""
        for c in self.correlations:
            c.rollback()

    def rule(self, key: str) -> CompiledRule | None:
        return self._by_key.get(key)


def _index_ranking(rules: Sequence[SigmaRule]) -> Callable[[str | None, str], int]:
    """How many rules of a product could be indexed on a field's paths: a rule with several
    equalities is indexed on the one most rules share, so a plan probes fewer fields."""
    counts: dict[tuple[str | None, tuple[str, ...]], int] = {}
    for r in rules:
        try:
            conditions = r.detection.parsed_condition
            if len(conditions) != 1:
                continue
            tree = conditions[0].parsed
        except SigmaError:
            continue  # reported when the rule is compiled
        product = r.logsource.product
        keys = {(product, tuple(candidate_paths(product, f))) for (f, _), _ in index_options(tree)}
        for k in keys:
            counts[k] = counts.get(k, 0) + 1

    def rank(product: str | None, field: str) -> int:
        return counts.get((product, tuple(candidate_paths(product, field))), 0)

    return rank


def _sentence(rule: CompiledRule, e: Event) -> str:
    who = e.actor or "unknown actor"
    ip = f" from {e.src_ip}" if e.src_ip else ""
    return f"{rule.title}: {who} {e.action}{ip} ({e.source})"


def _from_hit(hit: CorrelationHit) -> Detection:
    c = hit.correlation
    tags = [str(t) for t in c.rule.tags]
    return Detection(c.key, c.title, c.level, hit.events, tags, hit.sentence, "correlation")


def _yaml_docs(
    text: str, origin: str, problems: list[RuleProblem]
) -> list[tuple[str, dict[str, Any]]]:
    try:
        docs = list(YAML(typ="safe").load_all(text))
    except YAMLError as exc:
        problems.append(RuleProblem("?", origin, f"not YAML: {str(exc).splitlines()[0]}"))
        return []
    out: list[tuple[str, dict[str, Any]]] = []
    for d in docs:
        if d is None:
            continue
        if not isinstance(d, dict):
            problems.append(RuleProblem("?", origin, "a rule document must be a mapping"))
            continue
        out.append((origin, d))
    return out
