"""Key ring rotation under traffic, without a restart (issue item 5; DESIGN.md "Keys, tokens, passwords";
README "Key ring"; deploy/README.md "Key rotation").

A dedicated stack (the ring is shared by every server of a stack) with two replicas. A traffic thread signs
requests with keys made before the rotation (SDK-HMAC-SHA256 and AWS SigV4 through botocore), makes
token-authenticated requests and updates a key's description, against both replicas, for the whole module.
The tests run in file order: new primary + SIGHUP, old tokens, rotate-secrets, old key removed, no failures, then
a bad ring file.
"""
import signal
import threading

import pytest
import requests

import client
import harness
import opsutil

ROUNDS_PER_STEP = 5  # traffic rounds (each: every kind of request on both replicas) that must pass each step


class Traffic(threading.Thread):
    """Round after round, on both replicas: SDK-HMAC show, SigV4 ListAccessKeys, token list, token update."""

    def __init__(self, servers, sdk_key, aws_key, token):
        super().__init__(daemon=True)
        self.servers = servers
        self.sdk_key, self.aws_key = sdk_key, aws_key
        self.token = token  # replaced by the test before the old ring key goes
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.rounds = 0
        self.token_rounds = {}  # token -> rounds completed with it
        self.ok = {}
        self.failures = []
        self.last_description = None  # last acknowledged description of aws_key

    def _record(self, kind, srv, r, expect):
        with self.lock:
            if isinstance(r, Exception):
                self.failures.append("%s on %s: %r" % (kind, srv.name, r))
            elif r.status_code != expect:
                self.failures.append("%s on %s -> %d (%s): %s" % (kind, srv.name, r.status_code,
                                                                   r.headers.get("X-Request-Id"), r.text[:300]))
            else:
                self.ok[kind] = self.ok.get(kind, 0) + 1

    def _call(self, kind, srv, expect, fn):
        try:
            r = fn()
        except Exception as e:  # noqa: BLE001 - a failed request is what this thread exists to catch
            r = e
        self._record(kind, srv, r, expect)
        return r

    def run(self):
        sessions = {srv.name: requests.Session() for srv in self.servers}
        n = 0
        while not self.stop_event.is_set():
            token = self.token
            for srv in self.servers:
                base, sess = srv.base_url, sessions[srv.name]
                ak, sk = self.sdk_key["access"], self.sdk_key["secret"]
                self._call("sdk-hmac", srv, 200, lambda: opsutil.sdk_show(base, ak, sk, session=sess, timeout=10))
                aak, ask = self.aws_key["access"], self.aws_key["secret"]
                self._call("sigv4", srv, 200,
                           lambda: opsutil.sigv4_request(base, aak, ask, "ListAccessKeys", session=sess, timeout=10))
                self._call("token", srv, 200, lambda: client.list_credentials(base, token))
                n += 1
                desc = "round %d" % n
                r = self._call("write", srv, 200, lambda: client.update_credential(
                    base, token, aak, status="active", description=desc))
                if not isinstance(r, Exception) and r.status_code == 200:
                    self.last_description = desc
            with self.lock:
                self.rounds += 1
                self.token_rounds[token] = self.token_rounds.get(token, 0) + 1
        for s in sessions.values():
            s.close()

    def wait_rounds(self, more=ROUNDS_PER_STEP, token=None):
        """Block until `more` further rounds completed (with `token`, if given)."""
        def count():
            with self.lock:
                return self.token_rounds.get(token, 0) if token else self.rounds
        target = count() + more
        harness.wait_until(lambda: count() >= target or not self.is_alive(), timeout=60, interval=0.02,
                           what="%d more traffic rounds" % more)
        assert self.is_alive(), "traffic thread ended early"

    def stop(self):
        self.stop_event.set()
        self.join(60)


