"""Rule files: policy as data. `load_rules(path_or_profile) -> RuleSet`."""

from picogate.rules.loader import find_profile, load_rules
from picogate.rules.model import CategoryChange, CategoryTable, Override, Rule, RuleSet, Source

__all__ = ["CategoryChange", "CategoryTable", "Override", "Rule", "RuleSet", "Source", "find_profile", "load_rules"]
