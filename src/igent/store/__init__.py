"""Persistence: the run ledger (capacity + results), live capacity, and output files."""

from igent.store.atomic import write_json_atomic, write_text_atomic
from igent.store.capacity_state import CapacityState
from igent.store.ledger import Ledger, Reservation
from igent.store.writer import ResultWriter

__all__ = [
    "CapacityState",
    "Ledger",
    "Reservation",
    "ResultWriter",
    "write_json_atomic",
    "write_text_atomic",
]
