"""Bad ringfence.yaml input: every problem named with file:line:column, and the store unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringfence.inventory.estate import (
    EstateInvalid,
    apply_estate,
    load_estate,
    parse_estate,
)
from ringfence.runtime import Runtime
from tests.inventory.helpers import SMALL, fingerprint

SECRET = "hunter2-Sup3rS3cret-value"


def _problems(text: str) -> list[str]:
    with pytest.raises(EstateInvalid) as info:
        parse_estate(text, "ringfence.yaml")
    return [str(p) for p in info.value.problems]


def _replace(old: str, new: str) -> str:
    assert SMALL.count(old) == 1, old
    return SMALL.replace(old, new)


# (case id, file text, expected problem prefix "file:line:col: path" and message fragment)
BAD_INPUTS = [
    (
        "malformed-yaml",
        _replace('    scopes: ["chat:write"]', '    scopes: ["chat:write"'),
        "ringfence.yaml:29:5:",
        "malformed YAML",
    ),
    (
        "tab-indent",
        _replace("  - name: Chat\n", "  - name: Chat\n\tvendor: x\n"),
        "ringfence.yaml:",
        "malformed YAML",
    ),
    (
        "duplicate-yaml-key",
        _replace("    client_id: client-1\n", "    client_id: client-1\n    client_id: client-2\n"),
        "ringfence.yaml:28:5:",
        "duplicate key 'client_id'",
    ),
    (
        "unknown-field",
        _replace("    department: Security\n", "    department: Security\n    shoe_size: 9\n"),
        "ringfence.yaml:6:5: people[0] (ada@northwind.example).shoe_size",
        "unknown field 'shoe_size' (allowed: active, department, email, name)",
    ),
    (
        "unknown-top-level-key",
        SMALL + "bogus: []\n",
        "ringfence.yaml:42:1: bogus",
        "unknown top-level key 'bogus'",
    ),
    (
        "wrong-type-bool",
        _replace(
            "    clearance: confidential\n", "    clearance: confidential\n    sanctioned: yes\n"
        ),
        "ringfence.yaml:17:17: apps[0] (CRM).sanctioned",
        "valid boolean",
    ),
    (
        "wrong-type-int",
        _replace("    rotation_days: 90", '    rotation_days: "90"'),
        "ringfence.yaml:35:20: credentials[0] (chat-bot-token).rotation_days",
        "valid integer",
    ),
    (
        "wrong-type-list",
        _replace('    scopes: ["chat:write"]', "    scopes: chat:write"),
        "ringfence.yaml:28:13: integrations[0] (crm-to-chat).scopes",
        "valid list",
    ),
    (
        "section-not-a-list",
        _replace(
            "vendors:\n  - name: Salesforce\n    website: https://www.salesforce.com\n"
            "  - name: Slack Technologies\n",
            "vendors:\n  name: Salesforce\n",
        ),
        "ringfence.yaml:9:3: vendors",
        "must be a list of vendor entries",
    ),
    (
        "missing-field",
        _replace("    vendor: Slack Technologies\n", ""),
        "ringfence.yaml:19:5: apps[1] (Chat)",
        "missing required field 'vendor'",
    ),
    (
        "bad-data-class",
        _replace(
            "    data_classes: [internal, confidential]", "    data_classes: [internal, secret]"
        ),
        "ringfence.yaml:17:30: apps[0] (CRM).data_classes[1]",
        "'public', 'internal', 'confidential' or 'restricted'",
    ),
    (
        "bad-clearance",
        _replace("    clearance: confidential", "    clearance: top-secret"),
        "ringfence.yaml:16:16: apps[0] (CRM).clearance",
        "'public', 'internal', 'confidential' or 'restricted'",
    ),
    (
        "bad-url",
        _replace('    base_urls: ["https://slack.com/api"]', '    base_urls: ["slack.com/api"]'),
        "ringfence.yaml:21:17: apps[1] (Chat).base_urls[0]",
        "is not an http(s) URL",
    ),
    (
        "bad-email",
        _replace("  - email: bob@northwind.example", "  - email: bob-at-northwind"),
        "ringfence.yaml:6:12: people[1] (bob-at-northwind).email",
        "is not an e-mail address",
    ),
    (
        "dangling-vendor",
        _replace("    vendor: Salesforce\n", "    vendor: Salesforse\n"),
        "ringfence.yaml:14:13: apps[0] (CRM).vendor",
        "unknown vendor 'Salesforse' (declare it under vendors:)",
    ),
    (
        "dangling-owner",
        _replace(
            "    owner: ada@northwind.example\n    client_id",
            "    owner: eve@northwind.example\n    client_id",
        ),
        "ringfence.yaml:26:12: integrations[0] (crm-to-chat).owner",
        "unknown person 'eve@northwind.example' (declare it under people:)",
    ),
    (
        "dangling-app",
        _replace("    destination: Chat\n    owner", "    destination: Chatt\n    owner"),
        "ringfence.yaml:25:18: integrations[0] (crm-to-chat).destination",
        "unknown app 'Chatt'",
    ),
    (
        "dangling-integration",
        _replace("    integration: crm-to-chat\n    ref", "    integration: crm-to-slack\n    ref"),
        "ringfence.yaml:33:18: credentials[0] (chat-bot-token).integration",
        "unknown integration 'crm-to-slack'",
    ),
    (
        "duplicate-name",
        _replace("  - name: Chat\n", "  - name: CRM\n"),
        "ringfence.yaml:19:11: apps[1] (CRM).name",
        "duplicate name 'CRM': already declared at line 13",
    ),
    (
        "duplicate-email-case-insensitive",
        _replace("  - email: bob@northwind.example", "  - email: ADA@northwind.example"),
        "ringfence.yaml:6:12: people[1] (ADA@northwind.example).email",
        "duplicate email",
    ),
    (
        "duplicate-client-id",
        _replace(
            "credentials:\n",
            "  - name: crm-to-chat-2\n    source: CRM\n    destination: Chat\n"
            "    client_id: client-1\ncredentials:\n",
        ),
        "ringfence.yaml:33:16: integrations[1] (crm-to-chat-2).client_id",
        "machine identity 'client-1' is already used by integration 'crm-to-chat'",
    ),
    (
        "flow-not-through-its-integration",
        SMALL.replace("apps:\n", "apps:\n  - name: Wiki\n    vendor: Salesforce\n").replace(
            "    destination: Chat\n    integration: crm-to-chat\n    data_classes: [internal]\n",
            "    destination: Wiki\n    integration: crm-to-chat\n    data_classes: [internal]\n",
        ),
        "ringfence.yaml:42:18: flows[0] (deals-to-chat).integration",
        "integration 'crm-to-chat' connects CRM and Chat; a flow through it must go between",
    ),
    (
        "missing-api-version",
        SMALL.replace("apiVersion: ringfence/v1\n", ""),
        "ringfence.yaml:1:1:",
        "missing `apiVersion: ringfence/v1`",
    ),
    (
        "wrong-api-version",
        SMALL.replace("apiVersion: ringfence/v1", "apiVersion: ringfence/v2"),
        "ringfence.yaml:1:13: apiVersion",
        "unsupported apiVersion",
    ),
    (
        "not-a-mapping",
        "- just\n- a list\n",
        "ringfence.yaml:1:1:",
        "the file must be a mapping",
    ),
    (
        "empty-file",
        "",
        "ringfence.yaml:1:1:",
        "the file must be a mapping",
    ),
    (
        "integration-without-source",
        _replace(
            "    source: CRM\n    destination: Chat\n    owner", "    destination: Chat\n    owner"
        ),
        "ringfence.yaml:23:5: integrations[0] (crm-to-chat)",
        "needs a source app",
    ),
]


@pytest.mark.parametrize(
    ("text", "where", "what"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_located_and_explained(text: str, where: str, what: str) -> None:
    problems = _problems(text)
    assert any(p.startswith(where) and what in p for p in problems), problems


INLINE_SECRETS = [
    (
        "secret-field",
        _replace("    ref: vault:slack/bot\n", f"    ref: vault:slack/bot\n    secret: {SECRET}\n"),
        "ringfence.yaml:35:5: credentials[0] (chat-bot-token).secret",
        "inline secret in field 'secret'",
    ),
    (
        "value-field",
        _replace("    ref: vault:slack/bot\n", f"    value: {SECRET}\n"),
        "ringfence.yaml:34:5: credentials[0] (chat-bot-token).value",
        "inline secret in field 'value'",
    ),
    (
        "token-field-on-integration",
        _replace("    client_id: client-1\n", f"    client_id: client-1\n    token: {SECRET}\n"),
        "ringfence.yaml:28:5: integrations[0] (crm-to-chat).token",
        "inline secret in field 'token'",
    ),
    (
        "ref-not-a-reference",
        _replace("    ref: vault:slack/bot\n", f"    ref: {SECRET}\n"),
        "ringfence.yaml:34:10: credentials[0] (chat-bot-token).ref",
        "is not a secret reference",
    ),
    (
        "env-ref-malformed",
        _replace("    ref: vault:slack/bot\n", "    ref: ${env:}\n"),
        "ringfence.yaml:34:10: credentials[0] (chat-bot-token).ref",
        "is not a secret reference",
    ),
    (
        "token-shaped-value",
        _replace(
            "    data_classes: [internal]\ncredentials",
            "    data_classes: [internal]\n    description: bot xoxb-1234567890-abcdefghijkl\n"
            "credentials",
        ),
        "ringfence.yaml:30:18: integrations[0] (crm-to-chat).description",
        "looks like an inline secret",
    ),
    (
        "url-with-password",
        _replace('["https://slack.com/api"]', f'["https://bot:{SECRET}@slack.com/api"]'),
        "ringfence.yaml:21:17: apps[1] (Chat).base_urls[0]",
        "must not carry credentials",
    ),
]


@pytest.mark.parametrize(
    ("text", "where", "what"), [c[1:] for c in INLINE_SECRETS], ids=[c[0] for c in INLINE_SECRETS]
)
def test_inline_secret_is_refused_with_advice_and_never_echoed(
    text: str, where: str, what: str
) -> None:
    with pytest.raises(EstateInvalid) as info:
        parse_estate(text, "ringfence.yaml")
    problems = [str(p) for p in info.value.problems]
    assert any(p.startswith(where) and what in p for p in problems), problems
    hit = next(p for p in problems if p.startswith(where))
    assert "vault:NAME" in hit or "credentials entry" in hit or "must not carry" in hit
    everything = str(info.value) + repr(info.value.to_problem()) + "\n".join(problems)
    assert SECRET not in everything
    assert "xoxb-1234567890" not in everything


@pytest.mark.parametrize(
    "ref", ["vault:identity/totp/admin-id", "vault:gateway/signing/k1", "vault:vendors/documents/d"]
)
def test_references_to_ringfence_own_keys_are_refused(ref: str) -> None:
    """Whoever edits the estate must not be able to have the gateway inject (or a playbook
    rotate over) Ringfence's own keys: TOTP seeds, token-signing keys, document data keys."""
    problems = _problems(_replace("    ref: vault:slack/bot\n", f"    ref: {ref}\n"))
    assert any(
        p.startswith("ringfence.yaml:34:10: credentials[0] (chat-bot-token).ref")
        and "is one of Ringfence's own keys" in p
        for p in problems
    ), problems


