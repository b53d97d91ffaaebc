"""Fixtures of the kopf tier (kopf_tier.py): the session's control plane and simulator, a
namespace per module."""

from kopf_tier import control_plane, kube, operator_env, pytest_collection_finish, sim, upgrades

__all__ = ["control_plane", "kube", "operator_env", "pytest_collection_finish", "sim", "upgrades"]
