"""Helpers for the operations tests (metrics, logs, shutdown, rotation, pgbouncer, failover).

- signed requests: SDK-HMAC-SHA256 (spec huawei-keystone.md §4.4, written from the recipe) and AWS SigV4 (botocore's
  own signer), sent with `requests` and checked by client.check_response like every other request;
- Prometheus text parsing, JSON log reading, the kid inside a token, key ring files;
- a pgbouncer process in transaction mode in front of a harness PostgreSQL.
Nothing here runs at import time.
"""
import base64
import contextlib
import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

import requests

import client
import harness

# Everything secret-like the operations tests sent or saw (signatures, Authorization values), for the log scans.
SIGNATURES_SEEN = set()
AUTHORIZATIONS_SEEN = set()


def _enc(s):
    return urllib.parse.quote(s, safe="-_.~")  # RFC 3986 unreserved only


# -- SDK-HMAC-SHA256 ------------------------------------------------------------------------------------------

def sdk_hmac_headers(method, base, path, ak, sk, body=b"", params=None, sdk_date=None, extra=None):
    """Headers that sign METHOD base+path[?params] with body (bytes) the way the Huawei SDK does."""
    host = urllib.parse.urlsplit(base).netloc
    date = sdk_date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Type": "application/json", "Host": host, "X-Sdk-Date": date}
    headers.update(extra or {})
    signed = sorted(k.lower() for k in headers)
    canon_uri = "/".join(_enc(seg) for seg in path.split("/"))
    if not canon_uri.endswith("/"):
        canon_uri += "/"
    query = "&".join("%s=%s" % (_enc(k), _enc(str(v))) for k, v in sorted((params or {}).items()))
    lower = {k.lower(): v for k, v in headers.items()}
    canon_headers = "".join("%s:%s\n" % (k, lower[k]) for k in signed)
    canonical = "\n".join([method, canon_uri, query, canon_headers, ";".join(signed),
                           hashlib.sha256(body).hexdigest()])
    to_sign = "SDK-HMAC-SHA256\n%s\n%s" % (date, hashlib.sha256(canonical.encode()).hexdigest())
    sig = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s" % (
        ak, ";".join(signed), sig)
    SIGNATURES_SEEN.add(sig)
    AUTHORIZATIONS_SEEN.add(headers["Authorization"])
    return headers


def sdk_request(method, base, path, ak, sk, json_body=None, params=None, timeout=30, tamper=False,
                check=True, session=None):
    """Send a SDK-HMAC-SHA256-signed request. tamper=True signs one body/path but sends the signature over a
    changed X-Sdk-Date-preserving request (so the signature does not match)."""
    body = json.dumps(json_body, separators=(",", ":")).encode() if json_body is not None else b""
    headers = sdk_hmac_headers(method, base, path, ak, sk, body=body, params=params)
    if tamper:
        headers["Authorization"] = headers["Authorization"][:-64] + (
            "0" * 64 if not headers["Authorization"].endswith("0" * 64) else "1" * 64)
    url = base + path
    if params:
        url += "?" + urllib.parse.urlencode(sorted(params.items()), quote_via=urllib.parse.quote)
    r = (session or requests).request(method, url, headers=headers, data=body or None, timeout=timeout,
                                      allow_redirects=False)
    if check:
        client.check_response(method, path, r)
    return r


def sdk_show(base, ak, sk, target=None, **kw):
    """GET /v3.0/OS-CREDENTIAL/credentials/{target or ak}, signed with ak/sk."""
    return sdk_request("GET", base, client.CREDS + "/" + (target or ak), ak, sk, **kw)


# -- AWS SigV4 (botocore) -------------------------------------------------------------------------------------

