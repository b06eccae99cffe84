"""The demo: the perimeter with its embedded defaults and a simulated SaaS estate (`make demo`).

Runs everything in one process on loopback: the control-plane API, the gateway, fake SaaS
vendors (Okta, GitHub, Google Workspace, Microsoft 365, Slack) and a stand-in upstream for the
gateway's routes. Secrets it needs are random, generated here and kept in the vault; the demo
prints only the demo API token and gateway key it issues for you, once.
"""

from ringfence.demo.runner import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
