"""Persistence: the campaign ledger, live capacity, group commit and the run's output files.

Overview (the CLI run, the service and workers all go through these):

- :class:`Store` (``base.py``) is the ledger protocol, campaign-scoped: suppliers with capacity
  and use, one :class:`Decision` per registration, audits and metadata. :class:`SqliteStore`
  (embedded default) and ``PostgresStore`` (``postgres.py``) implement it on one shared SQL
  core, ``SqlLedger`` (``sql_ledger.py``), with the few dialect spellings in ``dialect.py``;
  schema changes are ordered SQL files in ``store/migrations/`` (``0001_ledger.sql`` ...,
  ``.postgresql.sql`` variants) applied at open and recorded in ``schema_version``.
- Booking rule: ``Store.commit`` writes a matched decision, its booking (``used = used + 1
  WHERE used < capacity``) and its purchase order in ONE transaction, or not at all; a full
  supplier comes back as a conflict in :class:`CommitResult`. ``failed`` and ``unapproved``
  decisions are recorded but hold no capacity and are retried (see ``FINAL_STATUSES``).
  ``Store.cancel`` frees a booking in one transaction.
- :class:`CapacityState` is the in-process view: durable use plus in-memory holds.
  ``reserve`` holds a unit (never oversells within the process), ``release`` drops a hold,
  ``settle`` turns it into durable use once the decision is committed.
- :class:`GroupCommitter` batches decisions into one transaction per batch (size and time
  bound) off the event loop; :class:`RunLock` keeps a second process off a ledger in use;
  :class:`OutputLog` appends the JSONL outputs after each commit.
"""

from igent.store.atomic import atomic_writer, write_json_atomic, write_text_atomic
from igent.store.base import (
    FINAL_STATUSES,
    RETRIED_STATUSES,
    CapacityChange,
    CommitResult,
    Decision,
    DecisionCounts,
    DecisionStatus,
    EncodedDict,
    OutputRow,
    Reservation,
    Store,
    StoredDecision,
    SupplierCapacity,
    encode_json,
)
from igent.store.capacity_state import CapacityState
from igent.store.committer import CommitStats, GroupCommitter
from igent.store.ledger import Ledger
from igent.store.lock import RunLock
from igent.store.outputs import (
    MATCHES_LOG,
    ORDERS_LOG,
    JsonListWriter,
    OutputLog,
    copy_as_json_list,
    output_row,
)
from igent.store.sqlite import SqliteStore

__all__ = [
    "CapacityChange",
    "CapacityState",
    "CommitResult",
    "CommitStats",
    "Decision",
    "DecisionCounts",
    "DecisionStatus",
    "EncodedDict",
    "FINAL_STATUSES",
    "GroupCommitter",
    "JsonListWriter",
    "Ledger",
    "MATCHES_LOG",
    "ORDERS_LOG",
    "OutputLog",
    "OutputRow",
    "RETRIED_STATUSES",
    "Reservation",
    "RunLock",
    "SqliteStore",
    "Store",
    "StoredDecision",
    "SupplierCapacity",
    "atomic_writer",
    "copy_as_json_list",
    "encode_json",
    "output_row",
    "write_json_atomic",
    "write_text_atomic",
]
