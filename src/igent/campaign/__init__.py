"""Campaign files: loading, the synthetic generator and the bundled demo campaign."""

from igent.campaign.demo import demo_campaign_paths
from igent.campaign.generator import (
    SCENARIOS,
    GeneratedCampaign,
    Scenario,
    generate_campaign,
    write_campaign,
)
from igent.campaign.loader import (
    load_incentives,
    load_offers,
    load_registrations,
    parse_incentives,
    parse_offers,
    parse_registrations,
)
from igent.campaign.stream import iter_registration_records

__all__ = [
    "GeneratedCampaign",
    "SCENARIOS",
    "Scenario",
    "demo_campaign_paths",
    "generate_campaign",
    "iter_registration_records",
    "load_incentives",
    "load_offers",
    "load_registrations",
    "parse_incentives",
    "parse_offers",
    "parse_registrations",
    "write_campaign",
]
