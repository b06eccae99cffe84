"""Two names of one kind that read alike (UTS #39 confusables) are refused in ringfence.yaml."""

from __future__ import annotations

import pytest

from ringfence.inventory.estate import EstateInvalid, parse_estate

HEAD = "apiVersion: ringfence/v1\n"


def _problems(text: str) -> list[str]:
    with pytest.raises(EstateInvalid) as info:
        parse_estate(text, "ringfence.yaml")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Acme", "\\u0410cme"),  # Cyrillic A
        ("billing", "b\\u0456lling"),  # Cyrillic i
        ("billing", "bi11ing"),  # digit one for l
        ("Okta", "0kta"),  # zero for O
        ("Slack", "SIack"),  # capital i for l
    ],
)
def test_a_vendor_that_reads_like_another_is_refused(first: str, second: str) -> None:
    problems = _problems(HEAD + f'vendors:\n  - name: "{first}"\n  - name: "{second}"\n')
    assert len(problems) == 1, problems
    assert "vendors[1]" in problems[0] and "looks like" in problems[0]
    assert "declared at line 3" in problems[0]
    assert "\\u" in problems[0] or second.isascii()  # hidden letters shown escaped


def test_apps_and_integrations_are_compared_too() -> None:
    problems = _problems(
        HEAD
        + 'apps:\n  - {name: CRM, vendor: Acme}\n  - {name: "\\u0421RM", vendor: Acme}\n'
        + 'integrations:\n  - {name: crm-sync}\n  - {name: "crm-\\u0455ync"}\n'
    )
    assert any("apps[1]" in p and "looks like 'CRM'" in p for p in problems), problems
    assert any("integrations[1]" in p and "looks like 'crm-sync'" in p for p in problems)


def test_names_that_only_differ_visibly_are_fine() -> None:
    text = (
        HEAD
        + "vendors:\n  - name: Acme\n  - name: acme\n  - name: Acme-2\n  - name: Acme_2\n"
        + "people:\n  - email: bob1@b.example\n    name: Bob One\n"
        + "  - email: bobl@b.example\n    name: Bob L\n"
    )
    estate = parse_estate(text, "ringfence.yaml")
    assert estate is not None
