"""Shadow-IT checks: unsanctioned apps in use, SaaS apps and grants nobody declared.

One module per check; importing the package registers nothing by itself
(``ringfence.posture.checks`` imports every module).
"""
