"""What the driver did during one invocation, counted from its own monitoring events.

``pymongo.monitoring`` reports every socket the connection pool opens, every
command and its duration, and every failed server check.  :class:`DriverEvents`
counts them; :func:`mongo.client_options` registers its listeners on the
container's client, and the handler reads and resets the counts around each
invocation (see ``telemetry.py``).  Monitoring sockets are not pool sockets:
``connections_created`` counts only the sockets that carry commands.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pymongo import monitoring

Listener = (
    monitoring.ConnectionPoolListener
    | monitoring.CommandListener
    | monitoring.ServerHeartbeatListener
)


@dataclass(frozen=True)
class Counts:
    """The driver's activity since the last :meth:`DriverEvents.reset`."""

    connections_created: int = 0
    commands: int = 0
    # Commands that failed, sockets that could not be checked out, server checks
    # that failed: every error the driver met, including those it retried away.
    errors: int = 0
    database_ms: float = 0.0


class DriverEvents:
    """Counters fed by the listeners of :meth:`listeners`; safe across the driver's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = Counts()

    def listeners(self) -> list[Listener]:
        """The listeners to register on the client (``event_listeners=``)."""
        return [_PoolListener(self), _CommandListener(self), _HeartbeatListener(self)]

    def reset(self) -> None:
        with self._lock:
            self._counts = Counts()

    def counts(self) -> Counts:
        with self._lock:
            return self._counts

    def add(
        self, connections: int = 0, commands: int = 0, errors: int = 0, micros: int = 0
    ) -> None:
        with self._lock:
            c = self._counts
            self._counts = Counts(
                connections_created=c.connections_created + connections,
                commands=c.commands + commands,
                errors=c.errors + errors,
                database_ms=c.database_ms + micros / 1000,
            )


class _PoolListener(monitoring.ConnectionPoolListener):
    def __init__(self, events: DriverEvents) -> None:
        self._events = events

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        self._events.add(connections=1)

    def connection_check_out_failed(self, event: monitoring.ConnectionCheckOutFailedEvent) -> None:
        self._events.add(errors=1)

    # The pool's other events change no count.
    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None:
        pass

    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None:
        pass

    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None:
        pass

    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None:
        pass

    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None:
        pass

    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None:
        pass

    def connection_check_out_started(
        self, event: monitoring.ConnectionCheckOutStartedEvent
    ) -> None:
        pass

    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        pass

    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None:
        pass


class _CommandListener(monitoring.CommandListener):
    def __init__(self, events: DriverEvents) -> None:
        self._events = events

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass  # counted when it ends, with its duration

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._events.add(commands=1, micros=event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._events.add(commands=1, errors=1, micros=event.duration_micros)


class _HeartbeatListener(monitoring.ServerHeartbeatListener):
    """Failed server checks: the only sign of an unreachable cluster, where no command runs."""

    def __init__(self, events: DriverEvents) -> None:
        self._events = events

    def started(self, event: monitoring.ServerHeartbeatStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.ServerHeartbeatSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.ServerHeartbeatFailedEvent) -> None:
        self._events.add(errors=1)
