"""The AWS gateway: the only package that imports boto3 or botocore, or knows AWS's shapes.

rds.py           RdsGateway: every RDS call, one method per question or write
clients.py       boto3 sessions (the default chain or an assumed role) and the clients' settings
errors.py        classify: AWS's error codes into the ErrorKind of aurora_upgrade.resources
answers.py       AWS's answers as the engine's frozen values
shared_reads.py  the describes and precheck answers a Region's upgrades share
event_feed.py    the Region's RDS event feed
database.py      the DatabaseProbe over psycopg (validation's connections and guardrail queries)
webhook.py       the user's webhook checks
"""
