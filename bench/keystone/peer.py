"""OpenStack Keystone as the benchmark's peer (bench/run --keystone), run by bench/bench.py after oscred's scenarios,
on the same machine and the same private PostgreSQL (its own database "keystone").

bench/keystone/setup configures Keystone (keystone.conf, uwsgi.ini, db_sync, fernet and credential keys,
bootstrap); this module starts memcached and uwsgi through bench.py's process list (so bench.py's clean-up stops
them), makes the fixture data through Keystone's API, runs the peer scenarios with the same wrk, threads,
connections and response checking as oscred's, and returns the results. See bench/README.md, section "Keystone".
"""
import concurrent.futures
import datetime
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SETUP = os.path.join(HERE, "setup")

# The peer of each oscred scenario: the Keystone scenario whose rate its "x Keystone" ratio divides by.
PEER_OF = {"token": "token", "show": "show", "delete": "delete", "create": "create",
           "aws-update": "ec2tokens", "aws-list": "ec2tokens", "sdk-show": "ec2tokens"}
# The targets, oscred req/s / Keystone req/s (reported, never enforced).
TARGET_X = {"token": 40, "delete": 40, "create": 40, "aws-update": 20, "aws-list": 20, "sdk-show": 20}
NAMES = {"token": "token validation", "show": "credential show", "create": "credential create+delete",
         "delete": "credential delete", "ec2tokens": "ec2tokens (SigV4 signature check)"}
ORDER = ["token", "show", "create", "delete", "ec2tokens"]
REQUESTS = {"token": "GET /v3/auth/tokens", "show": "GET /v3/credentials/{id}",
            "create": "POST /v3/credentials + DELETE /v3/credentials/{id}",
            "delete": "DELETE /v3/credentials/{id}", "ec2tokens": "POST /v3/ec2tokens"}
def fmt_x(ratio):
    """A ratio as the table shows it: one decimal below 100 (so 19.7x is not printed as a target of 20x met)."""
    return ("%.1f×" if ratio < 100 else "%.0f×") % ratio


FILES = ("fix-", "signed-", "subjects", "keys-", "users-", "fernet-keys", "credential-keys")


def forget(run_dir):
    """Keystone's secret material (fernet and credential keys, fixture secrets, signed requests, tokens)."""
    d = os.path.join(run_dir, "keystone")
    if not os.path.isdir(d):
        return
    for name in os.listdir(d):
        if name.startswith(FILES):
            p = os.path.join(d, name)
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    os.unlink(p)
                except OSError:
                    pass


