"""Beat stops on SIGINT/SIGTERM even when the signal lands while a query is in flight
(Ctrl-C in `make dev`, `docker compose stop`).

The query is held in flight deterministically: another connection takes an exclusive lock on
the table beat reads on every tick, so beat's SELECT waits inside psycopg when the signal
arrives; the lock is released only after beat has exited (or the test has failed)."""

import os
import signal

import psycopg
import pytest

from tests.stack import REPO_DIR, deployed_stack, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack():
    with deployed_stack(extra_env={"LOG_LEVEL": "DEBUG"}) as stack:  # beat's "Writing entries" is DEBUG
        yield stack


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_beat_exits_on_a_signal_that_lands_during_a_query(stack, sig):
    name = f"beat-{sig.name}"
    process = stack.start(name, [str(REPO_DIR / "worker" / "bin" / "beat")])
    beat = process.popen

    def entries_to_save() -> bool:
        """Beat has sent a task in a later tick than its last write of the entries (after the
        start it writes them every 3 minutes): it has entries to save, which it does on a
        signal (the case that deadlocked), and will have them when the next tick's query waits."""
        log = process.log_path.read_text(errors="replace")
        _, woke, later = log.rpartition("Writing entries")[2].partition("Waking up")
        return bool(woke) and "Sending due task" in later

    def beat_waits_on_the_lock() -> bool:
        with psycopg.connect(stack.database_url, autocommit=True) as probe:
            waiting = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE %s",
                ("%django_celery_beat_periodictasks%",),
            ).fetchone()[0]
        return waiting > 0

    wait_until(entries_to_save, timeout=60, what="beat to send a task after writing its entries")
    with psycopg.connect(stack.database_url) as blocker:
        blocker.execute("LOCK TABLE django_celery_beat_periodictasks IN ACCESS EXCLUSIVE MODE")
        wait_until(beat_waits_on_the_lock, timeout=30, what="beat's query to wait on the lock")
        os.killpg(beat.pid, sig)
        try:  # beat must stop while its query is still in flight: the lock is held until it has
            wait_until(lambda: beat.poll() is not None, timeout=30, what="beat to exit after the signal")
        finally:
            blocker.rollback()
    assert beat.returncode == 0, process.log_tail()
