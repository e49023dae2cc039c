"""igent: match energy-purchasing registrations to supplier offers and price them."""

from igent.errors import (
    ConfigError,
    DataError,
    IgentError,
    Interrupted,
    ModelCallError,
    ModelOutputError,
    RegistrationsFailed,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "IgentError",
    "Interrupted",
    "ModelCallError",
    "ModelOutputError",
    "RegistrationsFailed",
    "StoreError",
    "__version__",
]
