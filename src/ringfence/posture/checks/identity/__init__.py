"""Identity checks: MFA, departed and dormant people, ownership, shared credentials, SSO.

One module per check; importing the package registers nothing by itself
(``ringfence.posture.checks`` imports every module).
"""
