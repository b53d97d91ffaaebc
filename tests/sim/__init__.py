"""Simulator tier: the simulated RDS and STS (aurora_upgrade.sim) behave as AWS documents, seen
through boto3, the AWS CLI and the simulator's own controls; no engine."""
