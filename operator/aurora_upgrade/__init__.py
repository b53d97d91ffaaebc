"""aurora-upgrade-operator: Aurora PostgreSQL upgrades through RDS Blue/Green deployments."""

__version__ = "0.1.0"