def sigv4_request(base, ak, sk, action, params=None, region="us-east-1", timeout=30, secret_for_signing=None,
                  session=None):
    """POST / with Action=..., signed by botocore's SigV4Auth for service iam."""
    from botocore.auth import SigV4Auth  # noqa: PLC0415 - only the tests that sign need botocore
    from botocore.awsrequest import AWSRequest  # noqa: PLC0415
    from botocore.credentials import Credentials  # noqa: PLC0415

    form = {"Action": action, "Version": "2010-05-08"}
    form.update(params or {})
    body = urllib.parse.urlencode(form)
    req = AWSRequest(method="POST", url=base + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(ak, secret_for_signing or sk), "iam", region).add_auth(req)
    prepared = req.prepare()
    if secret_for_signing:
        # What the server computes with the real secret: a careless server might log it next to the mismatch.
        twin = AWSRequest(method="POST", url=base + "/", data=body,
                          headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(Credentials(ak, sk), "iam", region).add_auth(twin)
        if twin.headers["X-Amz-Date"] == req.headers["X-Amz-Date"]:
            SIGNATURES_SEEN.add(re.search(r"Signature=([0-9a-f]{64})", twin.headers["Authorization"]).group(1))
    auth = prepared.headers["Authorization"]
    AUTHORIZATIONS_SEEN.add(auth)
    m = re.search(r"Signature=([0-9a-f]{64})", auth)
    if m:
        SIGNATURES_SEEN.add(m.group(1))
    return (session or requests).post(prepared.url, data=prepared.body, headers=dict(prepared.headers),
                                      timeout=timeout, allow_redirects=False)


# -- tokens and key rings ---------------------------------------------------------------------------------------

def token_kid(token):
    """The ring key id inside an oscred token ("o1." + base64url(version, kid length, kid, ...))."""
    assert token.startswith("o1."), token[:8]
    b = token[3:]
    raw = base64.urlsafe_b64decode(b + "=" * (-len(b) % 4))
    assert raw[0] == 1, raw[0]
    return raw[2:2 + raw[1]].decode()


def read_ring(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_ring(path, primary, keys):
    """Write a key ring file (replacing it atomically, as a Secret update does)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"primary": primary, "keys": keys}, f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def new_ring_key():
    """(kid, base64 key) from a fresh `oscred keygen`, under a kid unique to this run."""
    r = subprocess.run([harness.oscred_bin(), "keygen"], capture_output=True, text=True, timeout=30, check=True)
    ring = json.loads(r.stdout)
    (value,) = ring["keys"].values()
    return "rot-" + os.urandom(4).hex(), value


# -- Prometheus text --------------------------------------------------------------------------------------------

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$')
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_metrics(text):
    """Prometheus text format 0.0.4 -> (types {family: type}, samples [(name, {label: value}, float)]).
    Raises AssertionError on any line that is not a comment, blank or sample."""
    types, samples = {}, []
    assert text.endswith("\n"), "exposition must end with a newline"
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                assert parts[2] not in types, "TYPE twice for %s" % parts[2]
                types[parts[2]] = parts[3]
            continue
        m = _SAMPLE_RE.match(line)
        assert m, "line %d is not a sample: %r" % (n, line)
        labels = {}
        rest = m.group(3) or ""
        pos = 0
        while pos < len(rest):
            lm = _LABEL_RE.match(rest, pos)
            assert lm, "line %d: bad labels %r" % (n, rest)
            labels[lm.group(1)] = lm.group(2)
            pos = lm.end()
        value = m.group(4)
        samples.append((m.group(1), labels, float(value.replace("+Inf", "inf"))))
    return types, samples


def scrape(base, timeout=10):
    r = requests.get(base + "/metrics", timeout=timeout)
    assert r.status_code == 200, r.text
    return r


def series(samples, name, **labels):
    """Samples named `name` whose labels include `labels`."""
    return [(lab, v) for n, lab, v in samples if n == name and all(lab.get(k) == w for k, w in labels.items())]


def total(samples, name, **labels):
    return sum(v for _, v in series(samples, name, **labels))


# -- JSON logs ---------------------------------------------------------------------------------------------------

def log_records(server):
    """(records, bad_lines): every stdout line of a harness.Server parsed as JSON."""
    records, bad = [], []
    with open(server.stdout_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                bad.append(line)
                continue
            if isinstance(rec, dict):
                records.append(rec)
            else:
                bad.append(line)
    return records, bad


def request_records(server):
    return [r for r in log_records(server)[0] if r.get("event") == "request"]


def wait_for_log(server, predicate, timeout, what):
    """Poll the server's stdout until a parsed record satisfies predicate; return it."""
    def find():
        for rec in log_records(server)[0]:
            if predicate(rec):
                return rec
        return None
    return harness.wait_until(find, timeout, what=what)


def count_log(server, predicate):
    return sum(1 for rec in log_records(server)[0] if predicate(rec))


# -- row locks ---------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def row_locked(pg, access_key, hold_s):
    """An open transaction elsewhere (psql, straight to PostgreSQL) holds access_key's row lock for hold_s seconds."""
    holder = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.url, "-c",
         "BEGIN; SELECT 1 FROM access_keys WHERE access_key = '%s' FOR UPDATE; SELECT pg_sleep(%d); COMMIT;"
         % (access_key, hold_s)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        harness.wait_until(lambda: lock_waiters_and_holders(pg, hold_s)[1] == 1, timeout=10,
                           what="the blocking transaction")
        yield
    finally:
        holder.wait(timeout=hold_s + 30)


def lock_waiters_and_holders(pg, hold_s):
    """(backends waiting on a lock, row_locked transactions of hold_s still sleeping)."""
    waiting, holding = pg.psql(
        "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), "
        "count(*) FILTER (WHERE query LIKE '%%pg_sleep(%d)%%' AND state = 'active') "
        "FROM pg_stat_activity WHERE pid <> pg_backend_pid()" % hold_s).strip().split("|")
    return int(waiting), int(holding)


# -- processes ---------------------------------------------------------------------------------------------------

def server_with_role(stack, name, role):
    """A server whose pooled connections log in as `role`, granted everything on the schema so that a test can
    revoke one privilege and make one kind of statement fail; it listens for notifications as the superuser."""
    stack.pg.psql("DO $$ BEGIN CREATE ROLE %s LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$" % role)
    stack.pg.psql("GRANT ALL ON ALL TABLES IN SCHEMA public TO %s; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO %s"
                  % (role, role))
    url = stack.pg.url.replace("postgresql://postgres@", "postgresql://%s@" % role, 1)
    assert url != stack.pg.url, stack.pg.url
    return stack.new_server(name, OSCRED_DATABASE_URL=url, OSCRED_DATABASE_LISTEN_URL=stack.pg.url)


def read_to_eof(sock):
    """Everything the peer sends until it closes the connection."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc (to see that a slow request is being worked on)."""
    with open("/proc/%d/stat" % pid, encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def postgres_pids(pg):
    """The postmaster of a harness PostgreSQL and its children (backends and background workers)."""
    with open(os.path.join(pg.dir, "data", "postmaster.pid"), encoding="ascii") as f:
        master = int(f.readline())
    pids = [master]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="ascii", errors="replace") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == master:
            pids.append(int(entry))
    return pids


class PgBouncer:
    """Debian's pgbouncer (1.18) in transaction pooling mode in front of a harness PostgreSQL.

    pgbouncer refuses to run as root, so as root it is started with `-u postgres` (its own option to drop
    privileges); its config directory is made readable for that user."""

    def __init__(self, pg_port, pool_size=3, max_client_conn=300):
        self.binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError("pgbouncer not installed (Debian package pgbouncer, listed in scripts/deps)")
        self.dir = tempfile.mkdtemp(prefix="oscred-pgbouncer-")
        os.chmod(self.dir, 0o755)
        self.port = harness.free_port()
        self.pg_port = pg_port
        self.pool_size = pool_size
        self.max_client_conn = max_client_conn
        self.log_path = os.path.join(self.dir, "pgbouncer.log")
        self.proc = None

    @property
    def url(self):
        return "postgresql://postgres@127.0.0.1:%d/oscred" % self.port

    @property
    def admin_url(self):
        return "postgresql://postgres@127.0.0.1:%d/pgbouncer" % self.port

    def start(self):
        users = os.path.join(self.dir, "userlist.txt")
        with open(users, "w", encoding="utf-8") as f:
            f.write('"postgres" ""\n')
        ini = os.path.join(self.dir, "pgbouncer.ini")
        with open(ini, "w", encoding="utf-8") as f:
            f.write("\n".join([
                "[databases]",
                "oscred = host=127.0.0.1 port=%d dbname=oscred user=postgres" % self.pg_port,
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                "listen_port = %d" % self.port,
                "unix_socket_dir =",
                "auth_type = trust",
                "auth_file = %s" % users,
                "admin_users = postgres",
                "pool_mode = transaction",
                "default_pool_size = %d" % self.pool_size,
                "max_client_conn = %d" % self.max_client_conn,
                "server_reset_query =",
                "",
            ]))
        for p in (users, ini):
            os.chmod(p, 0o644)
        argv = [self.binary]
        if os.geteuid() == 0:
            argv += ["-u", "postgres"]
        argv.append(ini)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        finally:
            log.close()

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("pgbouncer exited with %s:\n%s" % (self.proc.returncode, self.log()))
            return self.admin("SHOW VERSION") is not None

        harness.wait_until(up, timeout=20, interval=0.1, what="pgbouncer to accept connections")
        return self

    def admin(self, command):
        """Run an admin-console command; its rows as lists of strings (None if it cannot connect)."""
        r = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-d", self.admin_url, "-c", command],
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            return None
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def log(self):
        return harness._read(self.log_path)  # noqa: SLF001 - same helper the harness uses

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # safe shutdown
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if not os.environ.get("OSCRED_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def timed(fn):
    """(result, seconds) of fn()."""
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0
