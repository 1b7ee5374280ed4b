"""Real clients for the integration suite: aws CLI, boto3, @aws-sdk/client-iam and the Huawei Node SDK.

conftest.py imports the fixtures (aws_admin, foreign, client_home, aws_cli, boto, js_clients) so every test module
sees them; test modules import the helpers and the verbatim AWS messages from here.

Real-client tests never skip (DESIGN.md "Tests that prove, not pretend"): a missing client fails the test with
a message that says how to install it (scripts/deps for the Debian packages; `npm ci` in test/integration/js,
which the js_clients fixture runs itself when node_modules is missing or older than package-lock.json).

Nothing here starts at import time, so `pytest --collect-only` needs neither the clients nor a server.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest

import client

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
AWS_CLI = "/usr/bin/aws"  # Debian's awscli 2.9.19; never a pyenv/pip shim that happens to be first on PATH
AWS_NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"

# Wire formats the spec fixes (DESIGN.md decisions; aws-iam.md §1).
# x-amzn-RequestId: aws-iam.md §1 says "<uuid>" (what AWS sends); clients only need it non-empty and equal to the
# body's RequestId. The general checks accept oscred's X-Request-Id form too; test_boto3 pins the bare UUID.
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
AWS_REQUEST_ID_RE = re.compile(r"^(req-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ACCOUNT_RE = r"\d{12}"
ISO_Z_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")

# Verbatim texts (aws-iam.md §3).
MSG_NO_USER = "The user with name %s cannot be found."
MSG_NO_KEY = "The Access Key with id %s cannot be found."
MSG_LIMIT = "Cannot exceed quota for AccessKeysPerUser: 2"
MSG_EXISTS = "User with name %s already exists."
MSG_DELETE_CONFLICT = "Cannot delete entity, must delete access keys first."
MSG_BAD_TOKEN = "The security token included in the request is invalid."
MSG_BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. Check your "
                     "AWS Secret Access Key and signing method. Consult the service documentation for details.")
MSG_BAD_STATUS = ("1 validation error detected: Value 'Bogus' at 'status' failed to satisfy constraint: "
                  "Member must satisfy enum value set: [Active, Inactive]")
MSG_EXPIRED = "Request has expired"


def access_denied_message(caller_arn, action, target_name):
    """aws-iam.md §3 AccessDenied row: `User: {arn} is not authorized to perform: iam:{Op} on resource: user {name}`."""
    return "User: %s is not authorized to perform: iam:%s on resource: user %s" % (caller_arn, action, target_name)


def aws_name(prefix):
    """A fresh principal name that is valid on every surface ([\\w+=,.@-], ≤ 64)."""
    return client.unique_name(prefix)


def wrong_secret(secret):
    """A well-formed secret (40 × [A-Za-z0-9]) that is not `secret`."""
    flipped = "B" if secret[0] == "A" else "A"
    return flipped + secret[1:]


class Key:
    """An oscred access key as the tests hand it to clients."""

    def __init__(self, access, secret, owner_name=None, owner_id=None):
        self.access = access
        self.secret = client.remember_secret(secret)
        self.owner_name = owner_name
        self.owner_id = owner_id

    def with_secret(self, secret):
        k = Key.__new__(Key)  # no remember_secret: a made-up secret is not a secret of the service
        k.access, k.secret, k.owner_name, k.owner_id = self.access, secret, self.owner_name, self.owner_id
        return k

    def __repr__(self):
        return "Key(%s of %s)" % (self.access, self.owner_name)


class Principal:
    """A user the tests act as: its Actor (token, ids) and one key of its own made through REST."""

    def __init__(self, actor, key):
        self.actor = actor
        self.key = key

    @property
    def name(self):
        return self.actor.name

    @property
    def id(self):
        return self.actor.id

    @property
    def domain_id(self):
        return self.actor.domain_id


def rest_key(base, token, user_id, owner_name=None, description=None):
    """A new key for user_id through POST /v3.0/OS-CREDENTIAL/credentials (201 required)."""
    c = client.new_key(base, token, user_id, description)
    return Key(c["access"], c["secret"], owner_name, user_id)


def new_user(base, admin_actor, roles=(), prefix="u"):
    """A fresh user of admin_actor's domain with a password and a domain-scoped token (through REST)."""
    name = aws_name(prefix)
    pw = client.new_password()
    r = client.create_user(base, admin_actor.token, name, pw)
    assert r.status_code == 201, r.text
    uid = r.json()["user"]["id"]
    for role in roles:
        g = client.grant_role(base, admin_actor.token, admin_actor.domain_id, uid, role)
        assert g.status_code == 204, g.text
    return client.Actor.login(base, name, pw, admin_actor.domain_name)


