"""Last use of an access key is coalesced (DESIGN.md "Performance design"; huawei-keystone.md §5.6): a burst of
signed requests with one key costs about one UPDATE of access_keys.last_used_at per second, not one per request,
and the last use still becomes visible within the flush period (src/service/lastuse.c flushes every second).

The writes are observed in PostgreSQL itself: for the test's duration a row trigger on access_keys records every
UPDATE that changes a key's last_used_at (with its transaction id), into a table the test drops afterwards.
pg_stat_user_tables.n_tup_upd would say the same but is published by the backends up to ten seconds late, and
pg_stat_statements is not loaded in the test cluster.
"""
import datetime
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import client
import harness
import opsutil
import sa_client as sc
from realclients import new_principal

N = 50
FLUSH_PERIOD = 1.0  # src/service/lastuse.c FLUSH_INTERVAL_MS
VISIBLE_DEADLINE = FLUSH_PERIOD + 1.0  # the flush period plus slack for a loaded sanitizer build

PROBE_SQL = """
CREATE TABLE oscred_test_lastuse_probe (access_key text NOT NULL, txid bigint NOT NULL,
    old_last_used double precision, new_last_used double precision NOT NULL, written double precision NOT NULL);
CREATE FUNCTION oscred_test_lastuse_probe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO oscred_test_lastuse_probe VALUES (NEW.access_key, txid_current(),
        extract(epoch FROM OLD.last_used_at), extract(epoch FROM NEW.last_used_at), extract(epoch FROM clock_timestamp()));
    RETURN NULL;
END $$;
CREATE TRIGGER oscred_test_lastuse_probe AFTER UPDATE OF last_used_at ON access_keys FOR EACH ROW
    WHEN (OLD.last_used_at IS DISTINCT FROM NEW.last_used_at) EXECUTE FUNCTION oscred_test_lastuse_probe();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS oscred_test_lastuse_probe ON access_keys;
DROP FUNCTION IF EXISTS oscred_test_lastuse_probe();
DROP TABLE IF EXISTS oscred_test_lastuse_probe;
"""


@pytest.fixture
def probe(stack):
    """probe(access_key) -> [(txid, old, new, written)] in write order: every last-use UPDATE of that key."""
    stack.pg.psql(DROP_SQL + PROBE_SQL)

    def writes(access_key):
        assert access_key.isalnum(), access_key
        out = stack.pg.psql("SELECT txid, coalesce(old_last_used, 0), new_last_used, written "
                            "FROM oscred_test_lastuse_probe WHERE access_key = '%s' ORDER BY written" % access_key)
        rows = [line.split("|") for line in out.splitlines() if line.strip()]
        return [(int(t), float(o), float(n), float(w)) for t, o, n, w in rows]

    yield writes
    stack.pg.psql(DROP_SQL)


