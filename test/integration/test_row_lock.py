"""One statement stuck behind a row lock held elsewhere (a long transaction of an operator, say) gets its 503
within OSCRED_DATABASE_TIMEOUT, and nothing else fails for it, whether other requests kept the server busy
meanwhile or nothing else was asked: the pool fails fast only when the database answers nothing at all
(test_failover.py freezes PostgreSQL for that case). A statement given up at its deadline is cancelled on the
server, so its change does not happen later."""
import threading
import time

import client
import harness
import opsutil

DB_TIMEOUT = 1
HOLD_S = 5  # how long the blocking transaction keeps its lock


def row_locked(stack, access_key):
    return opsutil.row_locked(stack.pg, access_key, HOLD_S)


def two_keys(srv, admin, make_user):
    owner = make_user()
    locked = client.new_key(srv.base_url, admin.token, owner.id)["access"]
    free = client.new_key(srv.base_url, admin.token, owner.id)["access"]
    return locked, free


def assert_stuck_answer(r, elapsed):
    client.assert_iam_error(r, 503, codes=("IAM.0006",))
    assert elapsed <= DB_TIMEOUT + 2, "503 after %.2fs (OSCRED_DATABASE_TIMEOUT=%d)" % (elapsed, DB_TIMEOUT)


def test_a_statement_stuck_on_a_row_lock_fails_alone(stack, server_factory, admin, make_user):
    srv = server_factory("rowlock", OSCRED_DATABASE_TIMEOUT=str(DB_TIMEOUT))
    base = srv.base_url
    locked, free = two_keys(srv, admin, make_user)

    with row_locked(stack, locked):
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

    assert_stuck_answer(*stuck["answer"])
    failed = [x for x in reads if x[1] != 200]
    assert reads and not failed, ("reads of another key failed while one statement waited on a row lock "
                                  "(seconds since the first read, status): %s" % failed[:20])
    # Once the lock is gone the key is writable again.
    r = client.update_credential(base, admin.token, locked, status="active")
    assert r.status_code == 200, r.text


def test_a_statement_stuck_on_a_row_lock_on_a_quiet_server_fails_alone(stack, server_factory, admin, make_user):
    """Nothing else is asked while the statement waits, so the database answers nothing during its deadline;
    that alone does not make it a database that stopped answering: the very next request is served."""
    srv = server_factory("rowlock-quiet", OSCRED_DATABASE_TIMEOUT=str(DB_TIMEOUT))
    base = srv.base_url
    locked, free = two_keys(srv, admin, make_user)

    with row_locked(stack, locked):
        t0 = time.monotonic()
        r = client.update_credential(base, admin.token, locked, status="inactive")
        assert_stuck_answer(r, time.monotonic() - t0)
        r = client.show_credential(base, admin.token, free)
        assert r.status_code == 200, "the first request after a statement stuck on a row lock: %s" % r.text


def test_a_statement_abandoned_at_its_deadline_is_cancelled_on_the_server(stack, server_factory, admin, make_user):
    """The 503 means the change did not happen: closing the connection alone would leave the backend waiting on the
    row lock, and its update would commit (with its audit row) once the lock goes, after the client was told it
    failed. oscred asks the server to cancel the statement, so the backend stops waiting while the lock is still
    held, and afterwards the key and the audit trail are as before."""
    srv = server_factory("rowlock-cancel", OSCRED_DATABASE_TIMEOUT=str(DB_TIMEOUT))
    base = srv.base_url
    locked, _ = two_keys(srv, admin, make_user)

    def cancelled():
        _, samples = opsutil.parse_metrics(opsutil.scrape(base).text)
        ((_, n),) = opsutil.series(samples, "oscred_db_statements_cancelled_total")
        return n

    assert cancelled() == 0
    with row_locked(stack, locked):
        t0 = time.monotonic()
        r = client.update_credential(base, admin.token, locked, status="inactive")
        assert_stuck_answer(r, time.monotonic() - t0)
        request_id = r.headers["X-Request-Id"]
        assert cancelled() == 1
        harness.wait_until(lambda: opsutil.lock_waiters_and_holders(stack.pg, HOLD_S) == (0, 1),
                           timeout=HOLD_S - DB_TIMEOUT - 1,
                           what="the abandoned update to stop waiting on the row lock while the lock is still held")

    r = client.show_credential(base, admin.token, locked)
    assert r.status_code == 200, r.text
    assert r.json()["credential"]["status"] == "active", r.text
    assert stack.pg.psql("SELECT count(*) FROM audit_events WHERE request_id = '%s'" % request_id).strip() == "0"
    # The log says why, on a line that names the request.
    failures = [rec for rec in opsutil.log_records(srv)[0] if rec.get("event") == "db.statement_failed"]
    assert [(f.get("request_id"), f["statement"], f["detail"]) for f in failures] == [
        (request_id, "update_cred", "no answer before the deadline (cancel requested)")], failures


def test_requests_queued_for_a_connection_are_counted_and_then_served(stack, server_factory, admin, make_user):
    """With a pool of one and its connection held by a statement stuck on a row lock, the next request waits for
    the connection: /metrics (no database) counts it in oscred_db_pool_waiting, and once the lock goes both are
    answered, the waiting one in turn."""
    # Two workers wait on the database below; /metrics needs a third.
    srv = server_factory("poolwait", OSCRED_DATABASE_POOL_SIZE="1", OSCRED_WORKER_THREADS="4",
                         OSCRED_DATABASE_TIMEOUT=str(HOLD_S + 10))
    base = srv.base_url
    locked, free = two_keys(srv, admin, make_user)

    def gauges():
        # A new connection each time, given up after a second: a worker thread that accepts it just before its
        # own request's handler starts waiting on the database serves it only after that wait.
        _, samples = opsutil.parse_metrics(opsutil.scrape(base, timeout=1).text)
        in_use = {lab["state"]: v for lab, v in opsutil.series(samples, "oscred_db_connections")}["in_use"]
        (waiting,) = [v for _, v in opsutil.series(samples, "oscred_db_pool_waiting")]
        return in_use, waiting

    harness.wait_until(lambda: gauges() == (0, 0), timeout=10, what="an idle pool")
    answers = {}

    def call(name, fn):
        answers[name] = fn().status_code

    with row_locked(stack, locked):
        stuck = threading.Thread(target=call, args=("update", lambda: client.update_credential(
            base, admin.token, locked, status="inactive")))
        stuck.start()
        harness.wait_until(lambda: gauges() == (1, 0), timeout=10, what="the update holding the only connection")
        queued = threading.Thread(target=call, args=("show", lambda: client.show_credential(
            base, admin.token, free)))
        queued.start()
        harness.wait_until(lambda: gauges() == (1, 1), timeout=10, what="the show waiting for the connection")
    stuck.join(timeout=30)
    queued.join(timeout=30)
    assert answers == {"update": 200, "show": 200}, answers
    harness.wait_until(lambda: gauges() == (0, 0), timeout=10, what="an idle pool")