class Peer:
    def __init__(self, h, bench, keys):
        """h: the bench module (PROCS, wrk, summarize, ...); bench: its Bench; keys: stored credentials to make."""
        self.h = h
        self.b = bench
        self.dir = os.path.join(h.RUN, "keystone")
        self.duration = min(bench.duration, 10)
        self.keys = max(2, min(keys, 200 if bench.quick else 1000))
        self.results = {}
        self.order = []
        self.failed = False
        self.load = {}
        self.local = threading.local()
        self.conns = []
        self.conns_lock = threading.Lock()

    # ------------------------------------------------------------ set-up

    def start(self):
        h = self.h
        os.makedirs(self.dir, exist_ok=True)
        self.mc_port, self.port = h.free_port(), h.free_port()
        while self.port == self.mc_port:
            self.port = h.free_port()
        self.password = secrets.token_urlsafe(18)
        t0 = time.time()
        h.log("keystone: configuring (db_sync, fernet_setup, credential_setup, bootstrap)")
        h.run(["bash", SETUP, "configure", self.dir, str(self.b.pg_port), str(self.mc_port), str(self.port)],
              env=dict(os.environ, OS_BOOTSTRAP_PASSWORD=self.password), timeout=600)
        self.ini = open(os.path.join(self.dir, "uwsgi.ini")).read()
        self.processes = int(re.search(r"^processes = (\d+)", self.ini, re.M).group(1))
        self.threads = int(re.search(r"^threads = (\d+)", self.ini, re.M).group(1))
        self.version = h.run(["dpkg-query", "-W", "-f=${Version}", "python3-keystone"], check=False).stdout.strip()

        argv = ["memcached", "-l", "127.0.0.1", "-p", str(self.mc_port), "-U", "0", "-m", "64", "-c", "1024"]
        if os.geteuid() == 0:
            argv += ["-u", "memcache"]
        self.mc_log = open(os.path.join(self.dir, "memcached.log"), "ab")
        self.mc = h.PROCS.start("memcached", argv, stdout=self.mc_log, stderr=subprocess.STDOUT)
        self.uwsgi_log = open(os.path.join(self.dir, "uwsgi.out"), "ab")
        self.uwsgi = h.PROCS.start("uwsgi", ["/usr/bin/uwsgi-core", "--ini", os.path.join(self.dir, "uwsgi.ini")],
                                   stdout=self.uwsgi_log, stderr=subprocess.STDOUT)
        self.wait_ready(180)
        self.workers = self.worker_pids()
        h.log("keystone %s under uwsgi (%d processes x %d threads, pid %d) on 127.0.0.1:%d, memcached on %d, "
              "ready in %.0fs" % (self.version, self.processes, self.threads, self.uwsgi.pid, self.port,
                                  self.mc_port, time.time() - t0))

        # Tokens, project-scoped to the admin project: one to act with, four to be validated.
        tokens = [self.login() for _ in range(5)]
        self.token = tokens[0]
        self.subjects = tokens[1:]
        self.warm_up()

    def wait_ready(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.uwsgi.poll() is not None:
                raise self.h.Failed("uwsgi exited with %s: %s" % (self.uwsgi.returncode, self.tail("uwsgi.log")))
            # lazy-apps: every worker loads the application itself; ready when all have.
            if len(re.findall(r"WSGI app 0 \(mountpoint=''\) ready", self.read("uwsgi.log"))) >= self.processes:
                try:
                    status, _, _ = self.h.http_call(self.port, "GET", "/v3", timeout=5)
                    if status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.2)
        raise self.h.Failed("keystone not ready in %ds: %s" % (timeout, self.tail("uwsgi.log")))

    def read(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def tail(self, name, n=3000):
        return self.read(name)[-n:]

    def worker_pids(self):
        return sorted(set(int(p) for p in re.findall(r"spawned uWSGI worker \d+ \(pid: (\d+)", self.read("uwsgi.log"))))

    def login(self):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": self.password}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
        status, headers, data = self.h.http_call(self.port, "POST", "/v3/auth/tokens", body)
        if status != 201:
            raise self.h.Failed("keystone login: %d %s" % (status, data[:300]))
        return headers["x-subject-token"]

    def warm_up(self):
        """Keystone builds its policy enforcer lazily, on a worker's first request, and requests that arrive in other
        threads of that worker while it does are refused with 403 (seen here on the first concurrent requests of each
        worker). So each worker gets its first requests one at a time: token validations, each on a new keep-alive
        connection left open (the uwsgi thread that took it keeps it, so the next one goes to another thread), as
        many as uwsgi has threads, until the uwsgi request log shows every worker has answered one."""
        want = set(self.workers)
        seen = set()
        n = 0
        for _ in range(10):
            conns = []
            try:
                for i in range(self.processes * self.threads):
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                    conns.append(c)
                    c.request("GET", "/v3/auth/tokens", headers={"X-Auth-Token": self.token,
                                                                "X-Subject-Token": self.subjects[i % 4]})
                    r = c.getresponse()
                    data = r.read()
                    n += 1
                    if r.status != 200:
                        raise self.h.Failed("keystone warm-up: token validation answered %d %s" % (
                            r.status, data[:300]))
            finally:
                for c in conns:
                    c.close()
            for _ in range(20):  # uwsgi writes the request line after the answer
                seen = set(int(p) for p in re.findall(r"\[pid: (\d+)\|app: \d+\|req: [^\]]*\] [^\n]* "
                                                      r"GET /v3/auth/tokens => [^\n]*\(HTTP/1\.1 200\)",
                                                      self.read("uwsgi.log")))
                if want <= seen:
                    break
                time.sleep(0.1)
            if want <= seen:
                break
        if not want <= seen:
            raise self.h.Failed("keystone warm-up: workers %s answered none of %d requests" % (
                sorted(want - seen), n))
        self.h.log("keystone warm-up: all %d workers answered (%d requests, one at a time)" % (len(want), n))

    # ------------------------------------------------------------ API calls for the fixtures

    def api(self, method, path, body=None, expect=(200, 201, 204)):
        """One call on this thread's keep-alive connection, as the admin."""
        c = getattr(self.local, "conn", None)
        if c is None:
            c = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            with self.conns_lock:
                self.conns.append(c)
        h = {"X-Auth-Token": self.token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            out = r.read()
        except (OSError, http.client.HTTPException):
            c.close()
            self.local.conn = None
            raise
        if r.status not in expect:
            raise self.h.Failed("keystone %s %s: %d %s" % (method, path, r.status, out[:300]))
        return json.loads(out) if out else None

    def parallel(self, fn, items, workers=16):
        """fn over items in WORKERS threads, each with its own keep-alive connection, closed at the end (an open
        connection holds one of uwsgi's threads)."""
        try:
            with concurrent.futures.ThreadPoolExecutor(workers) as ex:
                return list(ex.map(fn, items))
        finally:
            self.close_conns()

    def close_conns(self):
        with self.conns_lock:
            for c in self.conns:
                c.close()  # a later call on it connects again

    def new_credential(self, uid):
        ak, sk = secrets.token_hex(16), secrets.token_hex(16)
        r = self.api("POST", "/v3/credentials", {"credential": {
            "type": "ec2", "user_id": uid, "project_id": self.project,
            "blob": json.dumps({"access": ak, "secret": sk})}})
        return r["credential"]["id"], ak, sk

    def make_user(self, name, keys, grant=True):
        uid = self.api("POST", "/v3/users", {"user": {"name": name, "domain_id": "default"}})["user"]["id"]
        if grant:
            self.api("PUT", "/v3/projects/%s/users/%s/roles/%s" % (self.project, uid, self.member))
        return {"id": uid, "name": name, "keys": [self.new_credential(uid) for _ in range(keys)]}

    def fixtures(self):
        t0 = time.time()
        self.project = self.api("POST", "/v3/projects", {"project": {"name": "bench", "domain_id": "default"}}
                                )["project"]["id"]
        self.member = self.api("GET", "/v3/roles?name=member")["roles"][0]["id"]
        users = (self.keys + 1) // 2
        self.users = self.parallel(
            lambda i: self.make_user("bench-ks-u%d" % i, min(2, self.keys - 2 * i)), range(users))
        self.create_users = self.parallel(lambda i: self.make_user("bench-ks-c%d" % i, 0, grant=False),
                                          range(self.h.CONNECTIONS))
        n = users * 3 + sum(len(u["keys"]) for u in self.users) + self.h.CONNECTIONS
        self.h.log("keystone fixture: %d users with %d ec2 credentials (member of project bench), %d users for "
                   "create+delete, through the API in %.1fs (%d requests/s)" % (
                       users, self.keys, self.h.CONNECTIONS, time.time() - t0, n / max(time.time() - t0, 1e-3)))

    # ------------------------------------------------------------ measuring

    def cpu_ticks(self, memcached=False):
        n = 0
        for pid in [self.uwsgi.pid] + self.workers + ([self.mc.pid] if memcached else []):
            try:
                n += self.h.cpu_ticks(pid)
            except OSError:
                pass
        return n

    def wait_idle(self, limit_s=60):
        """Until Keystone's processes use under 5 % of a CPU over half a second."""
        if self.uwsgi.poll() is not None:
            raise self.h.Failed("uwsgi exited during the run: %s" % self.tail("uwsgi.log"))
        hz = os.sysconf("SC_CLK_TCK")
        deadline = time.time() + limit_s
        last = self.cpu_ticks()
        while time.time() < deadline:
            time.sleep(0.5)
            now = self.cpu_ticks()
            if (now - last) / hz < 0.025:
                return
            last = now

    def wrk(self, script, env, **kw):
        """One measurement; adds the CPU time Keystone's processes (uwsgi and memcached, not PostgreSQL) used per
        request, a figure the other load on a shared machine moves less than the rate."""
        e = {"BENCH_TOKEN": self.token}
        e.update(env)
        self.close_conns()
        t0 = self.cpu_ticks(memcached=True)
        s = self.h.summarize(self.h.wrk(script, self.port, self.duration, e, timeout_s=30, **kw))
        ticks = self.cpu_ticks(memcached=True) - t0
        s["cpu_ms_per_request"] = (1000.0 * ticks / os.sysconf("SC_CLK_TCK") / s["requests"]) if s["requests"] \
            else None
        return s

    def record(self, key, s, **extra):
        s = dict(s)
        s["request"] = REQUESTS[key]
        s["failed"] = bool(s["errors"] or s["requests"] == 0)
        s.update(extra)
        self.results[key] = s
        self.order.append(key)
        if s["failed"]:
            self.failed = True
        self.h.log("keystone %-26s %7.0f req/s  p50 %.2f ms  p99 %.2f ms  errors %d%s" % (
            NAMES[key], s["req_s"], s["p50_ms"], s["p99_ms"], s["errors"],
            "  FAILED: %s %s" % (s["codes"], s["first_bad"][:200]) if s["failed"] else ""))

    def path(self, name):
        return os.path.join(self.dir, name)

    def sc_token(self):
        with open(self.path("subjects"), "w") as f:
            f.write("\n".join(self.subjects) + "\n")
        self.record("token", self.wrk("token_validate.lua", {"BENCH_SUBJECTS": self.path("subjects")}))

    def warm_cache(self, what, fn, items):
        """Keystone's cache is on: every credential or user a scenario picks is read once before it (not
        measured), so the scenario measures the warm state, as oscred's are after their warm-up."""
        t0 = time.time()
        self.parallel(fn, items)
        self.h.log("keystone %s: cache warmed with %d requests in %.1fs" % (what, len(items), time.time() - t0))
        self.wait_idle()

    def sc_show(self):
        ids = [cid for u in self.users for cid, _, _ in u["keys"]]
        with open(self.path("keys-show"), "w") as f:
            f.write("\n".join(ids) + "\n")
        self.warm_cache("show", lambda cid: self.api("GET", "/v3/credentials/" + cid), ids)
        self.record("show", self.wrk("cred_read.lua", {"BENCH_MODE": "show", "BENCH_BASE": "/v3/credentials/",
                                                   "BENCH_KEYS_FILE": self.path("keys-show")}))

    def sc_create(self):
        with open(self.path("users-create"), "w") as f:
            for u in self.create_users:
                f.write("%s\n" % u["id"])
        self.record("create", self.wrk("keystone_cred_create.lua", {
            "BENCH_USERS_FILE": self.path("users-create"), "BENCH_PROJECT": self.project},
            threads=self.h.CONNECTIONS, connections=self.h.CONNECTIONS))

    def sc_delete(self):
        # A pool sized to last the run at the create+delete rate just measured (a create and a delete cost about
        # the same in Keystone), or at the reference rate of ~320 deletes/s if create did not run, plus a half.
        rate = self.results["create"]["req_s"] if "create" in self.results else 320.0
        size = int(max(rate, 50.0) * self.duration * 1.5)
        size = max(self.h.CONNECTIONS, -(-size // self.h.CONNECTIONS) * self.h.CONNECTIONS)
        t0 = time.time()
        owners = [u["id"] for u in self.create_users]
        ids = self.parallel(lambda i: self.new_credential(owners[i % len(owners)])[0], range(size))
        self.h.log("keystone delete: a pool of %d ec2 credentials through the API in %.1fs" % (
            size, time.time() - t0))
        with open(self.path("keys-delete"), "w") as f:
            f.write("\n".join(ids) + "\n")
        self.wait_idle()
        s = self.wrk("cred_delete.lua", {"BENCH_KEYS_FILE": self.path("keys-delete"),
                                         "BENCH_BASE": "/v3/credentials/", "BENCH_FILLER": "/v3"},
                     done_marker=self.path("delete-done"), max_wait=self.duration * 3 + 10)
        url = "postgresql://postgres@127.0.0.1:%d/keystone" % self.b.pg_port
        left = int(self.h.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url],
                              input="SELECT count(*) FROM credential WHERE id IN (%s);\n" % ",".join(
                                  "'%s'" % cid for cid in ids)).stdout.strip())
        self.record("delete", s, pool=size, pool_left=left)

    def sc_ec2tokens(self):
        rate = self.results["show"]["req_s"] if "show" in self.results else 550.0
        count = int(max(rate, 200.0) * self.duration * 1.5) + 200
        signers = [(u["name"], u["keys"][0][1], u["keys"][0][2]) for u in self.users if u["keys"]]
        t0 = time.time()
        host = "127.0.0.1:%d" % self.port
        # The first len(signers) requests, one per user, warm the cache; the run replays the others.
        bodies = sign_ec2(host, signers, count + len(signers))
        warm, bodies = bodies[:len(signers)], bodies[len(signers):]
        with open(self.path("signed-ec2tokens"), "w") as f:
            for b in bodies:
                f.write(json.dumps(b, separators=(",", ":")) + "\n")
        self.h.log("keystone ec2tokens: signed %d requests (botocore SigV4) in %.1fs" % (
            count + len(warm), time.time() - t0))
        self.check_ec2(warm[0], signers[0][2])
        self.warm_cache("ec2tokens", lambda b: self.api("POST", "/v3/ec2tokens", b, expect=(200,)), warm[1:])
        self.record("ec2tokens", self.wrk("keystone_ec2tokens.lua",
                                          {"BENCH_REQUESTS": self.path("signed-ec2tokens")}), signed=count)

    def check_ec2(self, body, secret):
        """Before measuring: the signature is one Keystone computes the same way on its first try (keystoneclient's
        Ec2Signer, which Keystone uses), Keystone accepts it (200 with a token), and refuses it altered (401)."""
        from keystoneclient.contrib.ec2 import utils as ec2_utils
        creds = json.loads(json.dumps(body["credentials"]))
        if ec2_utils.Ec2Signer(secret).generate(creds) != body["credentials"]["signature"]:
            raise self.h.Failed("keystone ec2tokens: keystoneclient's Ec2Signer computes another signature")
        hdr = {"X-Auth-Token": self.token}
        status, headers, data = self.h.http_call(self.port, "POST", "/v3/ec2tokens", body, hdr)
        if status != 200 or "x-subject-token" not in headers:
            raise self.h.Failed("keystone ec2tokens check: %d %s" % (status, data[:300]))
        bad = json.loads(json.dumps(body))
        sig = bad["credentials"]["signature"]
        bad["credentials"]["signature"] = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        status2, _, data2 = self.h.http_call(self.port, "POST", "/v3/ec2tokens", bad, hdr)
        if status2 != 401:
            raise self.h.Failed("keystone ec2tokens check: an altered signature answered %d %s" % (status2, data2[:300]))
        self.h.log("keystone ec2tokens check: signed request 200 (token issued), altered signature 401")

    def run(self, keys):
        """Runs the Keystone peers of the oscred scenarios KEYS (each Keystone scenario once)."""
        want = set(PEER_OF[k] for k in keys if k in PEER_OF)
        todo = [k for k in ORDER if k in want]
        if not todo:
            self.h.log("keystone: none of the selected scenarios has a Keystone peer")
            return
        self.start()
        self.fixtures()
        for key in todo:
            self.wait_idle()
            self.load[key] = open("/proc/loadavg").read().split()[0]
            getattr(self, "sc_" + key)()
        if self.uwsgi.poll() is not None:
            self.failed = True
            raise self.h.Failed("uwsgi exited during the run: %s" % self.tail("uwsgi.log"))

    def stop(self):
        for p in (getattr(self, "uwsgi", None), getattr(self, "mc", None)):
            if p is not None:
                self.h.PROCS.stop(p)
        for f in (getattr(self, "uwsgi_log", None), getattr(self, "mc_log", None)):
            if f is not None:
                f.close()

    # ------------------------------------------------------------ results

    def ratios(self, oscred_results):
        """oscred scenario key -> {oscred, keystone scenario, their rates, ratio, target}."""
        out = {}
        for name, s in oscred_results.items():
            k = s.get("key")
            peer = PEER_OF.get(k)
            if peer not in self.results:
                continue
            ks = self.results[peer]["req_s"]
            out[k] = {"oscred_scenario": name, "keystone_scenario": NAMES[peer], "oscred_req_s": s["req_s"],
                      "keystone_req_s": ks, "ratio": (s["req_s"] / ks) if ks else None,
                      "target": TARGET_X.get(k)}
        return out

    def json(self, oscred_results):
        return {
            "version": self.version, "duration_s": self.duration, "connections": self.h.CONNECTIONS,
            "uwsgi": {"processes": self.processes, "threads": self.threads, "socket": "http11-socket, keep-alive"},
            "cache": "oslo_cache.memcache_pool, private memcached", "token_provider": "fernet",
            "stored_credentials": self.keys, "loadavg_before": self.load, "failed": self.failed,
            "scenarios": {NAMES[k]: self.results[k] for k in self.order},
            "ratios": self.ratios(oscred_results),
        }

    def table(self, oscred_results):
        ratios = self.ratios(oscred_results)
        lines = ["| Keystone scenario | requests | Keystone req/s | p50 | p99 | errors | CPU ms/request | "
                 "oscred / Keystone |", "|---|---|---:|---:|---:|---:|---:|---|"]
        for k in self.order:
            s = self.results[k]
            vs = ["%s %s" % (r["oscred_scenario"], fmt_x(r["ratio"])) for r in ratios.values()
                  if r["keystone_scenario"] == NAMES[k] and r["ratio"] is not None]
            cpu = s.get("cpu_ms_per_request")
            lines.append("| %s%s | `%s` | %.0f | %.2f ms | %.2f ms | %d | %s | %s |" % (
                NAMES[k], " **FAILED**" if s["failed"] else "", s["request"], s["req_s"], s["p50_ms"], s["p99_ms"],
                s["errors"], "%.1f" % cpu if cpu is not None else "-", "; ".join(vs) or "-"))
        miss = ["%s (%s < %d×)" % (r["oscred_scenario"], fmt_x(r["ratio"]), r["target"]) for r in ratios.values()
                if r["target"] and r["ratio"] is not None and r["ratio"] < r["target"]]
        lines.append("")
        lines.append("Keystone %s: uwsgi %d processes x %d threads, cache on (memcached), fernet tokens, PostgreSQL "
                     "(the same server, database \"keystone\"), %d s per scenario, %d connections. Load average "
                     "(1 min) before each: %s." % (
                         self.version, self.processes, self.threads, self.duration, self.h.CONNECTIONS,
                         ", ".join("%s %s" % (k, v) for k, v in self.load.items())))
        lines.append("")
        lines.append("CPU ms/request: CPU time of Keystone's uwsgi processes and memcached during the run, per "
                     "request (PostgreSQL not counted).")
        lines.append("")
        lines.append("× Keystone targets not met (reported, not enforced): " + ("; ".join(miss) or "none") + ".")
        return "\n".join(lines)


# ---------------------------------------------------------------- signing

def sign_ec2(host, signers, count, window_s=600):
    """COUNT ec2tokens bodies: AWS IAM ListAccessKeys requests (the request oscred's aws-list scenario replays),
    signed with AWS Signature V4 by botocore's SigV4Auth with each user's first ec2 credential, rotating over the
    users and over signing times in the WINDOW_S seconds before now (Keystone accepts X-Amz-Date up to
    [credential] auth_ttl = 15 minutes old), so every body is distinct. signers: [(user_name, access, secret)]."""
    import sign  # bench/sign.py: the botocore clock override
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    sign._patch_botocore_clock()
    now = datetime.datetime.utcnow().replace(microsecond=0)
    auths = [SigV4Auth(Credentials(ak, sk), "iam", "us-east-1") for _, ak, sk in signers]
    n = len(signers)
    out = []
    try:
        for i in range(count):
            name, ak, _ = signers[i % n]
            sign._Clock.fixed = now - datetime.timedelta(seconds=(i // n) % (window_s + 1))
            body = urllib.parse.urlencode([("Action", "ListAccessKeys"), ("Version", "2010-05-08"),
                                           ("UserName", name)]).encode()
            req = AWSRequest(method="POST", url="http://%s/" % host, data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
            auths[i % n].add_auth(req)
            headers = {"Host": host}
            headers.update(req.headers.items())
            signature = headers["Authorization"].rsplit("Signature=", 1)[1]
            out.append({"credentials": {"access": ak, "signature": signature, "host": host, "verb": "POST",
                                        "path": "/", "params": {}, "headers": headers,
                                        "body_hash": hashlib.sha256(body).hexdigest()}})
    finally:
        sign._Clock.fixed = None
    return out
