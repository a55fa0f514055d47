"""The audit operations: verification reports its progress and its result as data."""

from __future__ import annotations

from retention.operations import SignCheckpoint, VerifyLog, sign_checkpoint, verify_log
from tests.access_support import World
from tests.operations.conftest import view


class TestVerifyLog:
    def test_progress_counts_up_to_the_log_size(self, world: World) -> None:
        """The progress callback learns the total with each report and ends at it."""
        dpo = view(world.dpo)
        sign_checkpoint(world.installation, dpo, SignCheckpoint(), clock=world.clock)
        seen: list[tuple[int, int]] = []
        result = verify_log(
            world.installation,
            dpo,
            VerifyLog(),
            progress=lambda done, total: seen.append((done, total)),
            clock=world.clock,
        )
        assert result.ok and result.failure is None
        assert seen and seen[-1] == (result.report.size, result.report.size)
        data = result.to_json()
        assert (data["ok"], data["size"], data["checkpoints"], data["problem"]) == (
            True,
            result.report.size,
            1,
            None,
        )
