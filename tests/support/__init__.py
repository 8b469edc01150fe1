"""Test support: run synthesized state machines in moto with in-process handlers and a virtual clock.

See README.md in this folder. ``sfn_harness.WorkflowHarness`` is the entry point.
"""
