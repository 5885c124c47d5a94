"""Durable workflows: ``CondorExecutor(workflow="NAME")`` journals each call, and a rerun of the same
script re-attaches to what an earlier run left instead of running it again (docs/durable.md)."""
