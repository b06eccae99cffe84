"""The question bank: loads the YAML files in ``questions/``, validates answers, scores them.

The bank is data: 17 files, one per CSA CCM v4 domain, plus ``bank.yaml`` (version, templates,
domain order). Every question text is Ringfence's own; this module must never embed or fetch
CAIQ or SIG text. A malformed bank is a ConfigError at load time, never a wrong score later.

Scoring: each applicable question with ``weight > 0`` earns a credit in [0, 1] — yes/no: 1 when
the answer equals ``expect`` (default "yes"), 0 otherwise, "n.a." removes it from the
denominator; choice: the option's value; evidence: 1 when a document was supplied. The
questionnaire score is ``100 * Σ weight·credit / Σ weight`` over answered-or-required
questions; domain scores use the same formula per domain.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ringfence.core.errors import ConfigError, ValidationError

QUESTIONS_DIR = Path(__file__).parent / "questions"
CCM_DOMAINS: tuple[str, ...] = (
    "A&A",
    "AIS",
    "BCR",
    "CCC",
    "CEK",
    "DCS",
    "DSP",
    "GRC",
    "HRS",
    "IAM",
    "IPY",
    "IVS",
    "LOG",
    "SEF",
    "STA",
    "TVM",
    "UEM",
)
YES, NO, NA = "yes", "no", "n.a."
MAX_TEXT = 4000
# C0 control characters other than tab, line feed and carriage return: invisible in a form,
# illegal in XML, so an XLSX export could not hold them (openpyxl refuses the whole sheet).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class AnswerType(enum.StrEnum):
    YESNO = "yesno"
    CHOICE = "choice"
    TEXT = "text"
    EVIDENCE = "evidence"


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    question: str
    equals: str


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z]{2,3}-\d{2}$")
    text: str = Field(min_length=10, max_length=400)
    type: AnswerType
    weight: int = Field(ge=0, le=5)
    lite: bool = False
    expect: str = YES
    options: dict[str, float] = Field(default_factory=dict)
    when: Condition | None = None
    domain: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if self.type is AnswerType.CHOICE:
            if len(self.options) < 2:
                raise ValueError("a choice question needs at least two options")
            if any(not 0.0 <= v <= 1.0 for v in self.options.values()):
                raise ValueError("option values must lie in [0, 1]")
        elif self.options:
            raise ValueError("only choice questions have options")
        if self.type is AnswerType.TEXT and self.weight:
            raise ValueError("text answers are not scored: weight must be 0")
        if self.expect not in (YES, NO):
            raise ValueError("expect must be 'yes' or 'no'")
        return self

    @property
    def required(self) -> bool:
        return self.type in (AnswerType.YESNO, AnswerType.CHOICE)

    @property
    def choices(self) -> list[str]:
        if self.type is AnswerType.YESNO:
            return [YES, NO, NA]
        return list(self.options)


class _DomainFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    title: str
    questions: list[Question]


class _TemplateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str
    tiers: list[str]


class _DomainRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    file: str


class _Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    templates: dict[str, _TemplateSpec]
    domains: list[_DomainRef]


@dataclass(frozen=True)
class Template:
    """A named selection of the bank at one version (``lite`` or ``full``)."""

    name: str
    version: str
    description: str
    tiers: tuple[str, ...]
    questions: tuple[Question, ...]

    @property
    def question_ids(self) -> list[str]:
        return [q.id for q in self.questions]


@dataclass(frozen=True)
class Bank:
    version: str
    domain_titles: dict[str, str]
    questions: dict[str, Question]
    templates: dict[str, Template]

    def template(self, name: str) -> Template:
        try:
            return self.templates[name]
        except KeyError:
            raise ValidationError(
                f"unknown questionnaire template {name!r}; expected one of: "
                + ", ".join(sorted(self.templates))
            ) from None

    def template_for_tier(self, tier: str) -> Template:
        for t in self.templates.values():
            if tier in t.tiers:
                return t
        raise ValidationError(f"no questionnaire template covers tier {tier!r}")

    def select(self, ids: list[str]) -> list[Question]:
        missing = [i for i in ids if i not in self.questions]
        if missing:
            raise ConfigError(
                f"assessment refers to questions not in bank {self.version}: {missing[:5]}"
            )
        return [self.questions[i] for i in ids]


def _load_yaml(path: Path) -> Any:
    try:
        return YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"question bank file {path.name}: {exc}") from None


def load_bank(directory: Path = QUESTIONS_DIR) -> Bank:
    """Load and validate the bank in ``directory``; ConfigError naming the file on any flaw."""
    try:
        manifest = _Manifest.model_validate(_load_yaml(directory / "bank.yaml"))
    except PydanticValidationError as exc:
        raise ConfigError(f"question bank manifest bank.yaml: {exc}") from None
    questions: dict[str, Question] = {}
    titles: dict[str, str] = {}
    for ref in manifest.domains:
        try:
            dom = _DomainFile.model_validate(_load_yaml(directory / ref.file))
        except PydanticValidationError as exc:
            raise ConfigError(f"question bank file {ref.file}: {exc}") from None
        if dom.code != ref.code or dom.code not in CCM_DOMAINS:
            raise ConfigError(f"question bank file {ref.file}: unexpected domain {dom.code!r}")
        titles[dom.code] = dom.title
        for q in dom.questions:
            if q.id in questions:
                raise ConfigError(f"question bank: duplicate question id {q.id}")
            questions[q.id] = q.model_copy(update={"domain": dom.code})
    for q in questions.values():
        if q.when is None:
            continue
        parent = questions.get(q.when.question)
        if parent is None or q.when.equals not in parent.choices:
            raise ConfigError(f"question {q.id}: condition refers to an unknown question/answer")
        if list(questions).index(parent.id) >= list(questions).index(q.id):
            raise ConfigError(f"question {q.id}: condition must refer to an earlier question")
    templates: dict[str, Template] = {}
    for name, spec in manifest.templates.items():
        chosen = [q for q in questions.values() if name == "full" or q.lite]
        # A lite question whose condition parent is not lite would never be shown: include it.
        ids = {q.id for q in chosen}
        for q in list(chosen):
            if q.when is not None and q.when.question not in ids:
                raise ConfigError(f"template {name}: {q.id} depends on {q.when.question}")
        templates[name] = Template(
            name=name,
            version=manifest.version,
            description=spec.description,
            tiers=tuple(spec.tiers),
            questions=tuple(chosen),
        )
    return Bank(
        version=manifest.version, domain_titles=titles, questions=questions, templates=templates
    )


@cache
def default_bank() -> Bank:
    return load_bank()


def applicable(question: Question, answers: dict[str, str]) -> bool:
    """A question applies when it has no condition or its parent's answer matches."""
    return question.when is None or answers.get(question.when.question) == question.when.equals


