"""The rule engine: YAML rule sets that score listings and stage the suspect ones."""