@pytest.fixture(scope="module")
def rot():
    st = harness.Stack("rotation", server_env={"OSCRED_LOG_LEVEL": "info"})
    try:
        st.setup()
        a, b = st.new_server("a"), st.new_server("b")
        t = st.tenants["default"]
        admin = client.Actor.login(a.base_url, t["user"], t["password"], t["domain"])
        name, pw = client.unique_name("rot"), client.new_password()
        r = client.create_user(a.base_url, admin.token, name, pw)
        assert r.status_code == 201, r.text
        user = client.Actor.login(a.base_url, name, pw, t["domain"])
        sdk_key = client.new_key(a.base_url, user.token, user.id, description="sdk")
        aws_key = client.new_key(b.base_url, user.token, user.id, description="aws")
        old_kid = opsutil.read_ring(st.keys_file)["primary"]
        assert opsutil.token_kid(user.token) == old_kid
        traffic = Traffic([a, b], sdk_key, aws_key, user.token)
        traffic.start()
        traffic.wait_rounds()
    except BaseException:
        st.teardown()
        raise
    state = {"stack": st, "a": a, "b": b, "admin": admin, "user": user, "password": pw, "domain": t["domain"],
             "old_kid": old_kid, "old_ring": opsutil.read_ring(st.keys_file), "traffic": traffic,
             "written": aws_key, "old_tokens": [user.token, admin.token]}
    yield state
    traffic.stop()
    problems = st.teardown()
    if problems:
        pytest.fail("sanitizer reports or unclean exits:\n" + "\n".join(problems), pytrace=False)


def _new_user(base, admin):
    name, pw = client.unique_name("rotw"), client.new_password()
    r = client.create_user(base, admin.token, name, pw)
    assert r.status_code == 201, r.text
    return name, pw


def _ring_loads(srv):
    return opsutil.count_log(srv, lambda rec: rec.get("event") == "keyring.loaded"
                             or (rec.get("level") == "info" and "keyring" in str(rec.get("event", ""))))


def _sighup_and_wait(rot, expect_kid):
    """SIGHUP both replicas; wait until each signs new tokens with expect_kid."""
    for name in ("a", "b"):
        srv = rot[name]
        srv.proc.send_signal(signal.SIGHUP)
    for name in ("a", "b"):
        srv = rot[name]

        def kid_now():
            tok = client.login(srv.base_url, rot["user"].name, rot["password"], rot["domain"])
            return tok if opsutil.token_kid(tok) == expect_kid else None

        rot["token_" + name] = harness.wait_until(kid_now, timeout=10, interval=0.1,
                                                  what="%s to sign tokens with %s after SIGHUP" % (srv.name,
                                                                                                   expect_kid))


def test_sighup_with_a_new_primary_makes_new_tokens_carry_the_new_kid(rot):
    new_kid, new_value = opsutil.new_ring_key()
    ring = rot["old_ring"]
    rot["new_kid"], rot["new_value"] = new_kid, new_value
    opsutil.write_ring(rot["stack"].keys_file, new_kid, dict(ring["keys"], **{new_kid: new_value}))
    _sighup_and_wait(rot, new_kid)
    assert opsutil.token_kid(rot["token_a"]) == opsutil.token_kid(rot["token_b"]) == new_kid
    rot["traffic"].wait_rounds()


def test_tokens_verify_across_replicas_under_both_kids(rot):
    a, b = rot["a"].base_url, rot["b"].base_url
    for old in rot["old_tokens"]:
        assert opsutil.token_kid(old) == rot["old_kid"]
        for base in (a, b):
            assert client.token_works(base, old), "a token signed under the old primary stopped verifying"
    assert client.token_works(b, rot["token_a"]) and client.token_works(a, rot["token_b"])


def test_keys_created_after_the_switch_are_sealed_under_the_new_primary(rot):
    base = rot["b"].base_url
    other = client.Actor.login(base, *_new_user(base, rot["admin"]), rot["domain"])
    key = client.new_key(base, other.token, other.id, description="after switch")
    kid = rot["stack"].pg.psql("SELECT kid FROM access_keys WHERE access_key = '%s'" % key["access"]).strip()
    assert kid == rot["new_kid"], kid
    assert opsutil.sdk_show(rot["a"].base_url, key["access"], key["secret"]).status_code == 200
    rot["late_key"] = key
    rows = rot["stack"].pg.psql("SELECT count(*) FROM access_keys WHERE kid = '%s'" % rot["old_kid"]).strip()
    assert int(rows) == 2, rows  # the traffic's two keys


def test_rotate_secrets_reseals_every_key_under_the_new_primary(rot):
    r = rot["stack"].cli("rotate-secrets")
    assert r.returncode == 0, r.stderr
    kids = rot["stack"].pg.psql("SELECT DISTINCT kid FROM access_keys").split()
    assert kids == [rot["new_kid"]], "access_keys.kid after rotate-secrets: %s" % kids
    rot["traffic"].wait_rounds()