@dataclass
class ScoredAnswers:
    answers: dict[str, str]
    score: float
    domain_scores: dict[str, float] = field(default_factory=dict)


def normalise_answer(question: Question, raw: object) -> str | None:
    """Canonical answer text, or None for blank; raises ValueError naming what is allowed."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    control = _CONTROL_CHARS.search(text)
    if control is not None:
        raise ValueError(
            f"answer contains the control character U+{ord(control.group()):04X}; "
            "only tab and line breaks are allowed"
        )
    if question.type is AnswerType.YESNO:
        low = text.lower()
        aliases = {"y": YES, "yes": YES, "true": YES, "n": NO, "no": NO, "false": NO}
        aliases.update({"na": NA, "n/a": NA, "n.a.": NA, "n.a": NA, "not applicable": NA})
        if low in aliases:
            return aliases[low]
        raise ValueError("expected yes, no or n.a.")
    if question.type is AnswerType.CHOICE:
        for opt in question.options:
            if opt.lower() == text.lower():
                return opt
        raise ValueError("expected one of: " + " | ".join(question.options))
    if len(text) > MAX_TEXT:
        raise ValueError(f"answer longer than {MAX_TEXT} characters")
    return text


def validate_answers(
    questions: list[Question], raw: dict[str, object]
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Normalise ``raw`` against ``questions``; returns (answers, errors).

    Unknown question ids and missing required answers are errors; answers to a conditional
    question whose condition does not hold are dropped (the form shows every question).
    """
    known = {q.id for q in questions}
    errors = [
        {"question": k, "problem": "not a question of this assessment"}
        for k in raw
        if k not in known
    ]
    answers: dict[str, str] = {}
    invalid: set[str] = set()
    for q in questions:
        try:
            value = normalise_answer(q, raw.get(q.id))
        except ValueError as exc:
            errors.append({"question": q.id, "problem": str(exc)})
            invalid.add(q.id)
            continue
        if value is not None:
            answers[q.id] = value
    for q in questions:
        if not applicable(q, answers):
            answers.pop(q.id, None)
        elif q.required and q.id not in answers and q.id not in invalid:
            errors.append({"question": q.id, "problem": "an answer is required"})
    return answers, errors


def credit(question: Question, answer: str | None) -> float | None:
    """Credit in [0, 1], or None when the question does not count (n.a., unscored)."""
    if question.weight == 0:
        return None
    if question.type is AnswerType.YESNO:
        if answer == NA:
            return None
        return 1.0 if answer == question.expect else 0.0
    if question.type is AnswerType.CHOICE:
        return question.options.get(answer or "", 0.0)
    if question.type is AnswerType.EVIDENCE:
        return 1.0 if answer else 0.0
    return None


# "n.a." takes a question out of the score, but only so far: the questions that apply to every
# vendor are what the score is about, and a vendor answering most of them "n.a." (which needs
# no reason) would otherwise score as if it met the rest. The denominator shrinks by at most
# this share of the applicable scored weight; n.a. weight beyond it counts as not met.
NA_WEIGHT_CAP = 0.2


def _capped(got: float, scored: float, na: float) -> float | None:
    """Score in [0, 100] from credited weight, weight of scored answers and n.a. weight."""
    whole = scored + na
    if not whole:
        return None
    return round(100.0 * got / (whole - min(na, NA_WEIGHT_CAP * whole)), 1)


def score_answers(questions: list[Question], answers: dict[str, str]) -> ScoredAnswers:
    total = got = na = 0.0
    per: dict[str, list[float]] = {}
    for q in questions:
        if not applicable(q, answers):
            continue
        c = credit(q, answers.get(q.id))
        acc = per.setdefault(q.domain, [0.0, 0.0, 0.0])
        if c is None:
            if q.weight and q.type is AnswerType.YESNO and answers.get(q.id) == NA:
                na += q.weight
                acc[2] += q.weight
            continue
        total += q.weight
        got += q.weight * c
        acc[0] += q.weight * c
        acc[1] += q.weight
    score = _capped(got, total, na) or 0.0
    domains = {
        d: value for d, (a, b, n) in per.items() if (value := _capped(a, b, n)) is not None and b
    }
    return ScoredAnswers(answers=answers, score=score, domain_scores=domains)
