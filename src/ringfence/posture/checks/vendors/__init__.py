"""Vendor checks (active once vendor-risk data exists): assessments, certificates, DPA,

One module per check; importing the package registers nothing by itself
(``ringfence.posture.checks`` imports every module).
"""