def test_keys_still_sign_after_the_old_key_is_removed(rot):
    traffic = rot["traffic"]
    traffic.token = rot["token_a"]  # the old-kid token will stop verifying; move the traffic off it first
    traffic.wait_rounds(token=rot["token_a"])
    new_kid = rot["new_kid"]
    before = {n: _ring_loads(rot[n]) for n in ("a", "b")}
    opsutil.write_ring(rot["stack"].keys_file, new_kid, {new_kid: rot["new_value"]})
    for n in ("a", "b"):
        rot[n].proc.send_signal(signal.SIGHUP)
    for n in ("a", "b"):
        harness.wait_until(lambda: _ring_loads(rot[n]) > before[n], timeout=10,
                           what="%s to log the reloaded ring" % rot[n].name)
    # Proof that the old key is gone from both rings: a token signed with it no longer verifies.
    old = rot["old_tokens"][0]
    for n in ("a", "b"):
        harness.wait_until(lambda: not client.token_works(rot[n].base_url, old), timeout=5,
                           what="%s to refuse a token of the removed key" % rot[n].name)
    traffic.wait_rounds()
    late = rot["late_key"]
    for n in ("a", "b"):
        assert opsutil.sdk_show(rot[n].base_url, late["access"], late["secret"]).status_code == 200


@pytest.mark.parametrize("bad", [
    "{not json",
    '{"primary": "missing", "keys": {"k1": "AAAA"}}',
    '{"primary": "k1", "keys": {"k1": "c2hvcnQ="}}',
], ids=["not-json", "primary-not-in-keys", "short-key"])
def test_a_bad_ring_file_on_sighup_keeps_the_old_ring_and_logs_why(rot, bad):
    st, a = rot["stack"], rot["a"]
    good = open(st.keys_file, encoding="utf-8").read()
    errors_before = opsutil.count_log(a, lambda rec: rec.get("level") in ("error", "warn"))
    with open(st.keys_file, "w", encoding="utf-8") as f:
        f.write(bad)
    try:
        a.proc.send_signal(signal.SIGHUP)
        rec = harness.wait_until(
            lambda: [x for x in opsutil.log_records(a)[0] if x.get("level") in ("error", "warn")][errors_before:],
            timeout=10, what="an error line about the bad ring")
        assert any("key" in str(x).lower() for x in rec), rec
        assert a.running, a.log_tail()
        rot["traffic"].wait_rounds()  # signed and token traffic keeps passing on the server with the bad file
        # The old ring is still in use: tokens under it are issued and verified, stored secrets still open.
        tok = client.login(a.base_url, rot["user"].name, rot["password"], rot["domain"])
        assert opsutil.token_kid(tok) == rot["new_kid"]
        assert client.token_works(a.base_url, tok) and client.token_works(a.base_url, rot["token_b"])
        late = rot["late_key"]
        assert opsutil.sdk_show(a.base_url, late["access"], late["secret"]).status_code == 200
        t = st.tenants["default"]
        admin = client.Actor.login(a.base_url, t["user"], t["password"], t["domain"])
        fresh = client.Actor.login(a.base_url, *_new_user(a.base_url, admin), t["domain"])
        key = client.new_key(a.base_url, fresh.token, fresh.id, description="bad ring")
        assert opsutil.sdk_show(rot["b"].base_url, key["access"], key["secret"]).status_code == 200
    finally:
        with open(st.keys_file, "w", encoding="utf-8") as f:
            f.write(good)


def test_no_request_failed_during_the_rotation(rot):
    traffic = rot["traffic"]
    traffic.wait_rounds()
    traffic.stop()
    assert not traffic.failures, "%d failed requests during rotation, first ones:\n%s" % (
        len(traffic.failures), "\n".join(traffic.failures[:10]))
    for kind in ("sdk-hmac", "sigv4", "token", "write"):
        assert traffic.ok.get(kind, 0) >= 6 * ROUNDS_PER_STEP, traffic.ok
    desc = rot["stack"].pg.psql("SELECT description FROM access_keys WHERE access_key = '%s'"
                                % rot["written"]["access"]).strip()
    assert desc == traffic.last_description, "last acknowledged update lost: %r != %r" % (
        desc, traffic.last_description)
