"""oscred behind Debian's pgbouncer 1.18 in transaction pooling mode (issue item 7; DESIGN.md "Store";
notes/ecosystem.md §6; deploy/README.md "PostgreSQL behind pgbouncer").

pgbouncer runs in front of the session's PostgreSQL with 3 server connections for two replicas of 8 pooled
connections each, so transactions of different clients interleave on the same server connections. Both replicas
use OSCRED_DATABASE_PREPARED=off and listen (LISTEN/NOTIFY) on a direct connection.
"""
from concurrent.futures import ThreadPoolExecutor

import pytest

import client
import harness
import opsutil

SYNC_DEADLINE = 1.5  # revocation and user changes reach the other replica within a second; polled up to 1.5 s


@pytest.fixture(scope="module")
def bouncer(stack):
    b = opsutil.PgBouncer(stack.pg.port, pool_size=3).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def pair(stack, bouncer):
    env = {"OSCRED_DATABASE_URL": bouncer.url, "OSCRED_DATABASE_PREPARED": "off",
           "OSCRED_DATABASE_LISTEN_URL": stack.pg.url, "OSCRED_LOG_LEVEL": "info"}
    a = stack.new_server("pgb-a", **env)
    b = stack.new_server("pgb-b", **env)
    t = stack.tenants["default"]
    admin = client.Actor.login(a.base_url, t["user"], t["password"], t["domain"])
    yield {"a": a, "b": b, "A": a.base_url, "B": b.base_url, "admin": admin, "domain": t["domain"]}
    for srv in (a, b):
        srv.stop()


def _user(pair, base=None):
    base = base or pair["A"]
    name, pw = client.unique_name("pgb"), client.new_password()
    r = client.create_user(base, pair["admin"].token, name, pw)
    assert r.status_code == 201, r.text
    return client.Actor.login(base, name, pw, pair["domain"])


def test_the_replicas_reach_postgresql_through_pgbouncer_in_transaction_mode(pair, bouncer):
    config = {row[0]: row[1] for row in bouncer.admin("SHOW CONFIG") or []}
    assert config.get("pool_mode") == "transaction", config.get("pool_mode")
    _user(pair)  # some work, so the pools have been used
    clients = [row for row in bouncer.admin("SHOW CLIENTS") or [] if "oscred" in row]
    assert len(clients) >= 2, "pgbouncer sees %d oscred client connections: %s" % (len(clients), clients)
    servers = [row for row in bouncer.admin("SHOW SERVERS") or [] if "oscred" in row]
    assert 1 <= len(servers) <= 3, servers


def test_readyz_is_ready_through_pgbouncer(pair):
    for base in (pair["A"], pair["B"]):
        r = client.get(base, "/readyz")
        assert r.status_code == 200, r.text


def test_token_issued_on_one_replica_verifies_on_the_other(pair):
    user = _user(pair)
    assert client.token_works(pair["B"], user.token)
    r = client.validate_token(pair["B"], pair["admin"].token, user.token)
    assert r.status_code == 200, r.text
    assert r.json()["token"]["user"]["id"] == user.id


def test_user_create_read_update_delete(pair):
    admin, A, B = pair["admin"], pair["A"], pair["B"]
    name, pw = client.unique_name("pgbu"), client.new_password()
    r = client.create_user(A, admin.token, name, pw)
    assert r.status_code == 201, r.text
    uid = r.json()["user"]["id"]
    assert client.get_user(B, admin.token, uid).json()["user"]["name"] == name
    listed = client.list_users(B, admin.token, name=name)
    assert [u["id"] for u in listed.json()["users"]] == [uid], listed.text
    new_pw = client.new_password()
    r = client.update_user(B, admin.token, uid, password=new_pw)
    assert r.status_code == 200, r.text
    assert client.login(A, name, new_pw, pair["domain"])
    g = client.grant_role(A, admin.token, admin.domain_id, uid, "security_admin")
    assert g.status_code == 204, g.text
    assert client.role_names(B, admin.token, admin.domain_id, uid) == ["security_admin"]
    assert client.delete_user(A, admin.token, uid).status_code == 204
    assert client.get_user(B, admin.token, uid).status_code == 404


def test_credential_create_list_show_update_delete(pair):
    user = _user(pair)
    A, B = pair["A"], pair["B"]
    key = client.new_key(A, user.token, user.id, description="pgb one")
    assert client.key_snapshot(B, user.token, user.id) == [(key["access"], "active", "pgb one")]
    assert client.key_state(B, user.token, key["access"])["description"] == "pgb one"
    assert opsutil.sdk_show(B, key["access"], key["secret"]).status_code == 200
    assert opsutil.sigv4_request(A, key["access"], key["secret"], "ListAccessKeys").status_code == 200
    r = client.update_credential(B, user.token, key["access"], status="inactive", description="pgb off")
    assert r.status_code == 200, r.text
    assert client.key_state(A, user.token, key["access"])["status"] == "inactive"
    assert opsutil.sdk_show(A, key["access"], key["secret"]).status_code == 401
    assert client.delete_credential(A, user.token, key["access"]).status_code == 204
    assert client.show_credential(B, user.token, key["access"]).status_code == 404
    assert client.key_snapshot(A, user.token, user.id) == []


