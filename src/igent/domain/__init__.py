"""Campaign domain models: pydantic, no I/O."""

from igent.domain.capacity import has_room, used_pct
from igent.domain.incentive import Incentive, IncentiveBook, IncentiveKind
from igent.domain.match import (
    NO_MATCH_FOUND,
    CandidateAssessment,
    CandidateOutcome,
    MatchDecision,
    MatchStatus,
    NoMatchReason,
)
from igent.domain.offer import OfferBook, PriceTier, Product, ProductType, Supplier
from igent.domain.purchase_order import (
    IncentiveAmount,
    PriceColumn,
    PriceUnit,
    PurchaseOrder,
    PurchaseOrderLine,
)
from igent.domain.registration import (
    PaymentType,
    Registration,
    RegistrationRecord,
    parse_registration_record,
)

__all__ = [
    "CandidateAssessment",
    "CandidateOutcome",
    "Incentive",
    "IncentiveAmount",
    "IncentiveBook",
    "IncentiveKind",
    "MatchDecision",
    "MatchStatus",
    "NO_MATCH_FOUND",
    "NoMatchReason",
    "OfferBook",
    "PaymentType",
    "PriceColumn",
    "PriceTier",
    "PriceUnit",
    "Product",
    "ProductType",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "Registration",
    "RegistrationRecord",
    "Supplier",
    "has_room",
    "parse_registration_record",
    "used_pct",
]
