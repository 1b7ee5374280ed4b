"""/metrics in Prometheus text format (issue item 2; notes/ecosystem.md §2).

One dedicated server (log level info, a pool of 4) on the shared database, so the counts are this module's own.
Traffic uses real access keys and ids, so the label scan proves that none leaks into a label value.
"""
import re
import shutil
import subprocess

import pytest
import requests
import yaml

import client
import harness
import opsutil

POOL = 4


@pytest.fixture(scope="module")
def msrv(stack):
    srv = stack.new_server("metrics", OSCRED_LOG_LEVEL="info", OSCRED_DATABASE_POOL_SIZE=str(POOL))
    yield srv
    srv.stop()  # the session teardown reports an unclean exit or sanitizer findings


@pytest.fixture(scope="module")
def traffic(msrv, stack):
    """Successes, 401s, 404s, a 405, signed requests (good and bad) through both signature schemes."""
    base = msrv.base_url
    t = stack.tenants["default"]
    admin = client.Actor.login(base, t["user"], t["password"], t["domain"])
    name, pw = client.unique_name("metrics"), client.new_password()
    r = client.create_user(base, admin.token, name, pw)
    assert r.status_code == 201, r.text
    user = r.json()["user"]
    utoken = client.login(base, name, pw, t["domain"])
    keys = [client.new_key(base, utoken, user["id"], description="metrics %d" % i) for i in range(2)]
    ak, sk = keys[0]["access"], keys[0]["secret"]
    assert client.show_credential(base, utoken, ak).status_code == 200
    assert client.list_credentials(base, utoken).status_code == 200
    assert client.get_user(base, admin.token, user["id"]).status_code == 200
    assert client.update_credential(base, utoken, keys[1]["access"], status="inactive").status_code == 200
    assert client.show_credential(base, utoken, "NOSUCHKEY00000000000").status_code == 404
    assert client.show_credential(base, "not-a-token", ak).status_code == 401
    assert client.show_credential(base, None, ak).status_code == 401
    assert client.request("DELETE", base, client.CREDS, token=utoken).status_code == 405
    assert client.get(base, "/v3.0/OS-CREDENTIAL/nothing/" + ak, token=utoken).status_code == 404
    assert opsutil.sdk_show(base, ak, sk).status_code == 200
    assert opsutil.sdk_show(base, ak, sk, tamper=True).status_code == 401
    assert opsutil.sigv4_request(base, ak, sk, "ListAccessKeys").status_code == 200
    bad = opsutil.sigv4_request(base, ak, sk, "ListAccessKeys", secret_for_signing="x" * 40)
    assert bad.status_code == 403, bad.text
    r = client.issue_token(base, client.password_auth("wrong-" + pw, name=name, domain_name=t["domain"]))
    assert r.status_code == 401
    for _ in range(3):
        assert client.get(base, "/healthz").status_code == 200
        assert client.get(base, "/readyz").status_code == 200
    return {"base": base, "admin": admin, "user": user, "token": utoken, "keys": keys, "password": pw}


def _scrape(base):
    r = opsutil.scrape(base)
    types, samples = opsutil.parse_metrics(r.text)
    return r, types, samples


def _templates(stack):
    with open(harness.source_root() + "/openapi/oscred.yaml", encoding="utf-8") as f:
        paths = set(yaml.safe_load(f)["paths"])
    return paths | {"/", "/healthz", "/readyz", "/metrics"}


def _as_template(route):
    """`:name` placeholders written as OpenAPI's `{name}` (the label may use either spelling)."""
    return re.sub(r":([A-Za-z_]+)", r"{\1}", route)


def test_metrics_is_prometheus_text_with_the_documented_families(traffic):
    r, types, samples = _scrape(traffic["base"])
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
    assert types.get("http_requests_total") == "counter", types
    assert types.get("http_request_duration_seconds") == "histogram", types
    assert types.get("oscred_auth_failures_total") == "counter", types
    assert types.get("oscred_db_connections") == "gauge", types
    assert types.get("oscred_db_pool_waiting") == "gauge", types
    assert types.get("oscred_db_statements_cancelled_total") == "counter", types
    assert types.get("oscred_build_info") == "gauge", types
    (build,) = opsutil.series(samples, "oscred_build_info")
    assert build[1] == 1 and build[0].get("version"), build
    for labels, _ in opsutil.series(samples, "http_requests_total"):
        assert set(labels) == {"surface", "route", "method", "code"}, labels
        assert re.fullmatch(r"[1-5]\d\d", labels["code"]), labels


