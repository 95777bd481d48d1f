"""Usage statistics: events, their batched writer, daily aggregates, dashboard and metrics."""