def _rest_time(s):
    assert client.TIME_RE.match(s), s
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_a_burst_of_signed_requests_is_one_write_per_second(base, admin, aws_admin, probe):
    p = new_principal(base, admin, prefix="lastuse")
    key = p.key
    ak, sk = key.access, key.secret
    assert probe(ak) == []
    shown = client.key_state(base, admin.token, ak)
    assert shown["last_use_time"] == shown["create_time"]  # never used (huawei-keystone.md §2.3)

    local = threading.local()

    def session():
        if not hasattr(local, "s"):
            local.s = requests.Session()
        return local.s

    def one(i):
        # Both schemes, one key: SigV4 ListAccessKeys and an SDK-HMAC-signed show of the key itself.
        if i % 2:
            r = opsutil.sigv4_request(base, ak, sk, "ListAccessKeys", session=session())
        else:
            r = opsutil.sdk_request("GET", base, client.CREDS + "/" + ak, ak, sk, session=session(), check=False)
        return r.status_code, r.text

    t_first = time.time()
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(one, range(N - 1)))
    # The last use on its own, after every other answer arrived: nothing else can be newer than it.
    t_last = time.time()
    last = opsutil.sigv4_request(base, ak, sk, "ListAccessKeys", region="eu-west-1")
    t_done = time.monotonic()
    burst = time.time() - t_first
    answers.append((last.status_code, last.text))
    assert [s for s, _ in answers] == [200] * N, [a for a in answers if a[0] != 200][:3]

    # The last use shows within the flush period (read with a token: reading does not use the key).
    while True:
        shown = client.key_state(base, admin.token, ak)
        if _rest_time(shown["last_use_time"]) >= t_last - 0.001:
            break
        assert time.monotonic() - t_done < VISIBLE_DEADLINE, (
            "last use not visible %.1fs after the last signed request: %r" % (VISIBLE_DEADLINE, shown))
        time.sleep(0.05)
    seen = _rest_time(shown["last_use_time"])
    assert seen <= time.time(), shown

    # Everything the burst wrote, now that its newest use is in the database.
    writes = probe(ak)
    # One flush starts at most every FLUSH_PERIOD: one inside each second of the burst and the one after it,
    # plus one spare (a spurious wake-up of the flusher); 3 for a burst under a second.
    bound = int(burst / FLUSH_PERIOD) + 3
    assert 1 <= len(writes) <= bound, "%d requests in %.2fs made %d last-use UPDATEs (at most %d expected): %r" % (
        N, burst, len(writes), bound, writes[:5])
    assert len({w[0] for w in writes}) == len(writes), "two writes of one key in one transaction: %r" % writes
    news = [w[2] for w in writes]
    assert news == sorted(news) and len(set(news)) == len(news), writes  # never backwards
    assert abs(news[-1] - seen) < 1e-5, (writes, shown)
    assert t_first - 0.001 <= news[0] and news[-1] <= time.time(), (t_first, writes)

    # The AWS view agrees, and names the last use's region (the region of the request that came last).
    ans = sc.aws_query(base, aws_admin.key, "GetAccessKeyLastUsed", {"AccessKeyId": ak}).ok()
    last_used = sc.iso_z(ans.text_of("GetAccessKeyLastUsedResult/AccessKeyLastUsed/LastUsedDate")).timestamp()
    assert int(last_used) == int(seen), (ans.text, shown)
    assert ans.text_of("GetAccessKeyLastUsedResult/AccessKeyLastUsed/Region") == "eu-west-1", ans.text
    assert ans.text_of("GetAccessKeyLastUsedResult/AccessKeyLastUsed/ServiceName") == "iam", ans.text



def test_uses_a_failed_flush_could_not_write_are_written_by_a_later_one(stack, base, admin, make_user):
    """The flusher takes the pending uses out before it writes them; when the write fails, it puts them back
    (unless newer uses arrived) for the next flush, a second later. The server's pooled connections use a role
    refused UPDATE on access_keys for a moment: signing, which only reads, goes on."""
    role = "oscred_lastuse"
    srv = opsutil.server_with_role(stack, "lastuse-retry", role)
    try:
        u = make_user(prefix="lastuse-retry")
        k = client.new_key(base, admin.token, u.id)
        stack.pg.psql("REVOKE UPDATE ON access_keys FROM %s" % role)
        try:
            assert opsutil.sdk_show(srv.base_url, k["access"], k["secret"]).status_code == 200
            opsutil.wait_for_log(srv, lambda rec: rec.get("event") == "lastuse.flush_failed", 10,
                                 "a failed last-use flush")
            assert stack.pg.psql("SELECT last_used_at IS NULL FROM access_keys WHERE access_key = '%s'"
                                 % k["access"]).strip() == "t"
        finally:
            stack.pg.psql("GRANT UPDATE ON access_keys TO %s" % role)
        def written():
            return stack.pg.psql("SELECT last_used_at IS NOT NULL FROM access_keys WHERE access_key = '%s'"
                                 % k["access"]).strip() == "t"

        harness.wait_until(written, 10, what="the use written by a later flush")
    finally:
        srv.stop()
