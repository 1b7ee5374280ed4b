"""SIGTERM: graceful shutdown (issue item 4; notes/ecosystem.md §2 "Graceful shutdown"; deploy/README.md).

The slow request is a password login whose hash was made with 3,000,000 PBKDF2 iterations (about a second of CPU):
a dedicated server with OSCRED_PASSWORD_ITERATIONS=3000000 creates the user. "In flight" is observed, not slept
for: the server's CPU time grows while it hashes.
"""
import http.client
import re
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

import client
import harness
import opsutil

GRACE = 15


@pytest.fixture(scope="module")
def slow_user(stack):
    srv = stack.new_server("shutdown-hash", OSCRED_PASSWORD_ITERATIONS="3000000")
    try:
        t = stack.tenants["default"]
        admin = client.Actor.login(srv.base_url, t["user"], t["password"], t["domain"])
        name, pw = client.unique_name("slow"), client.new_password()
        r = client.create_user(srv.base_url, admin.token, name, pw)
        assert r.status_code == 201, r.text
    finally:
        srv.stop()
    return {"name": name, "password": pw, "domain": t["domain"]}


def _refused(port):
    """True if a TCP connect to the port is refused; False if it connects (the caller decides what that means)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()
    return False


def _served(port):
    """Whether a fresh connection gets an answer to GET /healthz within 1 s."""
    try:
        return requests.get("http://127.0.0.1:%d/healthz" % port, timeout=1).status_code
    except requests.RequestException:
        return None


class _Login(threading.Thread):
    def __init__(self, base, user):
        super().__init__(daemon=True)
        self.base, self.user = base, user
        self.response = self.error = None
        self.done_at = None

    def run(self):
        try:
            body = client.password_auth(self.user["password"], name=self.user["name"],
                                        domain_name=self.user["domain"])
            self.response = requests.post(self.base + client.TOKENS, json=body, timeout=GRACE + 15)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        self.done_at = time.monotonic()


def test_login_is_slow_enough_to_be_in_flight(server_factory, slow_user):
    srv = server_factory("shutdown-probe")
    t0 = time.monotonic()
    token = client.login(srv.base_url, slow_user["name"], slow_user["password"], slow_user["domain"])
    assert token
    assert time.monotonic() - t0 > 0.3, "the login is too fast to stand for a slow request"


def test_sigterm_finishes_the_request_in_flight_refuses_new_connections_and_exits_0(server_factory, slow_user):
    srv = server_factory("shutdown-drain", OSCRED_SHUTDOWN_GRACE=str(GRACE), OSCRED_WORKER_THREADS="4")
    port = srv.port
    keep = http.client.HTTPConnection("127.0.0.1", port, timeout=GRACE + 10)  # opened before SIGTERM
    keep.request("GET", "/readyz")
    first = keep.getresponse()
    first.read()
    assert first.status == 200

    cpu0 = opsutil.cpu_seconds(srv.proc.pid)
    login = _Login(srv.base_url, slow_user)
    login.start()
    harness.wait_until(lambda: opsutil.cpu_seconds(srv.proc.pid) - cpu0 >= 0.15 or login.done_at, timeout=10,
                       interval=0.01, what="the server to be hashing the slow login")
    assert login.done_at is None, "the login finished before SIGTERM could be sent: %r" % login.response

    stop = {}

    def stopper():
        stop["rc"] = srv.stop(signal.SIGTERM)
        stop["at"] = time.monotonic()

    sent_at = time.monotonic()
    t = threading.Thread(target=stopper, daemon=True)
    t.start()

    # New connections are refused while the login is still being answered.
    def refused_while_in_flight():
        if _refused(port):
            return "refused" if login.done_at is None else "refused-after-login"
        return None

    seen = {}

    def probe():
        got = refused_while_in_flight()
        if got is None:
            seen["served"] = _served(port)
        return got

    outcome = harness.wait_until(probe, timeout=GRACE, interval=0.02,
                                 what="new connections to be refused after SIGTERM")
    assert outcome == "refused", (
        "after SIGTERM, while the login was in flight, connect() to the port still succeeded and a fresh "
        "GET /healthz got %s; connections were refused only after the in-flight login finished"
        % ("no answer within 1 s" if seen.get("served") is None else "status %r" % seen.get("served")))

    # The connection opened before SIGTERM may still be answered: if it is, /readyz says not ready.
    try:
        keep.request("GET", "/readyz")
        ready = keep.getresponse()
        ready.read()
        assert ready.status == 503, "/readyz answered %d while draining" % ready.status
    except (OSError, http.client.HTTPException):
        pass  # closed by the server: not observable on this connection
    finally:
        keep.close()

    login.join(GRACE + 20)
    assert login.error is None, "the in-flight login failed during shutdown: %r" % login.error
    assert login.response.status_code == 201, login.response.text
    assert login.response.headers.get("X-Subject-Token")
    assert login.done_at > sent_at, "the login was answered before SIGTERM"
    t.join(GRACE + 30)
    assert stop.get("rc") == 0, "exit %r after SIGTERM:\n%s" % (stop.get("rc"), srv.log_tail())
    assert stop["at"] - sent_at <= GRACE, "exited %.1fs after SIGTERM (grace %ds)" % (stop["at"] - sent_at, GRACE)
    assert _refused(port)


def test_readyz_turns_503_once_sigterm_arrives(server_factory, slow_user):
    """Observed on a keep-alive connection opened before SIGTERM, while a slow request holds the drain open."""
    srv = server_factory("shutdown-ready", OSCRED_SHUTDOWN_GRACE=str(GRACE), OSCRED_WORKER_THREADS="4")
    conns = []
    for _ in range(4):  # several, so at least one sits on a worker thread that is not hashing
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=GRACE + 10)
        c.request("GET", "/readyz")
        r = c.getresponse()
        r.read()
        assert r.status == 200
        conns.append(c)
    cpu0 = opsutil.cpu_seconds(srv.proc.pid)
    login = _Login(srv.base_url, slow_user)
    login.start()
    harness.wait_until(lambda: opsutil.cpu_seconds(srv.proc.pid) - cpu0 >= 0.15 or login.done_at, timeout=10,
                       interval=0.01, what="the server to be hashing the slow login")
    stopper = threading.Thread(target=srv.stop, daemon=True)
    stopper.start()
    # SIGTERM is handled once the server says so (a request that arrives before that may still be ready).
    opsutil.wait_for_log(srv, lambda rec: re.search(r"stop|shut", str(rec.get("event", ""))), timeout=5,
                         what="the server to log that it is shutting down")
    statuses = []
    for c in conns:
        try:
            c.request("GET", "/readyz")
            r = c.getresponse()
            r.read()
            statuses.append(r.status)
        except (OSError, http.client.HTTPException) as e:
            statuses.append(type(e).__name__)
        finally:
            c.close()
    login.join(GRACE + 20)
    stopper.join(GRACE + 30)
    assert login.response is not None and login.response.status_code == 201, (login.error, login.response)
    assert 200 not in statuses, "/readyz answered 200 after SIGTERM: %s" % statuses
    assert 503 in statuses, "/readyz was not observable while draining: %s" % statuses


def test_idle_keep_alive_connections_do_not_hold_shutdown(server_factory):
    srv = server_factory("shutdown-idle", OSCRED_SHUTDOWN_GRACE="20")
    idle = []
    for _ in range(3):
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        assert r.status == 200 and not r.will_close, "the server did not keep the connection alive"
        idle.append(c)
    sess = requests.Session()  # a pooled client connection too
    assert sess.get(srv.base_url + "/healthz", timeout=5).status_code == 200
    t0 = time.monotonic()
    rc = srv.stop(signal.SIGTERM)
    elapsed = time.monotonic() - t0
    for c in idle:
        c.close()
    sess.close()
    assert rc == 0, srv.log_tail()
    assert elapsed < 5, "idle keep-alive connections held shutdown for %.1fs (grace 20 s)" % elapsed


def test_keep_alive_clients_busy_at_sigterm_lose_no_request(server_factory, admin):
    """Clients that keep sending on their keep-alive connections when SIGTERM arrives: every request sent gets
    its answer; from SIGTERM on the answers say Connection: close, and the next connection is refused (a
    client, or a proxy, then goes to another replica). None is cut off without an answer."""
    srv = server_factory("shutdown-busy", OSCRED_SHUTDOWN_GRACE="20")
    stop = threading.Event()
    results = []

    def client_loop():
        sent = answered = closed_after_term = 0
        lost = None
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        while not stop.is_set():
            try:
                c.request("GET", "/v3/auth/tokens", headers={"X-Auth-Token": admin.token,
                                                             "X-Subject-Token": admin.token})
            except OSError:  # the connection was closed (after a Connection: close) and a new one refused
                break
            sent += 1
            try:
                r = c.getresponse()
                r.read()
            except (http.client.HTTPException, OSError) as e:
                lost = repr(e)
                break
            answered += 1
            assert r.status == 200, r.status
            if r.will_close:
                closed_after_term += 1
                c.close()
        results.append((sent, answered, closed_after_term, lost))

    threads = [threading.Thread(target=client_loop) for _ in range(8)]
    for t in threads:
        t.start()
    harness.wait_until(lambda: opsutil.count_log(srv, lambda rec: rec.get("status") == 200) >= 200, 30,
                       what="the clients under way")
    rc = srv.stop(signal.SIGTERM)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert rc == 0, srv.log_tail()
    assert len(results) == 8, results
    assert all(lost is None and sent == answered for sent, answered, _, lost in results), results
    assert all(closed == 1 for _, _, closed, _ in results), results


def test_sigterm_while_the_database_is_unreachable_at_start_ends_the_wait(stack):
    """Without its database a starting replica retries the cache load for about a minute before giving up; an
    orchestrator that stops it meanwhile (a rollout, a scale-down) gets an exit within a retry, status 0, not a
    SIGKILL at the end of its grace period."""
    url = "postgresql://postgres@127.0.0.1:%d/oscred?connect_timeout=1" % harness.free_port()  # nothing there
    log_path = stack.workdir + "/startup-no-db.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen([stack.binary, "serve"], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env=stack.env(OSCRED_DATABASE_URL=url, OSCRED_DATABASE_LISTEN_URL=url))
    try:
        harness.wait_until(lambda: "cache.load_failed" in open(log_path, encoding="utf-8", errors="replace").read(),
                           timeout=30, what="a failed cache load")
        assert proc.poll() is None, open(log_path, encoding="utf-8").read()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)  # before the change: the wait went on for its minute
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = open(log_path, encoding="utf-8", errors="replace").read()
    assert rc == 0, (rc, text[-2000:])
    assert "server.stopped" in text, text[-2000:]
    assert not harness.sanitizer_findings(text), text
