"""Development tooling of this repository, not part of the operator (nor of its wheel or image):

* ``controlplane`` — a local etcd + kube-apiserver (``make cluster-up`` / ``make cluster-down``,
  the e2e tests), built from the Go tools module in ``tools/kube``;
* ``stack`` — the operator as a real process against it, the CRD installed with kubectl, and
  the example manifest they apply;
* ``processes`` — stopping a child process (SIGTERM, a grace period, SIGKILL), for all of them
  and for the tests;
* ``demo`` — ``aurora-upgrade demo`` / ``make demo``, the runbook's upgrade end to end.

``make venv`` installs it, editable, next to the operator (``pip install -e '.[dev]' -e tools``).
"""
