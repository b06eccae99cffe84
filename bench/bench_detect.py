"""Detection benchmark: our compiled Sigma matchers vs pySigma's SQLite backend (the approach
of Zircolite: flatten events into an in-memory SQLite table, run one SQL query per rule).

One run, same events, same rules:

* rules: the bundled base rules (correlations excluded: they are stateful meta-rules) plus a
  set of SigmaHQ-style rules written with SigmaHQ's field names for okta / azure / m365 /
  github / gcp;
* events: >= 200k synthetic vendor records (seeded) parsed by our parsers, ~1% of them
  designed to match;
* ours: ``RuleSet.match`` per event (rule index + compiled predicates; the C plans of
  csrc/sigma when the extension is built — the Python path is timed too and must count alike);
* reference: ``sigma.backends.sqlite`` converts every rule to SQL; events are flattened into
  one table per log-source product, columns = the fields the rules use (resolved through the
  same field mapping, so both sides see the same values); ``REGEXP`` is Python ``re``.

Match counts per rule must be equal (asserted). Prints events/s and the ratio.
``--nats N`` also measures N events end to end through NATS JetStream into PostgreSQL with
``--workers`` worker processes (needs NATS on :4222 and PostgreSQL on :5432); ``--worker-cpu
N`` runs a worker's loop in-process on PostgreSQL and prints CPU seconds per stage.
Run: ``.venv/bin/python bench/bench_detect.py [--events 200000] [--nats 50000]``
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import re
import sqlite3
import time
from typing import Any

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection

from ringfence.monitor.events import Event
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.samples import PARSER_SOURCE, sample
from ringfence.monitor.sigma.engine import _ALL_SERVICES, BUNDLED_RULES, CompiledRule, RuleSet
from ringfence.monitor.sigma.fields import getter

SIGMAHQ_STYLE = """
title: Okta User Account Locked Out
id: 7b2b7f1a-0000-4000-8000-000000000001
logsource: {product: okta, service: okta}
detection: {selection: {displaymessage: Max sign in attempts exceeded}, condition: selection}
level: medium
---
title: Okta Admin Role Assigned to an User or Group
id: 7b2b7f1a-0000-4000-8000-000000000002
logsource: {product: okta, service: okta}
detection:
  selection: {eventtype: [group.privilege.grant, user.account.privilege.grant]}
  condition: selection
level: medium
---
title: Okta Policy Rule Modified or Deleted
id: 7b2b7f1a-0000-4000-8000-000000000003
logsource: {product: okta, service: okta}
detection:
  selection: {eventtype: [policy.rule.update, policy.rule.delete]}
  condition: selection
level: medium
---
title: Okta Suspicious Activity Reported by End-user
id: 7b2b7f1a-0000-4000-8000-000000000004
logsource: {product: okta, service: okta}
detection: {selection: {eventtype: user.account.report_suspicious_activity_by_enduser},
            condition: selection}
level: high
---
title: Okta Sign-in from proxy with failure
id: 7b2b7f1a-0000-4000-8000-000000000005
logsource: {product: okta, service: okta}
detection:
  selection:
    eventtype|startswith: user.session
    outcome.result: FAILURE
    client.ipaddress|cidr: 203.0.113.0/24
  condition: selection
level: medium
---
title: User Added to an Administrator's Azure AD Role
id: 7b2b7f1a-0000-4000-8000-000000000006
logsource: {product: azure, service: auditlogs}
detection:
  selection:
    Operation: Add member to role.
    Workload: AzureActiveDirectory
    ModifiedProperties{}.NewValue|endswith: [Admins, Administrator]
  condition: selection
level: medium
---
title: Azure Application Credential Modified
id: 7b2b7f1a-0000-4000-8000-000000000007
logsource: {product: azure, service: auditlogs}
detection:
  selection: {properties.message: Update application - Certificates and secrets management}
  condition: selection