def test_promtool_check_metrics_accepts_the_exposition(traffic):
    promtool = shutil.which("promtool")
    assert promtool, "promtool not installed: Debian package prometheus (scripts/deps installs it)"
    text = opsutil.scrape(traffic["base"]).text
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "promtool check metrics failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr)


def test_route_labels_are_templates_and_no_label_carries_an_id_or_key(traffic, stack):
    text = opsutil.scrape(traffic["base"]).text
    _, samples = opsutil.parse_metrics(text)
    known = _templates(stack)
    routes = {lab["route"] for lab, _ in opsutil.series(samples, "http_requests_total")}
    assert "/v3.0/OS-CREDENTIAL/credentials/{access_key}" in {_as_template(x) for x in routes}, routes
    for route in routes:
        assert _as_template(route) in known or route == "unmatched", "route label is not a template: %r" % route
    values = {v for _, lab, _ in samples for v in lab.values()}
    ids = [k["access"] for k in traffic["keys"]] + [traffic["user"]["id"], traffic["admin"].id,
                                                   traffic["admin"].domain_id, traffic["user"]["name"]]
    leaked = [i for i in ids if i in text]
    assert not leaked, "ids or access keys in /metrics: %s" % leaked
    assert not [v for v in values if re.search(r"[A-Z0-9]{20}|[0-9a-f]{32}", v)], values


def test_request_counter_increases_by_the_requests_made(traffic):
    base, token, ak = traffic["base"], traffic["token"], traffic["keys"][0]["access"]
    labels = dict(surface="iam", method="GET", code="200")

    def shows(samples):
        return sum(v for lab, v in opsutil.series(samples, "http_requests_total", **labels)
                   if _as_template(lab["route"]) == client.CREDS + "/{access_key}")

    before = shows(_scrape(base)[2])
    for _ in range(3):
        assert client.show_credential(base, token, ak).status_code == 200
    after = harness.wait_until(lambda: (lambda v: v if v >= before + 3 else None)(shows(_scrape(base)[2])),
                               timeout=5, what="the show counter to count 3 more requests")
    assert after == before + 3, (before, after)


def test_duration_histogram_is_cumulative_and_matches_the_counter(traffic):
    _, _, samples = _scrape(traffic["base"])
    buckets = {}
    for name, lab, v in samples:
        if name == "http_request_duration_seconds_bucket":
            key = tuple(sorted((k, x) for k, x in lab.items() if k != "le"))
            buckets.setdefault(key, []).append((float(lab["le"].replace("+Inf", "inf")), v))
    assert buckets, "no http_request_duration_seconds_bucket samples"
    counts = {tuple(sorted(lab.items())): v for n, lab, v in samples if n == "http_request_duration_seconds_count"}
    sums = {tuple(sorted(lab.items())): v for n, lab, v in samples if n == "http_request_duration_seconds_sum"}
    requests_total = {tuple(sorted(lab.items())): v for n, lab, v in samples if n == "http_requests_total"}
    for key, bs in buckets.items():
        les = [le for le, _ in bs]
        assert les == sorted(les) and les[-1] == float("inf"), (key, les)
        vals = [v for _, v in bs]
        assert all(a <= b for a, b in zip(vals, vals[1:])), "buckets not cumulative for %s: %s" % (key, bs)
        assert vals[-1] == counts[key], (key, vals[-1], counts.get(key))
        assert sums[key] >= 0, key
        assert key in requests_total, "histogram series without a request counter: %s" % (key,)
    # Every counted request has its duration observed (the scrape itself is counted after it renders, so
    # /metrics may differ by the scrape in progress).
    for key, n in requests_total.items():
        if dict(key)["route"] != "/metrics":
            assert counts.get(key) == n, (key, n, counts.get(key))


def _failures(base):
    _, _, samples = _scrape(base)
    return {lab["reason"]: v for lab, v in opsutil.series(samples, "oscred_auth_failures_total")}


def _one_more_failure(base, do):
    """Run a refused request and return the reason whose counter went up by exactly one."""
    before = _failures(base)
    r = do()
    assert r.status_code in (401, 403), r.text
    after = _failures(base)
    grown = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert len(grown) == 1 and list(grown.values()) == [1], (
        "%s %s -> %d (%s): oscred_auth_failures_total moved by %s (before %s)"
        % (r.request.method, r.request.path_url, r.status_code, r.headers.get("X-Request-Id"), grown, before))
    (reason,) = grown
    assert reason.strip(), "empty reason label"
    return reason


