"""Analyst-owned rules: YAML files -> checked model -> durable_rules (see rules/README.md)."""
