"""Faust's table recovery with one change: the agents receive no record of the stream partitions until the
end of recovery has sought them to their committed offsets and cleared the agents' queues.

faust-streaming 0.15.3 ends a recovery by resuming the stream partitions, seeking them to their committed
offsets, and resuming the flow into the agents' queues, which clears those queues. The flow is already on
(the changelogs were read through it), so records fetched before the seek reach the agents, and those
still queued when the flow resumes are cleared; by then the consumer counts them as read and drops the
copies fetched again. A restarted worker lost 2 of 2,133 graph updates that way, or stopped committing for
good (tests/integration/test_engine_e2e.py, the crash test). Holding the flow from the start of that last
step keeps the fetched records in the consumer until the queues are cleared, so nothing is lost.

Install with ``faust.App(..., TableManager=TableManager)``.
"""

from __future__ import annotations

from faust.tables import TableManager as FaustTableManager
from faust.tables.recovery import Recovery


class HeldFlowRecovery(Recovery):
    """Recovery that suspends the flow into the agents before it hands the streams back to them."""

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        """After restoring tables: Faust resumes the streams, seeks them, then resumes (and clears) the flow."""
        self.app.flow_control.suspend()
        await super().on_recovery_completed(generation_id)

    async def _resume_streams(self, generation_id: int = 0) -> None:
        """The same end of a recovery when there are no tables to restore."""
        self.app.flow_control.suspend()
        await super()._resume_streams(generation_id)


class TableManager(FaustTableManager):
    """Faust's table manager, recovering with :class:`HeldFlowRecovery`."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = HeldFlowRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