def test_auth_failures_are_counted_by_reason(traffic):
    base, ak, sk = traffic["base"], traffic["keys"][0]["access"], traffic["keys"][0]["secret"]
    reasons = {
        "bad token": _one_more_failure(base, lambda: client.show_credential(base, "not-a-token", ak)),
        "no token": _one_more_failure(base, lambda: client.show_credential(base, None, ak)),
        "bad SDK-HMAC signature": _one_more_failure(base, lambda: opsutil.sdk_show(base, ak, sk, tamper=True)),
        "bad SigV4 signature": _one_more_failure(
            base, lambda: opsutil.sigv4_request(base, ak, sk, "ListAccessKeys", secret_for_signing="y" * 40)),
    }
    # A reason says what failed: the token failures and the two signature schemes are told apart.
    assert reasons["bad token"] != reasons["no token"], reasons
    assert reasons["bad SDK-HMAC signature"] not in (reasons["bad token"], reasons["no token"]), reasons
    assert reasons["bad SigV4 signature"] != reasons["bad SDK-HMAC signature"], reasons


def test_wrong_password_login_is_counted_as_an_auth_failure(traffic, stack):
    base, user = traffic["base"], traffic["user"]
    body = client.password_auth("wrong-" + traffic["password"], name=user["name"],
                                domain_name=stack.tenants["default"]["domain"])
    _one_more_failure(base, lambda: client.issue_token(base, body))


def test_db_connection_gauge_covers_the_pool(traffic):
    _, _, samples = _scrape(traffic["base"])
    states = {lab["state"]: v for lab, v in opsutil.series(samples, "oscred_db_connections")}
    assert {"in_use", "idle"} <= set(states), states
    assert all(v >= 0 for v in states.values()), states
    assert states["in_use"] + states["idle"] <= POOL, states
    assert states["idle"] >= 1, states


def test_probes_are_not_logged_at_info(traffic, msrv):
    base, token = traffic["base"], traffic["token"]
    for _ in range(3):
        assert client.get(base, "/healthz").status_code == 200
        assert client.get(base, "/readyz").status_code == 200
    marker = client.show_credential(base, token, traffic["keys"][0]["access"]).headers["X-Request-Id"]
    opsutil.wait_for_log(msrv, lambda rec: rec.get("request_id") == marker, timeout=5,
                         what="the access line of the marker request")
    records, bad = opsutil.log_records(msrv)
    assert not bad, "non-JSON lines on stdout: %s" % bad[:3]
    probes = [rec for rec in records if rec.get("event") == "request"
              and str(rec.get("route", "")).rstrip("/") in ("/healthz", "/readyz")]
    assert not probes, "probe requests logged at level info: %s" % probes[:2]
    assert any(rec.get("event") == "request" for rec in records), "no access lines at all at level info"


def test_made_up_methods_share_one_label_and_cannot_fill_the_table(server_factory):
    """Clients choose the method: 600 made-up verbs (more than the table's 512 series) are counted under
    method="OTHER", and a route answered afterwards still gets its series."""
    srv = server_factory("metrics-verbs")
    base = srv.base_url
    with requests.Session() as s:
        for i in range(600):
            r = s.request("Q%05d" % i, base + "/v3/nowhere", timeout=10)
            assert r.status_code in (404, 405), (i, r.status_code, r.text)
    assert client.get(base, "/v3").status_code == 200
    _, _, samples = _scrape(base)
    methods = {labels["method"] for name, labels, _ in samples if name == "http_requests_total"}
    assert methods <= {"GET", "OTHER"}, methods
    assert opsutil.total(samples, "http_requests_total", method="OTHER") == 600
    assert opsutil.total(samples, "http_requests_total", method="GET", code="200") >= 1


def test_unmatched_requests_are_counted_under_their_own_surface(server_factory):
    """The same route label, method and code on two surfaces are two series, whichever came first."""
    srv = server_factory("metrics-surfaces")
    base = srv.base_url
    for path, n in (("/v3.0/nowhere", 2), ("/nowhere", 3), ("/v3.0/nowhere", 1)):
        for _ in range(n):
            assert requests.patch(base + path, timeout=10).status_code == 404
    _, _, samples = _scrape(base)
    got = {lab["surface"]: v for lab, v in opsutil.series(samples, "http_requests_total", route="unmatched",
                                                          method="PATCH", code="404")}
    assert got == {"iam": 3, "keystone": 3}, got