level: high
---
title: Sign-ins by Unknown Devices with failure
id: 7b2b7f1a-0000-4000-8000-000000000008
logsource: {product: azure, service: signinlogs}
detection:
  selection:
    ResultType|neq: 0
    AppDisplayName|contains: Graph
  condition: selection
level: low
---
title: Github Delete Action Invoked
id: 7b2b7f1a-0000-4000-8000-000000000009
logsource: {product: github, service: audit}
detection:
  selection: {action: [codespaces.delete, environment.delete, project.delete, repo.destroy]}
  condition: selection
level: medium
---
title: Github Outside Collaborator Detected
id: 7b2b7f1a-0000-4000-8000-000000000010
logsource: {product: github, service: audit}
detection:
  selection: {action: [org.add_member, org.add_outside_collaborator]}
  condition: selection
level: medium
---
title: Google Workspace User Granted Admin Privileges
id: 7b2b7f1a-0000-4000-8000-000000000011
logsource: {product: gcp, service: google_workspace.admin}
detection:
  selection:
    eventService: admin.googleapis.com
    eventName: [GRANT_DELEGATED_ADMIN_PRIVILEGES, GRANT_ADMIN_PRIVILEGE]
  condition: selection
level: medium
---
title: Activity Performed by Terminated User
id: 7b2b7f1a-0000-4000-8000-000000000012
logsource: {product: m365, service: threat_management}
detection:
  selection:
    eventSource: SecurityComplianceCenter
    eventName: Activity performed by terminated user
    status: success
  condition: selection
level: medium
---
title: PowerShell-like encoded command in a gateway path
id: 7b2b7f1a-0000-4000-8000-000000000013
logsource: {product: ringfence, service: gateway}
detection:
  selection:
    path|re: '/(admin|debug)/[a-z]+'
  filter:
    status: 404
  condition: selection and not filter
