"""How connections reach the worker threads. A worker serves its connections one request at a time and waits on
the database inside the handler, so a connection placed on a worker that is waiting waits too. New connections go
to a worker with the fewest connections, preferring one that is not serving a request: with as many keep-alive
connections as workers, one per worker, and one worker stuck on a row lock, every other connection and every new
one is answered while it waits. The listening socket is oscred's own: failing to bind it is reported with the
system's reason, and running out of descriptors is reported (once a second at most), waited out, and recovered
from."""
import http.client
import json
import os
import resource
import socket
import threading
import time

import client
import harness
import opsutil

WORKERS = 4
HOLD_S = 10  # how long the row lock is held: longer than every other request below may take
PROMPT_S = 3  # socket timeout of the requests that must not wait for the stuck one


def _get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return r.status


def test_a_worker_waiting_on_the_database_holds_up_no_other_connection(stack, server_factory, admin, make_user):
    srv = server_factory("workers", OSCRED_WORKER_THREADS=str(WORKERS), OSCRED_DATABASE_TIMEOUT=str(HOLD_S + 20))
    host, port = srv.base_url.rsplit("/", 1)[-1].split(":")
    owner = make_user()
    locked = client.new_key(srv.base_url, admin.token, owner.id)["access"]
    # One keep-alive connection per worker, each used once so that the server holds all of them.
    conns = [http.client.HTTPConnection(host, int(port), timeout=PROMPT_S) for _ in range(WORKERS)]
    for c in conns:
        assert _get(c, "/healthz") == 200
    stuck = {}

    def update_locked():
        body = json.dumps({"credential": {"status": "inactive"}})
        conns[0].timeout = HOLD_S + 30
        conns[0].sock.settimeout(HOLD_S + 30)
        conns[0].request("PUT", client.CREDS + "/" + locked, body=body,
                         headers={"X-Auth-Token": admin.token, "Content-Type": "application/json"})
        r = conns[0].getresponse()
        stuck["status"] = (r.status, r.read())

    try:
        with opsutil.row_locked(stack.pg, locked, HOLD_S):
            t = threading.Thread(target=update_locked)
            t.start()
            harness.wait_until(lambda: opsutil.lock_waiters_and_holders(stack.pg, HOLD_S) == (1, 1), timeout=5,
                               what="the update waiting on the row lock")
            kept = [(i, _get(c, "/healthz")) for i, c in enumerate(conns[1:], 1)]
            fresh = []
            for _ in range(2 * WORKERS):
                c = http.client.HTTPConnection(host, int(port), timeout=PROMPT_S)
                fresh.append(_get(c, "/healthz"))
                c.close()
            # Still under the lock: none of the answers above waited for it.
            assert opsutil.lock_waiters_and_holders(stack.pg, HOLD_S) == (1, 1)
        t.join(timeout=HOLD_S + 30)
    finally:
        for c in conns:
            c.close()
    assert kept == [(i, 200) for i in range(1, WORKERS)], kept
    assert fresh == [200] * (2 * WORKERS), fresh
    assert stuck["status"][0] == 200, stuck


def test_serve_on_an_address_in_use_stops_and_says_why(stack):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = stack.cli("serve", check=False, OSCRED_LISTEN="127.0.0.1:%d" % port)
    assert r.returncode != 0, (r.returncode, r.stdout, r.stderr)
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    failed = [l for l in lines if l.get("event") == "http.start_failed"]
    assert [(l["level"], l["reason"]) for l in failed] == [("error", "Address already in use")], r.stdout


def test_out_of_descriptors_the_server_says_so_and_serves_again(server_factory):
    """Accepting fails with EMFILE while the process is at its descriptor limit: the connections wait in the
    listen backlog, the accept is retried ten times a second (no busy loop) with one warning a second at most,
    and once descriptors are free again the waiting connections and new ones are served."""
    srv = server_factory("nofile")
    pid = srv.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    host, port = "127.0.0.1", srv.port

    def warnings():
        return [r for r in opsutil.log_records(srv)[0] if r.get("event") == "http.accept_failed"]

    resource.prlimit(pid, resource.RLIMIT_NOFILE, (len(os.listdir("/proc/%d/fd" % pid)) + 2, hard))
    waiting = []
    try:
        # Connected by the kernel (the backlog), two accepted, the rest refused descriptors by the limit.
        waiting = [socket.create_connection((host, port), timeout=10) for _ in range(6)]
        harness.wait_until(lambda: len(warnings()) == 1, timeout=10, what="the accept failure in the log")
        for s in waiting:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        time.sleep(1.5)  # fifteen retries, still out of descriptors
        lines = warnings()
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    assert 1 <= len(lines) <= 2, lines
    assert all(l["level"] == "warn" and l["detail"] == "Too many open files" for l in lines), lines
    assert "suppressed" not in lines[0], lines
    assert all(int(l["suppressed"]) >= 5 for l in lines[1:]), lines
    # The connections that waited in the backlog are served once descriptors are available.
    for s in waiting:
        answer = opsutil.read_to_eof(s)
        s.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert client.get(srv.base_url, "/healthz").status_code == 200


CONNECTION_LIMIT = 4096  # src/http/server.c, over all workers


def _closed_by_server(s):
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_connections_beyond_the_limit_are_refused_and_the_limit_is_reachable(server_factory):
    """At most 4096 connections over all workers: beyond that a new connection is closed at once and
    http.connection_refused is logged; once connections go, new ones are served again. The server is started
    with a soft descriptor limit of 1024 (a common default, kept low for select()), which `serve` raises to the
    hard limit: without that it could not hold 4096 connections."""
    extra = 8
    need = CONNECTION_LIMIT + extra + 256  # this process's sockets and files as well
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))  # root may raise its hard limit
        hard = need
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        srv = server_factory("connlimit", OSCRED_WORKER_THREADS=str(WORKERS))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    server_soft, server_hard = resource.prlimit(srv.proc.pid, resource.RLIMIT_NOFILE)
    assert server_soft == server_hard == hard, (server_soft, server_hard)

    def refusals():
        return [r for r in opsutil.log_records(srv)[0] if r.get("event") == "http.connection_refused"]

    conns = []
    try:
        for _ in range(CONNECTION_LIMIT + extra):
            conns.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
            conns[-1].setblocking(False)  # so that _closed_by_server looks without waiting
        harness.wait_until(lambda: refusals(), timeout=20, what="http.connection_refused in the log")
        harness.wait_until(lambda: sum(_closed_by_server(s) for s in conns) >= extra, timeout=20,
                           what="the connections over the limit closed by the server")
        refused = sum(_closed_by_server(s) for s in conns)
        # Exactly the ones over the limit, give or take a connection of the harness's start-up check.
        assert extra <= refused <= extra + 2, refused
        assert refusals()[0]["level"] == "warn", refusals()
    finally:
        for s in conns:
            s.close()
    harness.wait_until(lambda: client.get(srv.base_url, "/healthz").status_code == 200, timeout=20,
                       what="a new connection served once the others are gone")
