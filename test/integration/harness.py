"""Process harness for the integration suite: a private PostgreSQL, a key ring, and oscred server processes.

Nothing here runs at import time, so `pytest --collect-only` works without a built binary or a database.
Waiting is always a poll against a deadline (wait_until), never a fixed sleep.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

# Every Server and Stack created in this pytest process, so the session teardown can check them all.
ALL_SERVERS = []
ALL_STACKS = []


def source_root():
    root = os.environ.get("OSCRED_SOURCE_ROOT")
    if root:
        return os.path.abspath(root)
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def oscred_bin():
    path = os.environ.get("OSCRED_BIN")
    if not path:
        raise RuntimeError("OSCRED_BIN is not set: run the suite through test/integration/run BUILD/oscred")
    if not os.access(path, os.X_OK):
        raise RuntimeError("OSCRED_BIN=%s is not an executable file" % path)
    return os.path.abspath(path)


def pg_bindir():
    """The newest PostgreSQL bin directory, chosen the way scripts/pg chooses it."""
    dirs = glob.glob("/usr/lib/postgresql/*/bin")
    if not dirs:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")

    def version(d):
        v = d.split("/")[-2]
        return tuple(int(p) if p.isdigit() else 0 for p in v.split("."))

    return sorted(dirs, key=version)[-1]


def free_port():
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Poll predicate() until it returns a truthy value or the deadline passes; return that value.

    Raises AssertionError naming `what` and the last value/exception on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - reported below if the deadline passes
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)


def sanitizer_findings(text):
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]


def _read(path):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Postgres:
    """A private cluster managed by scripts/pg (which runs postgres as the postgres user when we are root)."""

    def __init__(self, directory, port):
        self.dir = directory
        self.port = port
        self.url = None
        self.script = os.path.join(source_root(), "scripts", "pg")

    def start(self):
        r = subprocess.run([self.script, "start", self.dir, str(self.port), "--fast"],
                           capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            raise RuntimeError("scripts/pg start failed (%d): %s%s" % (r.returncode, r.stdout, r.stderr))
        self.url = r.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self):
        subprocess.run([self.script, "stop", self.dir], capture_output=True, text=True, timeout=120)

    def dump(self):
        """Plain-text pg_dump of the whole oscred database (schema and data)."""
        r = subprocess.run([os.path.join(pg_bindir(), "pg_dump"), "--no-owner", "--dbname", self.url],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("pg_dump failed (%d): %s" % (r.returncode, r.stderr))
        return r.stdout

    def psql(self, sql):
        r = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.url, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("psql failed (%d): %s" % (r.returncode, r.stderr))
        return r.stdout


class Server:
    """One `oscred serve` process. stdout/stderr go to log files that survive restarts (appended)."""

    START_TIMEOUT = 60.0
    STOP_TIMEOUT = 45.0  # above the default OSCRED_SHUTDOWN_GRACE (20 s)

    def __init__(self, binary, env, workdir, name, port=None):
        self.binary = binary
        self.name = name
        self.port = port or free_port()
        self.env = dict(env)
        self.env["OSCRED_LISTEN"] = "127.0.0.1:%d" % self.port
        self.stdout_path = os.path.join(workdir, "%s.stdout.log" % name)
        self.stderr_path = os.path.join(workdir, "%s.stderr.log" % name)
        self.proc = None
        self.exits = []  # (signal sent, or None for an exit nobody asked for, return code)
        self.expected_down = True
        self.restart_if_dead = False  # session servers are restarted after a crash so one crash fails one test
        ALL_SERVERS.append(self)

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def log(self):
        return _read(self.stdout_path) + _read(self.stderr_path)

    def log_tail(self, n=40):
        return "\n".join(self.log.splitlines()[-n:])

    def died(self):
        """Whether the process exited without stop() being called (a crash); records it once."""
        if self.expected_down or self.proc is None or self.proc.poll() is None:
            return False
        self.expected_down = True
        self.exits.append((None, self.proc.returncode))
        return True

    def start(self):
        assert not self.running, "server %s already running" % self.name
        self.expected_down = False
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            out.close()
            err.close()

        def healthy():
            if self.proc.poll() is not None:
                raise RuntimeError("server %s exited with %s during start:\n%s"
                                   % (self.name, self.proc.returncode, self.log_tail()))
            try:
                return requests.get(self.base_url + "/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        deadline = time.monotonic() + self.START_TIMEOUT
        while True:
            if healthy():  # RuntimeError on early exit propagates at once
                return self
            if time.monotonic() >= deadline:
                self.stop(signal.SIGKILL)
                raise RuntimeError("server %s not healthy within %.0fs:\n%s"
                                   % (self.name, self.START_TIMEOUT, self.log_tail()))
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM):
        """Send sig and wait for the exit; SIGKILL after STOP_TIMEOUT. Returns the exit code (None if not running)."""
        if self.proc is None:
            return None
        if self.died() or self.expected_down:
            return self.proc.returncode  # already down: nothing to stop, nothing new to record
        self.expected_down = True
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=self.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
                self.exits.append((sig, "did not exit within %.0fs of signal %s" % (self.STOP_TIMEOUT, sig)))
                return self.proc.returncode
        self.exits.append((sig, self.proc.returncode))
        return self.proc.returncode

    def restart(self):
        rc = self.stop(signal.SIGTERM)
        assert rc == 0, "server %s exited with %r on SIGTERM:\n%s" % (self.name, rc, self.log_tail())
        return self.start()

    def problems(self):
        """Sanitizer reports in the logs, and SIGTERM stops that did not end in a clean exit 0."""
        found = ["%s: %s" % (self.name, line) for line in sanitizer_findings(self.log)]
        for sig, rc in self.exits:
            if sig is None:
                found.append("%s: died with exit %r while the suite was running" % (self.name, rc))
            elif sig == signal.SIGTERM and rc != 0:
                found.append("%s: exit %r after SIGTERM (expected a graceful exit 0)" % (self.name, rc))
        return found


class Stack:
    """PostgreSQL + key ring + migrated, bootstrapped database, and the servers started on it.

    Two tenants are bootstrapped: domain "default" (admin "admin") and domain "other" (admin "otheradmin")."""

    def __init__(self, name, server_env=None, password_iterations=1000):
        self.name = name
        self.binary = oscred_bin()
        self.workdir = tempfile.mkdtemp(prefix="oscred-it-%s-" % name)
        os.chmod(self.workdir, 0o755)  # the postgres user must traverse it to reach its data directory
        self.pg = Postgres(os.path.join(self.workdir, "pg"), free_port())
        self.keys_file = os.path.join(self.workdir, "keys.json")
        self.cli_log = os.path.join(self.workdir, "cli.log")
        self.server_env = dict(server_env or {})
        self.iterations = password_iterations
        self.servers = []
        self.tenants = {
            "default": {"domain": "default", "user": "admin", "password": "Adm-" + os.urandom(12).hex()},
            "other": {"domain": "other", "user": "otheradmin", "password": "Oth-" + os.urandom(12).hex()},
        }
        ALL_STACKS.append(self)

    # -- environment and CLI -------------------------------------------------------------------------------

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OSCRED_")}
        env.update({
            "OSCRED_DATABASE_URL": self.pg.url or "",
            "OSCRED_KEYS_FILE": self.keys_file,
            "OSCRED_LISTEN": "127.0.0.1:%d" % free_port(),
            "OSCRED_PASSWORD_ITERATIONS": str(self.iterations),
            "OSCRED_LOG_LEVEL": "debug",
            # Not in DESIGN.md's table (notes/ecosystem.md §2): keeps SIGTERM from idling before the drain.
            "OSCRED_SHUTDOWN_DELAY": "0",
            "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0",
            "UBSAN_OPTIONS": "print_stacktrace=1",
        })
        env.update(self.server_env)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def cli(self, *args, check=True, log_stdout=True, **env_extra):
        """Run `oscred ARGS...`; stderr (and stdout unless log_stdout=False) is appended to cli.log."""
        r = subprocess.run([self.binary] + list(args), env=self.env(**env_extra), capture_output=True,
                           text=True, timeout=180, stdin=subprocess.DEVNULL)
        with open(self.cli_log, "a", encoding="utf-8") as f:
            f.write("$ oscred %s -> exit %d\n" % (" ".join(args), r.returncode))
            if log_stdout:
                f.write(r.stdout)
            f.write(r.stderr)
        if check and r.returncode != 0:
            raise RuntimeError("oscred %s failed (%d):\n%s%s" % (" ".join(args), r.returncode,
                                                                r.stdout if log_stdout else "", r.stderr))
        return r

    def bootstrap(self, tenant, check=True):
        t = self.tenants[tenant]
        return self.cli("bootstrap", check=check, OSCRED_BOOTSTRAP_DOMAIN=t["domain"],
                        OSCRED_BOOTSTRAP_USER=t["user"], OSCRED_BOOTSTRAP_PASSWORD=t["password"])

    # -- life cycle ------------------------------------------------------------------------------------------

    def setup(self):
        self.pg.start()
        r = self.cli("keygen", log_stdout=False)  # the ring is key material: it goes only into keys.json
        with open(self.keys_file, "w", encoding="utf-8") as f:
            f.write(r.stdout)
        os.chmod(self.keys_file, 0o600)
        self.cli("migrate")
        self.bootstrap("default")
        self.bootstrap("other")
        return self

    def new_server(self, name, start=True, **env_extra):
        srv = Server(self.binary, self.env(**env_extra), self.workdir, "%s-%s" % (self.name, name))
        self.servers.append(srv)
        if start:
            srv.start()
        return srv

    def cli_problems(self):
        return ["%s cli: %s" % (self.name, line) for line in sanitizer_findings(_read(self.cli_log))]

    def log_text(self):
        """Every line any oscred process of this stack wrote (servers and CLI)."""
        return "\n".join([_read(self.cli_log)] + [s.log for s in self.servers])

    def teardown(self):
        """Stop servers (SIGTERM) and PostgreSQL; return the list of problems found in the logs."""
        problems = []
        for srv in self.servers:
            if srv.running:
                srv.stop(signal.SIGTERM)
            problems += srv.problems()
        problems += self.cli_problems()
        self.pg.stop()
        self._keep_logs()
        if not os.environ.get("OSCRED_TEST_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)
        return problems

    def _keep_logs(self):
        build = os.environ.get("OSCRED_BUILD_ROOT")
        if not build:
            return
        dest = os.path.join(build, "meson-logs", "integration", self.name)
        try:
            os.makedirs(dest, exist_ok=True)
            for path in glob.glob(os.path.join(self.workdir, "*.log")) + [os.path.join(self.pg.dir, "postgres.log")]:
                if os.path.exists(path):
                    shutil.copy(path, dest)
        except OSError:
            pass