def new_principal(base, admin_actor, roles=(), prefix="u"):
    """new_user + its first key, created by the user's own token for its own user id."""
    actor = new_user(base, admin_actor, roles, prefix)
    return Principal(actor, rest_key(base, actor.token, actor.id, actor.name))


def user_id_of(base, admin_actor, name):
    r = client.list_users(base, admin_actor.token, name=name)
    assert r.status_code == 200, r.text
    users = [u for u in r.json()["users"] if u["name"].lower() == name.lower()]
    assert len(users) == 1, r.text
    return users[0]["id"]


def poll(predicate, timeout, what, interval=0.2):
    """Poll predicate() until truthy (returned) or the deadline; AssertionError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except AssertionError as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)


# -- session fixtures ------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def aws_admin(base, admin):
    """An administrator of domain "default" (roles admin + security_admin) and its first key, obtained through
    the REST API (its domain-scoped token → POST /v3.0/OS-CREDENTIAL/credentials for its own user id).

    A dedicated admin rather than the bootstrap "admin": its two key slots belong to this module alone."""
    return new_principal(base, admin, roles=("admin", "security_admin"), prefix="iamadm")


@pytest.fixture(scope="session")
def foreign(base, other_admin):
    """A plain user of domain "other" with one key, and the other domain's admin with one key."""
    user = new_principal(base, other_admin, prefix="alien")
    adm = new_principal(base, other_admin, roles=("admin", "security_admin"), prefix="alienadm")
    return {"user": user, "admin": adm}


@pytest.fixture(scope="session")
def client_home():
    """A private HOME for client processes (the Huawei SDK writes ~/.huaweicloud/application_id, the CLI
    looks for ~/.aws)."""
    d = tempfile.mkdtemp(prefix="oscred-clients-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


# -- aws CLI ---------------------------------------------------------------------------------------------------

class CliResult:
    def __init__(self, proc, argv):
        self.argv = argv
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def json(self):
        assert self.rc == 0, self.describe()
        return json.loads(self.stdout) if self.stdout.strip() else None

    def describe(self):
        return "aws %s -> exit %d\nstdout: %s\nstderr: %s" % (" ".join(self.argv), self.rc, self.stdout, self.stderr)

    def ok(self):
        assert self.rc == 0, self.describe()
        return self.json

    def error_line(self):
        lines = [ln for ln in self.stderr.splitlines() if ln.startswith("An error occurred")]
        return lines[0] if lines else None

    def fails_with(self, code, operation, message):
        """The CLI's rendering of an AWS error (aws-iam.md §3): exit 254 and exactly this stderr line."""
        assert self.rc == 254, self.describe()
        want = "An error occurred (%s) when calling the %s operation: %s" % (code, operation, message)
        assert self.error_line() == want, "want: %s\n%s" % (want, self.describe())
        return self


class AwsCli:
    """Runs /usr/bin/aws iam ... against one oscred endpoint, with nothing of this machine's configuration."""

    def __init__(self, base, home):
        if not os.access(AWS_CLI, os.X_OK):
            pytest.fail("%s not found: the aws CLI (Debian package awscli 2.9.19) is required; install it with "
                        "scripts/deps (as root)" % AWS_CLI, pytrace=False)
        self.base = base
        self.home = home
        self.config = os.path.join(home, "aws-config")
        self.credentials = os.path.join(home, "aws-credentials")
        for path in (self.config, self.credentials):
            open(path, "w").close()

    def env(self, key, region):
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": self.home,
            "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": key.access,
            "AWS_SECRET_ACCESS_KEY": key.secret,
            "AWS_DEFAULT_REGION": region,
            "AWS_CONFIG_FILE": self.config,
            "AWS_SHARED_CREDENTIALS_FILE": self.credentials,
            "AWS_PAGER": "",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def __call__(self, key, *args, region="us-east-1", timeout=120):
        argv = ["iam"] + list(args) + ["--endpoint-url", self.base, "--output", "json"]
        proc = subprocess.run([AWS_CLI] + argv, env=self.env(key, region), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        return CliResult(proc, argv)


    def many(self, *calls):
        """Run independent commands concurrently (the CLI spends ~0.5 s starting): calls are
        (key, arg, arg, ...) tuples, optionally ending in a dict of keyword arguments; results in order."""
        def one(call):
            kw = call[-1] if isinstance(call[-1], dict) else {}
            args = call[1:-1] if kw else call[1:]
            return self(call[0], *args, **kw)

        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(one, calls))


@pytest.fixture(scope="session")
def aws_cli(base, client_home):
    return AwsCli(base, client_home)


# -- boto3 -----------------------------------------------------------------------------------------------------

def _boto3():
    try:
        import boto3  # noqa: PLC0415 - imported late so that collection never needs it
        import botocore  # noqa: PLC0415
    except ImportError as e:
        pytest.fail("boto3 is not importable by %s (%s): install the Debian package python3-boto3 "
                    "(1.26.27) with scripts/deps" % (sys.executable, e), pytrace=False)
    return boto3, botocore


@pytest.fixture(scope="session")
def boto(base, client_home):
    """boto(key, region="us-east-1") -> an IAM client for base, using nothing but the given key (no ~/.aws)."""
    boto3, botocore = _boto3()
    import botocore.session  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    empty = os.path.join(client_home, "boto-empty-config")
    open(empty, "w").close()
    cfg = Config(connect_timeout=10, read_timeout=60)

    def make(key, region="us-east-1"):
        core = botocore.session.Session()
        core.set_config_variable("config_file", empty)
        core.set_config_variable("credentials_file", empty)
        session = boto3.session.Session(botocore_session=core)
        return session.client("iam", endpoint_url=base, region_name=region, aws_access_key_id=key.access,
                              aws_secret_access_key=key.secret, config=cfg)

    return make


def parse_xml(text):
    return ET.fromstring(text)


def xml_find(root, path):
    """Find by local names, with or without the IAM namespace: xml_find(root, "Error/Code")."""
    node = root
    for part in path.split("/"):
        nxt = node.find(AWS_NS + part)
        if nxt is None:
            nxt = node.find(part)
        if nxt is None:
            return None
        node = nxt
    return node


def xml_findall(root, path):
    parent, _, leaf = path.rpartition("/")
    node = xml_find(root, parent) if parent else root
    if node is None:
        return []
    return node.findall(AWS_NS + leaf) + node.findall(leaf)


# -- node (shared by the two JS clients) -----------------------------------------------------------------------

_npm_lock = threading.Lock()


def _node():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found on PATH: the Node.js real-client tests need Debian's nodejs (>= 18.19) and "
                    "npm; install them with scripts/deps", pytrace=False)
    return node


