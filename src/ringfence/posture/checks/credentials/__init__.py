"""Credential checks: age, rotation, expiry, use, where the secret lives, SaaS tokens.

One module per check; importing the package registers nothing by itself
(``ringfence.posture.checks`` imports every module).
"""