def test_two_key_limit_holds_under_concurrent_creates_on_both_replicas(pair, stack):
    user = _user(pair)
    bases = [pair["A"], pair["B"]] * 6

    def create(base):
        return client.create_credential(base, user.token, user.id, description="race")

    with ThreadPoolExecutor(len(bases)) as ex:
        results = list(ex.map(create, bases))
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 201] + [400] * (len(bases) - 2), [(r.status_code, r.text[:120]) for r in results]
    for r in results:
        if r.status_code == 400:
            client.assert_key_limit(r)
    assert len(client.key_snapshot(pair["B"], user.token, user.id)) == 2
    rows = stack.pg.psql("SELECT count(*), (SELECT key_count FROM principals WHERE id = '%s') FROM access_keys "
                         "WHERE owner_id = '%s'" % (user.id, user.id)).strip()
    assert rows == "2|2", rows


def test_token_revocation_reaches_the_other_replica(pair):
    user = _user(pair)
    token = client.login(pair["A"], user.name, user.password, pair["domain"])
    assert client.token_works(pair["B"], token)
    assert client.revoke_token(pair["A"], user.token, token).status_code == 204
    harness.wait_until(lambda: not client.token_works(pair["B"], token), timeout=SYNC_DEADLINE, interval=0.02,
                       what="replica B to refuse a token revoked on A")
    assert client.token_works(pair["B"], user.token)  # only that token


def test_disabling_a_user_reaches_the_other_replica(pair):
    user = _user(pair)
    assert client.token_works(pair["B"], user.token)
    assert client.update_user(pair["A"], pair["admin"].token, user.id, enabled=False).status_code == 200
    harness.wait_until(lambda: not client.token_works(pair["B"], user.token), timeout=SYNC_DEADLINE,
                       interval=0.02, what="replica B to refuse the token of a user disabled on A")


def test_interleaved_concurrent_work_has_no_database_errors(pair):
    """Many clients' statements share 3 server connections: nothing may depend on session state."""
    users = [_user(pair, base) for base in (pair["A"], pair["B"]) * 3]

    def work(i):
        u = users[i % len(users)]
        base = (pair["A"], pair["B"])[i % 2]
        out = []
        k = client.create_credential(base, u.token, u.id, description="w%d" % i)
        out.append(k)
        if k.status_code == 201:
            ak = k.json()["credential"]["access"]
            out.append(client.update_credential(base, u.token, ak, status="inactive"))
            out.append(client.show_credential(base, u.token, ak))
            out.append(client.list_credentials(base, u.token))
            out.append(client.delete_credential(base, u.token, ak))
        out.append(client.get_user(base, pair["admin"].token, u.id))
        return out

    with ThreadPoolExecutor(24) as ex:
        results = [r for rs in ex.map(work, range(72)) for r in rs]
    bad = [(r.request.method, r.request.path_url, r.status_code, r.text[:200]) for r in results
           if r.status_code >= 500 or (r.status_code == 400 and r.json() != client.KEY_LIMIT_BODY)]
    assert not bad, "%d failures through pgbouncer, e.g. %s" % (len(bad), bad[:5])
    assert sum(r.status_code == 204 for r in results) >= 12
    for srv in (pair["a"], pair["b"]):
        errors = [rec for rec in opsutil.log_records(srv)[0]
                  if rec.get("level") == "error" or str(rec.get("event", "")).startswith("db.")
                  and rec.get("level") != "info"]
        assert not errors, "%s logged database errors: %s" % (srv.name, errors[:3])


def test_a_statement_abandoned_at_its_deadline_is_cancelled_through_pgbouncer(stack, bouncer):
    """The cancel request goes to pgbouncer, on behalf of the client connection still open, and pgbouncer passes it
    to the server connection running the statement: the backend stops waiting on the row lock while it is held, and
    the update that got its 503 never happens."""
    hold_s = 5
    srv = stack.new_server("pgb-cancel", OSCRED_DATABASE_URL=bouncer.url, OSCRED_DATABASE_PREPARED="off",
                           OSCRED_DATABASE_LISTEN_URL=stack.pg.url, OSCRED_DATABASE_TIMEOUT="1")
    try:
        t = stack.tenants["default"]
        admin = client.Actor.login(srv.base_url, t["user"], t["password"], t["domain"])
        owner = _user({"A": srv.base_url, "admin": admin, "domain": t["domain"]})
        ak = client.new_key(srv.base_url, admin.token, owner.id)["access"]
        with opsutil.row_locked(stack.pg, ak, hold_s):
            r = client.update_credential(srv.base_url, admin.token, ak, status="inactive")
            client.assert_iam_error(r, 503, codes=("IAM.0006",))
            harness.wait_until(lambda: opsutil.lock_waiters_and_holders(stack.pg, hold_s) == (0, 1), timeout=3,
                               what="the abandoned update to stop waiting while the lock is still held")
        r = client.show_credential(srv.base_url, admin.token, ak)
        assert r.status_code == 200 and r.json()["credential"]["status"] == "active", r.text
    finally:
        srv.stop()
