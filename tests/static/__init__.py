"""Static tier: the repository's files held to the code and to the tools that judge them (docs,
chart, alerts, IAM policy, Dockerfile, GitOps health script, generated files, the wheel); no
simulator, no API server."""
