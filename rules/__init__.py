"""The rule sets that ship with brandsweep (YAML, lists and reference photos): data only."""