def test_every_problem_is_reported_at_once() -> None:
    text = _replace("    vendor: Salesforce\n", "    vendor: Nope\n    colour: red\n").replace(
        "    rotation_days: 90", "    rotation_days: ninety"
    )
    problems = _problems(text)
    assert len(problems) >= 2
    assert problems == sorted(problems, key=lambda p: int(p.split(":")[1]))


def test_duplicate_yaml_key_error_does_not_echo_values() -> None:
    text = _replace("    ref: vault:slack/bot\n", f"    ref: vault:slack/bot\n    ref: {SECRET}\n")
    problems = _problems(text)
    assert any("duplicate key 'ref'" in p for p in problems)
    assert SECRET not in "".join(problems)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    from ringfence.core.errors import ValidationError

    with pytest.raises(ValidationError, match="no such file"):
        load_estate(tmp_path / "nope.yaml")


def test_non_utf8_file_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "estate.yaml"
    path.write_bytes(b"apiVersion: ringfence/v1\napps: [\xff]\n")
    with pytest.raises(EstateInvalid, match="not UTF-8"):
        load_estate(path)


ALL_BAD = [c[1] for c in BAD_INPUTS] + [c[1] for c in INLINE_SECRETS]


def test_invalid_files_change_nothing(runtime: Runtime, tmp_path: Path) -> None:
    apply_estate(runtime.store, parse_estate(SMALL, "small.yaml"), clock=runtime.clock)
    before = fingerprint(runtime.store)
    for i, text in enumerate(ALL_BAD):
        path = tmp_path / f"bad-{i}.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(EstateInvalid):
            apply_estate(runtime.store, load_estate(path), clock=runtime.clock)
        assert fingerprint(runtime.store) == before, text
    assert SECRET not in before[0]


