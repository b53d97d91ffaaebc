"""Unit tier: pure decision tables with an injected clock; no AWS, no moto."""
