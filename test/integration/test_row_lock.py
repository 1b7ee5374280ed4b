"""One statement stuck behind a row lock held elsewhere (a long transaction of an operator, say) gets its 503
within OSCRED_DATABASE_TIMEOUT, and nothing else fails for it: the pool fails fast only when the database
answers nothing at all (test_failover.py freezes PostgreSQL for that case)."""
import subprocess
import threading
import time

import client
import harness

DB_TIMEOUT = 1
HOLD_S = 5  # how long the blocking transaction keeps its lock


def test_a_statement_stuck_on_a_row_lock_fails_alone(stack, server_factory, admin, make_user):
    srv = server_factory("rowlock", OSCRED_DATABASE_TIMEOUT=str(DB_TIMEOUT))
    base = srv.base_url
    owner = make_user()
    locked = client.new_key(base, admin.token, owner.id)["access"]
    free = client.new_key(base, admin.token, owner.id)["access"]

    holder = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", stack.pg.url, "-c",
         "BEGIN; SELECT 1 FROM access_keys WHERE access_key = '%s' FOR UPDATE; SELECT pg_sleep(%d); COMMIT;"
         % (locked, HOLD_S)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        harness.wait_until(
            lambda: stack.pg.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%pg_sleep(%d)%%' "
                                  "AND state = 'active' AND pid <> pg_backend_pid()" % HOLD_S).strip() == "1",
            timeout=10, what="the blocking transaction")

        stuck = {}

        def update_locked():
            t0 = time.monotonic()
            r = client.update_credential(base, admin.token, locked, status="inactive")
            stuck["answer"] = (r, time.monotonic() - t0)

        t = threading.Thread(target=update_locked)
        t.start()
        # Reads of other rows, before, during and for a while after the stuck statement's deadline.
        reads = []
        until = time.monotonic() + DB_TIMEOUT + 2
        while time.monotonic() < until:
            r = client.show_credential(base, admin.token, free)
            reads.append((round(time.monotonic() - (until - DB_TIMEOUT - 2), 2), r.status_code))
        t.join(timeout=DB_TIMEOUT + 10)
        assert not t.is_alive(), "the update behind the row lock was never answered"
    finally:
        holder.wait(timeout=HOLD_S + 30)

    r, elapsed = stuck["answer"]
    client.assert_iam_error(r, 503, codes=("IAM.0006",))
    assert elapsed <= DB_TIMEOUT + 2, "503 after %.2fs (OSCRED_DATABASE_TIMEOUT=%d)" % (elapsed, DB_TIMEOUT)
    failed = [x for x in reads if x[1] != 200]
    assert reads and not failed, ("reads of another key failed while one statement waited on a row lock "
                                  "(seconds since the first read, status): %s" % failed[:20])
    # Once the lock is gone the key is writable again.
    r = client.update_credential(base, admin.token, locked, status="active")
    assert r.status_code == 200, r.text