level: medium
"""

OKTA_TYPES = [
    ("user.session.start", 60),
    ("user.authentication.sso", 20),
    ("app.generic.unauth_app_access_attempt", 5),
    ("user.account.privilege.grant", 1),
    ("policy.rule.update", 1),
    ("user.mfa.factor.deactivate", 1),
    ("system.api_token.create", 1),
    ("user.account.lock", 1),
]
GH_ACTIONS = [
    ("git.clone", 50),
    ("repo.create", 10),
    ("org.add_member", 1),
    ("repo.destroy", 1),
    ("personal_access_token.access_granted", 2),
    ("repo.access", 1),
    ("git.push", 30),
]


def _pick(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([t for t, _ in table], weights=[w for _, w in table])[0]


def make_records(n: int, seed: int = 7) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    out: list[tuple[str, dict[str, Any]]] = []
    for i in range(n):
        kind = rng.choices(
            ["ringfence", "okta", "github", "m365", "entra_signin", "entra_audit", "gws", "slack"],
            weights=[40, 20, 12, 10, 8, 3, 4, 3],
        )[0]
        ts = f"2026-01-05T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"
        if kind == "ringfence":
            status = rng.choices([200, 401, 403, 404, 502], weights=[90, 3, 3, 2, 1])[0]
            path = rng.choice(
                ["/crm/v3/objects/contacts", "/v1/items", "/admin/users", "/debug/vars"]
            )
            rec = {
                "request_id": f"g{i}",
                "time": ts,
                "status": status,
                "path_template": path,
                "client_ip": f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(256)}",
                "reason": rng.choice(["ok", "ok", "ok", "scope_missing", "api_key_revoked"]),
                "dlp": {"action": rng.choices(["none", "redact", "block"], [90, 8, 2])[0]},
            }
            out.append(("ringfence", rec))
        elif kind == "okta":
            et = _pick(rng, OKTA_TYPES)
            res = "FAILURE" if rng.random() < 0.1 else "SUCCESS"
            msg = (
                "Max sign in attempts exceeded"
                if et == "user.account.lock"
                else "User login to Okta"
            )
            rec = {
                "uuid": f"o{i}",
                "published": ts,
                "eventType": et,
                "displayMessage": msg,
                "outcome": {"result": res},
                "client": {"ipAddress": rng.choice(["203.0.113.7", "198.51.100.23", "192.0.2.4"])},
                "securityContext": {"isProxy": rng.random() < 0.01},
            }
            out.append(("okta", rec))
        elif kind == "github":
            act = _pick(rng, GH_ACTIONS)
            rec = {
                "_document_id": f"d{i}",
                "@timestamp": ts,
                "action": act,
                "repo": f"octo-corp/r{rng.randrange(50)}",
                "token_scopes": rng.choice(["repo", "repo,admin:org", "read:org"]),
                "visibility": rng.choice(["private", "public"]),
                "repository_selection": rng.choice(["all", "selected"]),
            }
            out.append(("github", rec))
        elif kind == "m365":
            op = rng.choices(
                [
                    "FileAccessed",
                    "FileDownloaded",
                    "Disable Strong Authentication.",
                    "UserLoggedIn",
                ],
                [50, 30, 1, 19],
            )[0]
            out.append(
                (
                    "m365",
                    {
                        "Id": f"m{i}",
                        "CreationTime": ts[:-1],
                        "Operation": op,
                        "Workload": "SharePoint"
                        if op.startswith("File")
                        else "AzureActiveDirectory",
                    },
                )
            )
        elif kind == "entra_signin":
            code = rng.choices([0, 50126, 50053], [90, 8, 2])[0]
            app = rng.choice(["Graph Explorer", "Office 365", "Azure Portal"])
            out.append(
                (
                    "entra_signin",
                    {
                        "id": f"s{i}",
                        "createdDateTime": ts,
                        "status": {"errorCode": code},
                        "appDisplayName": app,
                    },
                )
            )
        elif kind == "entra_audit":
            act = rng.choices(
                [
                    "Update user",
                    "Consent to application",
                    "Add member to role",
                    "Update application - Certificates and secrets management",
                ],
                [80, 8, 6, 6],
            )[0]
            out.append(
                ("entra_audit", {"id": f"a{i}", "activityDateTime": ts, "activityDisplayName": act})
            )
        elif kind == "gws":
            name = rng.choices(
                ["CHANGE_PASSWORD", "ASSIGN_ROLE", "GRANT_ADMIN_PRIVILEGE", "CREATE_USER"],
                [80, 5, 5, 10],
            )[0]
            out.append(
                (
                    "google_workspace",
                    {
                        "id": {"time": ts, "uniqueQualifier": f"q{i}"},
                        "events": [
                            {
                                "type": "USER_SETTINGS",
                                "name": name,
                                "parameters": [{"name": "USER_EMAIL", "value": "x@example.com"}],
                            }
                        ],
                    },
                )
            )
        else:
            act = rng.choices(
                ["user_login", "file_downloaded", "app_installed", "role_change_to_admin"],
                [80, 15, 3, 2],
            )[0]
            out.append(("slack", {"id": f"sl{i}", "date_create": 1767604363 + i, "action": act}))
    return out


def bench_rule_docs() -> list[dict[str, Any]]:
    """The bench's rules: the bundled base rules (no correlations) + the SigmaHQ-style set."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    docs: list[dict[str, Any]] = []
    for f in sorted(BUNDLED_RULES.glob("*.yml")):
        docs += [d for d in yaml.load_all(f.read_text()) if d and "correlation" not in d]
    docs += [d for d in yaml.load_all(SIGMAHQ_STYLE) if d]
    for d in docs:
        d.pop("x_tests", None)
    return docs


def bench_ruleset() -> RuleSet:
    rs = RuleSet.from_docs([("bench", d) for d in bench_rule_docs()])
    assert not rs.problems, rs.problems
    return rs


def parse_all(records: list[tuple[str, dict[str, Any]]]) -> list[Event]:
    events: list[Event] = []
    for source, patch in records:
        rec = sample(source, patch)
        if source == "google_workspace":
            rec["events"] = patch["events"]
        events.extend(parser_for(PARSER_SOURCE.get(source, source))(rec))
    return events


