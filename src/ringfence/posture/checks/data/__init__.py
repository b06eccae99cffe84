"""Data-governance checks: clearance, undeclared observed flows, retention rules.

One module per check; importing the package registers nothing by itself
(``ringfence.posture.checks`` imports every module).
"""
