"""The demo company the vendor fakes are seeded with (people and who uses which app).

Kept consistent with ``examples/estate.yaml``: the declared apps appear here too, and a few
grants are deliberately *undeclared and risky* (shadow IT the demo and tests must find).
Only fictitious people (from the estate) and .example addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

DOMAIN = "northwind-analytics.example"
EPOCH_2026 = 1767225600  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class SeedPerson:
    key: str
    name: str
    department: str
    admin: bool = False
    mfa: bool = True
    active: bool = True

    @property
    def email(self) -> str:
        return f"{self.key}@{DOMAIN}"

    @property
    def first(self) -> str:
        return self.name.split()[0]

    @property
    def last(self) -> str:
        return self.name.split()[-1]


PEOPLE: tuple[SeedPerson, ...] = (
    SeedPerson("amara.okafor", "Amara Okafor", "Security", admin=True),
    SeedPerson("jonas.weber", "Jonas Weber", "IT", admin=True, mfa=False),  # admin without MFA
    SeedPerson("priya.raman", "Priya Raman", "Revenue Operations"),
    SeedPerson("mateo.garcia", "Mateo Garcia", "Engineering"),
    SeedPerson("zoe.fischer", "Zoe Fischer", "Marketing", mfa=False),
    SeedPerson("lucas.moreau", "Lucas Moreau", "Marketing"),
    SeedPerson("sofia.lindqvist", "Sofia Lindqvist", "People"),
    SeedPerson("alice.martin", "Alice Martin", "Sales", active=False),  # departed
)


def person(key: str) -> SeedPerson:
    return next(p for p in PEOPLE if p.key == key)


# Apps the fakes show that ``examples/estate.yaml`` does not declare (shadow IT).
SHADOW_APPS = (
    "PDF Converter Pro",
    "Mail Merge Ninja",
    "ai-code-reviewer",
    "Meeting Notes AI",
    "Contoso Backup Tool",
    "HR Insights",
)