def fields_of(tree: Any, out: set[str]) -> None:
    f = getattr(tree, "field", None)
    if isinstance(f, str):
        out.add(f)
    for a in getattr(tree, "args", []) or []:
        fields_of(a, out)


def sql_reference(
    rules: list[CompiledRule], docs: list[dict[str, Any]], events: list[Event]
) -> tuple[dict[str, int], float, float, set[str]]:
    """Counts per rule, load seconds, query seconds, rules touching list-valued fields."""
    coll = SigmaCollection.from_dicts(docs)
    backend = sqliteBackend()
    by_title = {r.title: r for r in rules}
    queries: dict[str, str] = {}
    fields: dict[str | None, set[str]] = {}
    rule_fields: dict[str, set[str]] = {}
    for sr in coll.rules:
        r = by_title[sr.title]
        (q,) = backend.convert_rule(sr)
        queries[r.key] = q
        fset = fields.setdefault(r.product, set())
        mine = rule_fields.setdefault(r.key, set())
        for cond in sr.detection.parsed_condition:
            fields_of(cond.parsed, mine)
        fset |= mine
    multi: set[tuple[str | None, str]] = set()
    t0 = time.perf_counter()
    db = sqlite3.connect(":memory:")
    db.create_function(
        "regexp",
        2,
        lambda p, v: v is not None and re.search(p, str(v)) is not None,
        deterministic=True,
    )
    # SQLite column names are case-insensitive: eventType / eventtype are one column (both
    # resolve to the same vendor field through the mapping).
    getters: dict[str | None, list[tuple[str, Any]]] = {}
    for p, fs in fields.items():
        seen: set[str] = set()
        getters[p] = []
        for f in sorted(fs):
            if f.lower() not in seen:
                seen.add(f.lower())
                getters[p].append((f, getter(p, f)))
    for p, gs in getters.items():
        cols = ", ".join(f'"{f}"' for f, _ in gs)
        db.execute(f'CREATE TABLE "logs_{p}" (_service TEXT, {cols})')
    rows: dict[str | None, list[tuple[Any, ...]]] = {p: [] for p in getters}
    for e in events:
        gs = getters.get(e.product)
        if gs is None:
            continue
        view = e.view()
        row: list[Any] = [e.service]
        for _f, g in gs:
            vals = [v for v in g(view) if v is not None]
            if not vals:
                row.append(None)
            elif len(vals) == 1 and not isinstance(vals[0], dict | list):
                v = vals[0]
                row.append(int(v) if isinstance(v, bool) else v)
            else:
                # a list: flat SQL sees one joined string (Zircolite-style flattening)
                multi.add((e.product, _f))
                row.append(" ".join(str(v) for v in vals))
        rows[e.product].append(tuple(row))
    for p, rs_ in rows.items():
        marks = ", ".join("?" * (len(getters[p]) + 1))
        db.executemany(f'INSERT INTO "logs_{p}" VALUES ({marks})', rs_)
    db.commit()
    load = time.perf_counter() - t0
    counts: dict[str, int] = {}
    t1 = time.perf_counter()
    for r in rules:
        cond = queries[r.key].split(" WHERE ", 1)[1]
        svc = "1=1"
        if r.service and (r.product, r.service) not in _ALL_SERVICES:
            svc = f"(_service = '{r.service}' OR _service LIKE '{r.service}.%')"
        sql = f'SELECT COUNT(*) FROM "logs_{r.product}" WHERE {svc} AND ({cond})'
        counts[r.key] = db.execute(sql).fetchone()[0]
    query = time.perf_counter() - t1
    multi_lower = {(p, f.lower()) for p, f in multi}
    list_rules = {
        r.key
        for r in rules
        if any((r.product, f.lower()) in multi_lower for f in rule_fields[r.key])
    }
    return counts, load, query, list_rules


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process from /proc (0 when it is gone or unreadable)."""
    import os

    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pids_matching(needle: str) -> list[int]:
    """Processes whose command line contains ``needle`` (PostgreSQL backends show the
    database name in their title; the NATS server its binary name)."""
    import os

    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if needle.encode() in f.read():
                        out.append(int(d))
            except OSError:
                continue
    return out


class _CpuMeter:
    """CPU seconds spent by the workers, this process, our database's PostgreSQL backends and
    the NATS server (shared with anyone else using it) between ``start`` and ``stop``."""

    def __init__(self, worker_pids: list[int], db_name: str) -> None:
        self.worker_pids = worker_pids
        self.db_name = db_name

    def _snap(self) -> dict[str, dict[int, float]]:
        return {
            "workers": {p: _proc_cpu(p) for p in self.worker_pids},
            "postgres": {p: _proc_cpu(p) for p in _pids_matching(f" {self.db_name} ")},
            "nats-server": {p: _proc_cpu(p) for p in _pids_matching("nats-server")},
            "publisher": {0: time.process_time()},
        }

    def start(self) -> None:
        self.t0 = self._snap()

    def stop(self) -> dict[str, float]:
        t1 = self._snap()
        return {k: sum(v - self.t0[k].get(p, 0.0) for p, v in t1[k].items()) for k in t1}


async def _wait_ready(bus: Any, workers: int) -> None:
    """Until every worker process has its pull request waiting on the consumer (start-up and
    imports are not part of the throughput)."""
    import asyncio

    from nats.js.errors import NotFoundError

    await bus.connect()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            info = await bus._js.consumer_info(bus.stream, bus.durable)
            if int(info.num_waiting or 0) >= workers:
                return
        except NotFoundError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("workers did not become ready in 120 s")


async def _publish_and_wait(
    bus: Any, es: Any, events: list[Event], workers: int, meter: _CpuMeter
) -> tuple[float, float, dict[str, float]]:
    """(seconds to publish, seconds until all stored, CPU seconds by process group)."""
    import asyncio

    await _wait_ready(bus, workers)
    meter.start()
    t = time.perf_counter()
    await bus.publish(events)
    published = time.perf_counter() - t
    # Done when the consumer has nothing undelivered or unacked: workers ack only after the
    # commit, so every event is stored then (counted once below). Polling COUNT(*) instead
    # made PostgreSQL scan the growing table ten times a second, on the same two cores.
    while await bus.pending() != (0, 0):  # noqa: ASYNC110 - polling the server, not an event
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t
    cpu = meter.stop()
    await bus.delete_stream()
    await bus.close()
    return published, elapsed, cpu


def bench_nats(n: int, workers: int) -> None:
    """End to end: publish n parsed events to JetStream, ``workers`` worker processes store
    them in PostgreSQL (store only, and with all analysers); events/s until all stored,
    measured from the first publish once every worker waits on the consumer."""
    import asyncio
    import subprocess
    import sys
    from pathlib import Path
    from urllib.parse import urlsplit

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.services helpers
    from tests.services import NATS_URL, nats_names, postgres_database

    from ringfence.bus import NatsBus
    from ringfence.monitor.storage import EventStore
    from ringfence.store.db import Store

    events = parse_all(make_records(n, seed=11))
    for analyse in (False, True):
        name = nats_names()
        with postgres_database() as url:
            store = Store(url)
            store.migrate()
            es = EventStore(store)
            bus = NatsBus(NATS_URL, stream=name, subject_prefix=name.lower(), durable="w")
            cmd = [
                sys.executable,
                "-m",
                "ringfence.monitor.worker",
                "--nats",
                NATS_URL,
                "--store-url",
                url,
                "--stream",
                name,
                "--prefix",
                name.lower(),
                "--durable",
                "w",
            ] + ([] if analyse else ["--store-only"])
            procs = [subprocess.Popen(cmd, stderr=subprocess.DEVNULL) for _ in range(workers)]
            meter = _CpuMeter([p.pid for p in procs], urlsplit(url).path.lstrip("/"))
            try:
                published, elapsed, cpu = asyncio.run(
                    _publish_and_wait(bus, es, events, workers, meter)
                )
            finally:
                for p in procs:
                    p.terminate()
                    p.wait(10)
            stored, distinct = es.count(), es.count_distinct_ids()
            store.dispose()
        assert stored == distinct == len(events), (stored, distinct, len(events))
        mode = "store + Sigma/UEBA/apimon" if analyse else "store only"
        cpu_s = ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
        print(
            f"NATS end to end, {workers} workers, {mode}: {len(events):,} events in "
            f"{elapsed:.1f} s = {len(events) / elapsed:,.0f} events/s (published in "
            f"{published:.1f} s), none lost or duplicated; CPU s: {cpu_s}; "
            f"{len(events) / sum(cpu.values()):,.0f} events per CPU-second"
        )


def bench_worker_cpu(n: int) -> None:
    """A monitor worker's loop in this process, without NATS: the events as bus messages of
    200 (``encode_batch``), 25 messages per handler call like the worker's fetch, decoded and
    handed to ``Monitor.process`` with Sigma/UEBA/apimon on a fresh PostgreSQL database, the
    cyclic GC as in the worker. Prints CPU seconds per 100k events per stage (this process)
    and of the database's backends: a measure that does not depend on the neighbours' load
    the way events/s does."""
    import dataclasses
    import sys
    from pathlib import Path
    from urllib.parse import urlsplit

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.services helpers
    from tests.services import postgres_database

    from ringfence.bus.base import chunks, decode_batch, encode_batch
    from ringfence.core.clock import SystemClock
    from ringfence.monitor.alerts import AlertStore
    from ringfence.monitor.apimon import ApiMonitor
    from ringfence.monitor.detect import SigmaDetector
    from ringfence.monitor.service import Monitor
    from ringfence.monitor.ueba import Ueba
    from ringfence.store.db import Store

    messages = [encode_batch(c) for c in chunks(parse_all(make_records(n, seed=11)), 200)]
    fetches = [messages[i : i + 25] for i in range(0, len(messages), 25)]
    spent: dict[str, float] = {"decode": 0.0}

    class Timed:
        def __init__(self, name: str, analyser: Any) -> None:
            self.name, self.analyser = name, analyser
            spent[name] = 0.0

        def analyse(self, events: Any) -> None:
            t = time.process_time()
            self.analyser.analyse(events)
            spent[self.name] += time.process_time() - t

    with postgres_database() as url:
        store = Store(url)
        store.migrate()
        clock = SystemClock()
        alerts = AlertStore(store, clock)
        monitor = Monitor(
            store,
            clock,
            [
                Timed("Sigma", SigmaDetector(RuleSet.bundled(), alerts)),
                Timed("UEBA", Ueba(store, clock, alerts)),
                Timed("apimon", ApiMonitor(alerts)),
            ],
        )
        # connection, statements and partition made (an id of its own: the stream's first
        # batch still takes COPY's fast path)
        monitor.process([dataclasses.replace(decode_batch(messages[0])[0], id="warm-up")])
        db = urlsplit(url).path.lstrip("/")
        gc.collect()
        gc.freeze()
        gc.disable()
        pg0 = sum(_proc_cpu(p) for p in _pids_matching(f" {db} "))
        t0 = time.process_time()
        count = 0
        for fetch in fetches:
            t = time.process_time()
            events = [e for m in fetch for e in decode_batch(m)]
            spent["decode"] += time.process_time() - t
            count += len(events)
            monitor.process(events)
            del events
            gc.collect(1)
        total = time.process_time() - t0
        pg = sum(_proc_cpu(p) for p in _pids_matching(f" {db} ")) - pg0
        gc.enable()
        store.dispose()
    per = 100_000 / count
    rest = total - sum(spent.values())
    stages = ", ".join(f"{k} {v * per:.2f}" for k, v in spent.items())
    print(
        f"worker loop in-process, {count:,} events, CPU s per 100k: worker {total * per:.2f} "
        f"({stages}, storage + rest {rest * per:.2f}); PostgreSQL backends {pg * per:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--nats", type=int, default=0, help="also run N events end to end via NATS")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--worker-cpu",
        type=int,
        default=0,
        help="also run N events through a worker's loop in-process (CPU s per stage)",
    )
    args = ap.parse_args()
    if args.worker_cpu:
        bench_worker_cpu(args.worker_cpu)
    if args.nats:
        bench_nats(args.nats, args.workers)
    docs = bench_rule_docs()
    t = time.perf_counter()
    rs = RuleSet.from_docs([("bench", d) for d in docs])
    compile_s = time.perf_counter() - t
    assert not rs.problems, rs.problems
    print(
        f"{len(rs.rules)} rules ({len(docs) - 13} bundled + 13 SigmaHQ-style), "
        f"compiled in {compile_s * 1000:.0f} ms"
    )
    t = time.perf_counter()
    events = parse_all(make_records(args.events))
    print(f"{len(events):,} events generated + parsed in {time.perf_counter() - t:.1f} s")
    # 200k events are millions of long-lived dicts: keep the cyclic GC from re-scanning them
    # during both measurements (a worker holds one small batch at a time, not 200k events)
    gc.collect()
    gc.freeze()

    def timed(match: Any) -> tuple[float, dict[str, int]]:
        """Best of three runs of ``match`` over the events, matches counted per rule."""
        best = float("inf")
        counts: dict[str, int] = {}
        for _ in range(3):
            # counted per rule inside the timed loop (the SQL side's COUNT(*)), in a plain
            # dict made before the clock starts: a Counter's subscripts cost ~50 ns more
            counts = dict.fromkeys((r.key for r in rs.rules), 0)
            t = time.perf_counter()
            for e in events:
                for r in match(e):
                    counts[r.key] += 1
            best = min(best, time.perf_counter() - t)
        return best, counts

    best, ours = timed(rs.match)
    # what RuleSet.match is: the C matcher when the extension is built (it hands events with
    # lists or odd values to the Python path), else the Python path itself
    native = rs.match is not rs.match_python
    python_best = None
    if native:
        python_best, python_counts = timed(rs.match_python)
        assert python_counts == ours, "the C matcher and the Python path disagree"
    # The reference gets the same best of three as ours (one run of it used to be compared
    # with our best of three, which flattered us).
    runs = [sql_reference(rs.rules, docs, events) for _ in range(3)]
    theirs, load, query, list_rules = min(runs, key=lambda r: r[1] + r[2])
    mismatched = {
        k: (ours.get(k, 0), v)
        for k, v in theirs.items()
        if ours.get(k, 0) != v and k not in list_rules
    }
    assert not mismatched, f"match counts differ (ours, sqlite): {mismatched}"
    for k in sorted(list_rules):
        print(
            f"not compared: {k} matches a list field (ours {ours.get(k, 0)}, flat SQL "
            f"{theirs[k]}): SQL over flattened columns cannot express any-element semantics"
        )
    total_matches = sum(ours.values())
    n = len(events)
    print(
        f"matches: {total_matches:,}; equal on {len(theirs) - len(list_rules)} of "
        f"{len(theirs)} rules"
    )
    kind = "C plans" if native else "Python plans (no C extension)"
    print(f"ringfence compiled matchers : {best:6.2f} s  {n / best:>10,.0f} events/s  ({kind})")
    if python_best is not None:
        print(
            f"  same, Python path only    : {python_best:6.2f} s  {n / python_best:>10,.0f} "
            "events/s  (RINGFENCE_SIGMA_NATIVE=0; not the compared figure)"
        )
    print(f"pySigma sqlite, load        : {load:6.2f} s")
    print(f"pySigma sqlite, queries     : {query:6.2f} s")
    print(
        f"pySigma sqlite, total       : {load + query:6.2f} s  {n / (load + query):>10,.0f} "
        "events/s"
    )
    print(
        f"ratio (sqlite total / ours) : {(load + query) / best:.2f}x; "
        f"queries only: {query / best:.2f}x"
    )
    print(f"machine: {platform.machine()}, python {platform.python_version()}")


if __name__ == "__main__":
    main()
