"""``igent serve --workers N``: each worker listens on the port with a socket of its own."""

from __future__ import annotations

import gc
import pickle
import socket
import sys

import pytest

from igent.cli.serve import GC_THRESHOLDS, ReusePortListener, listening_sockets, tune_gc

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT and /proc/net")


@linux_only
def test_a_listener_unpickles_as_its_own_socket_on_the_shared_port():
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", 0))  # holds the port, never listens (as igent serve does)
    port = holder.getsockname()[1]
    stand_in = ReusePortListener(socket.AF_INET, "127.0.0.1", port)
    try:
        assert listening_sockets(port) == 0
        first = pickle.loads(pickle.dumps(stand_in))  # what each worker receives
        second = pickle.loads(pickle.dumps(stand_in))
        try:
            assert isinstance(first, socket.socket)
            assert first.fileno() != second.fileno()
            assert first.getsockname() == second.getsockname() == ("127.0.0.1", port)
            assert listening_sockets(port) == 2
        finally:
            first.close()
            second.close()
        assert listening_sockets(port) == 0
    finally:
        holder.close()


def test_tune_gc_freezes_start_up_objects_and_raises_the_threshold():
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