def _modules_fresh():
    installed = os.path.join(JS_DIR, "node_modules", ".package-lock.json")
    lock = os.path.join(JS_DIR, "package-lock.json")
    return os.path.exists(installed) and os.path.getmtime(installed) >= os.path.getmtime(lock)


@pytest.fixture(scope="session")
def js_clients():
    """Makes sure test/integration/js/node_modules matches package-lock.json (npm ci when missing or older)."""
    node = _node()
    with _npm_lock:
        if not _modules_fresh():
            npm = shutil.which("npm")
            if npm is None:
                pytest.fail("npm not found on PATH: needed to install test/integration/js (scripts/deps installs "
                            "it)", pytrace=False)
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True,
                               timeout=600, stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                pytest.fail("npm ci in %s failed (exit %d); the real-client tests need the pinned SDKs:\n%s\n%s"
                            % (JS_DIR, r.returncode, r.stdout[-4000:], r.stderr[-4000:]), pytrace=False)
    return node


class NodePlan:
    """Runs one of the js/*.mjs|cjs drivers with a JSON plan and returns its per-step results.

    The driver writes its results as JSON to the file named by plan["out"]; stdout is only kept for diagnostics
    (the Huawei SDK logs every failed response there, spec huawei-keystone.md §4.7)."""

    def __init__(self, node, script, home):
        self.node = node
        self.script = os.path.join(JS_DIR, script)
        self.home = home

    def run(self, plan, timeout=120):
        fd, out = tempfile.mkstemp(prefix="plan-", suffix=".json", dir=self.home)
        os.close(fd)
        os.unlink(out)
        plan = dict(plan, out=out)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.home,
            "LANG": "C.UTF-8",
            "AWS_CONFIG_FILE": os.path.join(self.home, "aws-config-js"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.home, "aws-credentials-js"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        proc = subprocess.run([self.node, self.script], input=json.dumps(plan), env=env, cwd=JS_DIR,
                              capture_output=True, text=True, timeout=timeout)
        try:
            with open(out, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            raise AssertionError("%s wrote no results (%s); exit %d\nstdout: %s\nstderr: %s"
                                 % (self.script, e, proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
        finally:
            if os.path.exists(out):
                os.unlink(out)
        assert "fatal" not in doc, "%s failed: %s\nstdout: %s\nstderr: %s" % (
            self.script, doc.get("fatal"), proc.stdout[-4000:], proc.stderr[-4000:])
        results = doc["results"]
        assert len(results) == len(plan["steps"]), doc
        return results


def describe_steps(plan, results):
    return "\n".join("%d. %s -> %s" % (i, json.dumps(s), json.dumps(r)) for i, (s, r) in
                     enumerate(zip(plan["steps"], results)))