def test_hostile_documents_are_refused_quickly() -> None:
    deep = "apiVersion: ringfence/v1\napps:\n  - name: x\n    vendor: " + "[" * 200 + "]" * 200
    assert any("levels deep" in p for p in _problems(deep))
    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        laughs.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    bomb = "apiVersion: ringfence/v1\n" + "\n".join(laughs) + "\n"
    assert any("document too large" in p for p in _problems(bomb))
    assert any("several" in p for p in _problems(SMALL + "---\n" + SMALL))


HEAD = "apiVersion: ringfence/v1\n"
# (case id, file text, expected "file:line:col:", message fragment)
HOSTILE_YAML = [
    ("custom-tag-on-a-list", HEAD + "apps: !foo [a]\n", "ringfence.yaml:2:7:", "tag '!foo'"),
    ("custom-tag-on-a-scalar", HEAD + "apps:\n  - name: !foo crm\n", "ringfence.yaml:3:11:", "tag"),
    (
        "python-object-tag",
        HEAD + "apps: !!python/object/apply:os.system [id]\n",
        "ringfence.yaml:2:7:",
        "unsupported YAML tag '!!python/object/apply:os.system'",
    ),
    ("omap-duplicate-keys", HEAD + "apps: !!omap [x: 1, x: 2]\n", "ringfence.yaml:2:7:", "omap"),
    ("binary", HEAD + "apps:\n  - name: !!binary AAAA\n", "ringfence.yaml:3:11:", "binary"),
    ("set", HEAD + "apps: !!set {x, y}\n", "ringfence.yaml:2:7:", "'!!set'"),
    (
        # The scanner stops at the 65th bracket: the error points at it.
        "deep-flow-nesting",
        HEAD + "apps: " + "[" * 900 + "]" * 900,
        "ringfence.yaml:2:71:",
        "nested more than 64 levels deep",
    ),
    (
        "deep-block-nesting",
        HEAD + "".join("  " * i + f"k{i}:\n" for i in range(3000)),
        "ringfence.yaml:66:",
        "nested more than 64 levels deep",
    ),
]


@pytest.mark.parametrize(
    ("text", "where", "what"), [c[1:] for c in HOSTILE_YAML], ids=[c[0] for c in HOSTILE_YAML]
)
def test_hostile_yaml_is_one_located_problem(text: str, where: str, what: str) -> None:
    problems = _problems(text)
    assert len(problems) == 1 and problems[0].startswith(where) and what in problems[0], problems


def test_merge_keys_keep_positions_for_later_problems() -> None:
    """Keys merged from an anchor carry no position of their own: the mapping's is used."""
    text = HEAD + (
        "apps:\n  - &crm\n    name: CRM\n    clearance: top-secret\n"
        "  - <<: *crm\n    name: CRM2\n  - {<<: *crm, name: CRM3}\n"
    )
    problems = _problems(text)
    assert "ringfence.yaml:5:16: apps[0] (CRM).clearance: Input should be" in problems[1]
    assert any(p.startswith("ringfence.yaml:6:5: apps[1] (CRM2).clearance") for p in problems)
    assert any(p.startswith("ringfence.yaml:8:5: apps[2] (CRM3).clearance") for p in problems)
