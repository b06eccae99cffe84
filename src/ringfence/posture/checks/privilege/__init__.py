"""Least-privilege checks: unused scopes (from gateway traffic), wildcard/admin/high-risk

One module per check; importing the package registers nothing by itself
(``ringfence.posture.checks`` imports every module).
"""
