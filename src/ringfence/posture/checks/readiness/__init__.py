"""Incident-response readiness and monitoring checks (active once those capabilities report

One module per check; importing the package registers nothing by itself
(``ringfence.posture.checks`` imports every module).
"""
