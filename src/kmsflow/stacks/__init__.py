"""Thin stacks that wire kmsflow's constructs together, one stack per role per (account, region)."""
