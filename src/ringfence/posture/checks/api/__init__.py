"""API-management checks: plaintext transport, routes without schema or rate limit, traffic

One module per check; importing the package registers nothing by itself
(``ringfence.posture.checks`` imports every module).
"""
