"""What the test tiers share: the runbook's upgrade as each tier expects it
(``support.runbook``). pytest's ``pythonpath`` option puts it on every tier's import path.

The development tooling never imports from here: what it shares with the tests (the example's
path, stopping a process) lives in ``aurora_upgrade_dev``.
"""
