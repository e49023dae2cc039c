"""The bundled demo campaign (package data), made by ``generate_campaign``.

Regenerate the files after changing the generator::

    python -c "from pathlib import Path; from igent.campaign.demo import write_demo_campaign; \
write_demo_campaign(Path('src/igent/campaign/demo'))"
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from igent.campaign.generator import GeneratedCampaign, generate_campaign, write_campaign_files

DEMO_SEED = 7
DEMO_REGISTRATIONS = 50
DEMO_SUPPLIERS = 4
_FILE_NAMES = {
    "registrations": "registrations.json",
    "offers": "offers.json",
    "incentives": "incentives.yaml",
}


def demo_campaign() -> GeneratedCampaign:
    """Generate the demo campaign: 50 registrations, 4 suppliers, "overlap", seed 7."""
    return generate_campaign(
        num_registrations=DEMO_REGISTRATIONS,
        num_suppliers=DEMO_SUPPLIERS,
        scenario="overlap",
        seed=DEMO_SEED,
    )


def demo_campaign_paths() -> dict[str, Path]:
    """Return the paths of the bundled demo registrations, offers and incentives files."""
    folder = resources.files("igent.campaign") / "demo"
    return {kind: Path(str(folder / file_name)) for kind, file_name in _FILE_NAMES.items()}


def write_demo_campaign(folder: Path) -> dict[str, Path]:
    """Write the demo campaign's files into ``folder`` under their bundled names."""
    paths = {kind: folder / file_name for kind, file_name in _FILE_NAMES.items()}
    write_campaign_files(demo_campaign(), paths)
    return paths
