"""Deterministic business rules: matching, pricing, incentives, and the validator."""

from igent.rules.engine import RuleOutcome, RulesEngine, RulesRun
from igent.rules.incentives import grant_incentives, incentive_amount, product_watts, solar_watts
from igent.rules.matching import SupplierIndex, decide_match, eligible_supplier_ids
from igent.rules.pricing import build_purchase_order, choose_tier, price_column, price_line
from igent.rules.proposal import is_no_match, normalize_proposal
from igent.rules.rule import Verdict
from igent.rules.validator import ValidationReport, validate_match, validate_purchase_order

__all__ = [
    "RuleOutcome",
    "RulesEngine",
    "RulesRun",
    "SupplierIndex",
    "ValidationReport",
    "Verdict",
    "build_purchase_order",
    "choose_tier",
    "decide_match",
    "eligible_supplier_ids",
    "grant_incentives",
    "incentive_amount",
    "is_no_match",
    "normalize_proposal",
    "price_column",
    "price_line",
    "product_watts",
    "solar_watts",
    "validate_match",
    "validate_purchase_order",
]
