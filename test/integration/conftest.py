"""Session fixtures: one private PostgreSQL, a key ring, two bootstrapped tenants and a running oscred.

Run through test/integration/run BUILD/oscred (meson does). Collection needs neither the binary nor a database:
everything starts lazily in fixtures.
"""
import os
import signal

import pytest

import client
import harness

# Files that must run after the others: the at-rest scan wants every secret the session produced, the database
# outage test (which has its own PostgreSQL) comes next, and the OpenAPI coverage check after every response.
_RUN_LAST = {"test_secrets_at_rest.py": 1, "test_db_down.py": 2, "test_openapi_coverage.py": 3}


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: _RUN_LAST.get(os.path.basename(str(item.fspath)), 0))


def pytest_report_header(config):
    return "oscred: OSCRED_BIN=%s" % os.environ.get("OSCRED_BIN", "(unset)")


def _fail_on(problems):
    if problems:
        pytest.fail("sanitizer reports or unclean exits:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def stack():
    """The shared database stack (domains "default" and "other"); checks every log at the end of the session."""
    st = harness.Stack("main")
    try:
        st.setup()
    except Exception:
        _fail_on(st.teardown())
        raise
    yield st
    problems = st.teardown()
    # Servers started by other stacks are checked by their own teardown; report any that slipped through.
    for srv in harness.ALL_SERVERS:
        if srv.running:
            srv.stop(signal.SIGTERM)
            problems += srv.problems()
    _fail_on(problems)


@pytest.fixture(autouse=True)
def _servers_stay_up():
    """Fails the test during which any oscred server crashed (with its log tail), and restarts the session's
    servers so that the tests after it still run against a live server."""
    yield
    dead = []
    for srv in list(harness.ALL_SERVERS):
        if srv.died():
            dead.append("server %s died with exit %r during this test; log tail:\n%s"
                        % (srv.name, srv.proc.returncode, srv.log_tail(60)))
            if srv.restart_if_dead:
                srv.start()
    if dead:
        pytest.fail("\n\n".join(dead), pytrace=False)


@pytest.fixture(scope="session")
def server(stack):
    srv = stack.new_server("a")
    srv.restart_if_dead = True
    return srv


@pytest.fixture(scope="session")
def base(server):
    return server.base_url


@pytest.fixture(scope="session")
def second_server(stack, server):
    """A second replica on the same database and key ring (cross-process limit, revocation, agreement)."""
    srv = stack.new_server("b")
    srv.restart_if_dead = True
    return srv


@pytest.fixture
def server_factory(stack):
    """Start extra servers on the shared database: factory(name=None, **env) -> started harness.Server.

    They are stopped with SIGTERM after the test, which fails if they reported sanitizer errors."""
    started = []

    def factory(name=None, **env):
        srv = stack.new_server(name or "extra%d" % len(stack.servers), **env)
        started.append(srv)
        return srv

    yield factory
    problems = []
    for srv in started:
        if srv.running:
            srv.stop(signal.SIGTERM)
        problems += srv.problems()
    _fail_on(problems)


@pytest.fixture(scope="session")
def admin(stack, base):
    """The bootstrap admin of domain "default" (roles admin + security_admin), with a domain-scoped token."""
    t = stack.tenants["default"]
    return client.Actor.login(base, t["user"], t["password"], t["domain"])


@pytest.fixture(scope="session")
def other_admin(stack, base):
    """The bootstrap admin of domain "other"."""
    t = stack.tenants["other"]
    return client.Actor.login(base, t["user"], t["password"], t["domain"])


@pytest.fixture
def make_user(base, admin):
    """make_user(roles=(), password=True, prefix="u") -> Actor: a fresh user of domain "default", logged in
    with a domain-scoped token (unless password=False)."""

    def make(roles=(), password=True, prefix="u"):
        name = client.unique_name(prefix)
        pw = client.new_password() if password else None
        r = client.create_user(base, admin.token, name, pw)
        assert r.status_code == 201, r.text
        uid = r.json()["user"]["id"]
        for role in roles:
            g = client.grant_role(base, admin.token, admin.domain_id, uid, role)
            assert g.status_code == 204, g.text
        if pw is None:
            return client.Actor(name, None, admin.domain_name, id=uid, domain_id=admin.domain_id)
        return client.Actor.login(base, name, pw, admin.domain_name)

    return make


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Report the OpenAPI operations no response in this run was checked against (informational)."""
    if config.option.collectonly:
        return
    try:
        missing = client.openapi_uncovered()
    except Exception as e:  # noqa: BLE001 - a broken spec shows up in the tests themselves
        terminalreporter.write_line("oscred: OpenAPI coverage unavailable: %r" % (e,))
        return
    if missing:
        terminalreporter.write_line("oscred: OpenAPI operations not exercised: " + ", ".join(missing))


# Real-client fixtures (aws CLI, boto3, @aws-sdk/client-iam, the Huawei Node SDK): see realclients.py.
from realclients import aws_admin, aws_cli, boto, client_home, foreign, js_clients  # noqa: E402,F401
