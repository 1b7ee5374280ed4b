"""SDK-HMAC-SHA256 signatures on /v3/auth/tokens (huawei-keystone.md §3.2–3.3, §4.2 keystoneValidateToken, §4.4;
DESIGN.md "One auth middleware serves every /v3* route: X-Auth-Token or an SDK-HMAC-SHA256 signature").

The middleware (src/http/router.c) authenticates GET, HEAD and DELETE /v3/auth/tokens; POST issues tokens from a
password only. A signed request acts as the key's owner, with the owner's roles. Every signature failure is 401
with the message of APIGW.0301 ("Incorrect IAM authentication information: verify aksk signature fail."); on this
/v3 route the body is Keystone's {"error": {...}} with WWW-Authenticate, as openapi/oscred.yaml (sdkHmacSha256,
KeystoneUnauthorized) fixes it — the IAM-style {"error_code": "APIGW.0301", ...} body is the /v3.0 one.
"""
import datetime
import hashlib
import hmac
import urllib.parse

import pytest
import requests

import client
import sa_client as sc
from realclients import Key, NodePlan, describe_steps, new_principal, wrong_secret

BAD_AKSK = "Incorrect IAM authentication information: verify aksk signature fail."
REFUSED = {"error": {"code": 401, "title": "Unauthorized", "message": BAD_AKSK}}
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _enc(s):
    return urllib.parse.quote(s, safe="-_.~")


def signed(method, base, path, key, subject=None, params=None, headers=None, date=None, unsigned=(),
           after=None, body=b""):
    """A request signed as huawei-keystone.md §4.4 says. Every header sent is signed except those named in
    `unsigned`; `after(headers)` may change the headers once the signature is made."""
    netloc = urllib.parse.urlsplit(base).netloc
    date = date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    hdrs = {"Content-Type": "application/json", "Host": netloc, "X-Sdk-Date": date}
    if subject is not None:
        hdrs["X-Subject-Token"] = subject
    hdrs.update(headers or {})
    lower = {k.lower(): v for k, v in hdrs.items() if k.lower() not in unsigned}
    names = sorted(lower)
    curi = "/".join(_enc(s) for s in path.split("/"))
    if not curi.endswith("/"):
        curi += "/"
    cquery = "&".join("%s=%s" % (_enc(k), _enc(v)) for k, v in sorted((params or {}).items()))
    creq = "\n".join([method, curi, cquery, "".join("%s:%s\n" % (n, lower[n]) for n in names), ";".join(names),
                      hashlib.sha256(body).hexdigest()])
    sts = "SDK-HMAC-SHA256\n%s\n%s" % (date, hashlib.sha256(creq.encode()).hexdigest())
    sig = hmac.new(key.secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
    hdrs["Authorization"] = "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s" % (
        key.access, ";".join(names), sig)
    if after is not None:
        after(hdrs)
    url = base + path
    if params:
        url += "?" + urllib.parse.urlencode(sorted(params.items()), quote_via=urllib.parse.quote)
    r = requests.request(method, url, headers=hdrs, data=body or None, timeout=30, allow_redirects=False)
    client.check_response(method, path, r)
    return r


def assert_refused(r, method="GET"):
    assert r.status_code == 401, "%d %s" % (r.status_code, r.text)
    assert r.headers.get("WWW-Authenticate", "").startswith("Keystone uri="), r.headers
    assert "X-Subject-Token" not in r.headers, r.headers
    if method == "HEAD":
        assert not r.content
    else:
        assert r.json() == REFUSED, r.text


@pytest.fixture(scope="module")
def ctx(base, admin, other_admin):
    """A plain user with a key and a token, a second user's token, a security_admin user with a key, service
    accounts with and without security_admin, and a token of the other domain."""
    me = new_principal(base, admin, prefix="hmtok")
    peer = new_principal(base, admin, prefix="hmtok-peer")
    secadm = new_principal(base, admin, roles=("security_admin",), prefix="hmtok-sec")
    sa_plain = sc.new_sa(base, admin, prefix="hmtok-sa")
    sa_sec = sc.new_sa(base, admin, roles=("security_admin",), prefix="hmtok-sasec")
    alien = new_principal(base, other_admin, prefix="hmtok-alien")
    c = client.new_key(base, admin.token, me.id)
    assert client.update_credential(base, admin.token, c["access"], status="inactive").status_code == 200
    return {
        "me": me, "peer": peer, "secadm": secadm, "alien": alien, "inactive": Key(c["access"], c["secret"]),
        "sa_plain": sc.sa_key(base, admin.token, sa_plain), "sa_sec": sc.sa_key(base, admin.token, sa_sec),
    }


# -- signed correctly -----------------------------------------------------------------------------------------

def test_signed_get_validates_the_owners_token(base, ctx):
    me = ctx["me"]
    r = signed("GET", base, client.TOKENS, me.key, subject=me.actor.token)
    assert r.status_code == 200, r.text
    assert r.headers["X-Subject-Token"] == me.actor.token
    tok = r.json()["token"]
    assert tok["user"]["id"] == me.id and tok["user"]["domain"]["id"] == me.domain_id, tok
    assert tok["domain"]["id"] == me.domain_id and "catalog" in tok, tok
    # The same body an X-Auth-Token caller gets.
    assert client.validate_token(base, me.actor.token, me.actor.token).json() == r.json()

    r = signed("GET", base, client.TOKENS, me.key, subject=me.actor.token, params={"nocatalog": "1"})
    assert r.status_code == 200, r.text
    assert "catalog" not in r.json()["token"], r.text
    r = signed("GET", base, client.TOKENS, me.key, subject=me.actor.token, headers={"X-Domain-Id": me.domain_id})
    assert r.status_code == 200, r.text


def test_signed_head_checks_a_token(base, ctx):
    me = ctx["me"]
    r = signed("HEAD", base, client.TOKENS, me.key, subject=me.actor.token)
    assert r.status_code == 200 and not r.content, (r.status_code, r.content)
    assert r.headers["X-Subject-Token"] == me.actor.token


def test_a_signed_caller_has_its_owners_rights(base, ctx):
    """Another user's token: 403 for a plain user's or service account's key, 200 with security_admin
    (user or service account); another domain's token is 404; an invalid subject 404; none at all 400."""
    peer_token = ctx["peer"].actor.token
    for key in (ctx["me"].key, ctx["sa_plain"]):
        client.assert_keystone_error(signed("GET", base, client.TOKENS, key, subject=peer_token), 403)
        client.assert_keystone_error(signed("DELETE", base, client.TOKENS, key, subject=peer_token), 403)
    assert client.token_works(base, peer_token)
    for key in (ctx["secadm"].key, ctx["sa_sec"]):
        r = signed("GET", base, client.TOKENS, key, subject=peer_token)
        assert r.status_code == 200, r.text
        assert r.json()["token"]["user"]["id"] == ctx["peer"].id
        client.assert_keystone_error(signed("GET", base, client.TOKENS, key, subject=ctx["alien"].actor.token), 404)
    client.assert_keystone_error(signed("GET", base, client.TOKENS, ctx["me"].key, subject="o1.not-a-token"), 404)
    client.assert_keystone_error(signed("GET", base, client.TOKENS, ctx["me"].key), 400)


def test_signed_delete_revokes(base, admin, ctx):
    u = new_principal(base, admin, prefix="hmtok-rev")
    assert client.token_works(base, u.actor.token)
    r = signed("DELETE", base, client.TOKENS, u.key, subject=u.actor.token)
    assert r.status_code == 204 and not r.content, (r.status_code, r.text)
    assert not client.token_works(base, u.actor.token)
    client.assert_keystone_error(signed("GET", base, client.TOKENS, u.key, subject=u.actor.token), 404)
    # The key is not the token: it still signs.
    assert sc.hmac_works(base, u.key)

    # A service account with security_admin revokes a user's token.
    victim = new_principal(base, admin, prefix="hmtok-rev2")
    r = signed("DELETE", base, client.TOKENS, ctx["sa_sec"], subject=victim.actor.token)
    assert r.status_code == 204, r.text
    assert not client.token_works(base, victim.actor.token)


def test_post_is_password_only(base, ctx):
    """A signature is no identity method: a signed POST without a password body gets 400 and no token."""
    r = signed("POST", base, client.TOKENS, ctx["me"].key, body=b"{}")
    client.assert_keystone_error(r, 400)
    assert "X-Subject-Token" not in r.headers


# -- signed wrongly: 401, the same body every time, and no effect -----------------------------------------------

def _stale(minutes):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return t.strftime("%Y%m%dT%H%M%SZ")


def _bad_signature(h):
    sig = h["Authorization"][-64:]
    h["Authorization"] = h["Authorization"][:-64] + ("0" if sig[0] != "0" else "1") + sig[1:]


def _failures(other_admin, ctx):
    me, peer = ctx["me"], ctx["peer"]
    return {
        "signature altered": dict(key=me.key, after=_bad_signature),
        "wrong secret": dict(key=me.key.with_secret(wrong_secret(me.key.secret))),
        "unknown access key": dict(key=Key("UNKNOWN0AK0000000000", me.key.secret)),
        "inactive key": dict(key=ctx["inactive"]),
        "X-Sdk-Date 20 minutes old": dict(key=me.key, date=_stale(-20)),
        "X-Sdk-Date 20 minutes ahead": dict(key=me.key, date=_stale(20)),
        "X-Domain-Id of another domain": dict(key=me.key, headers={"X-Domain-Id": other_admin.domain_id}),
        "X-Subject-Token swapped after signing": dict(
            key=me.key, after=lambda h: h.update({"X-Subject-Token": peer.actor.token})),
        "x-sdk-date not signed": dict(key=me.key, unsigned=("x-sdk-date",)),
        "host not signed": dict(key=me.key, unsigned=("host",)),
    }


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
def test_every_signature_failure_is_the_same_401(base, other_admin, ctx, method):
    me = ctx["me"]
    for what, kw in _failures(other_admin, ctx).items():
        r = signed(method, base, client.TOKENS, subject=me.actor.token, **kw)
        try:
            assert_refused(r, method)
        except AssertionError as e:
            raise AssertionError("%s %s: %s" % (method, what, e)) from None
    # Nothing was revoked by the refused DELETEs; the same request signed correctly works.
    assert client.token_works(base, me.actor.token)
    r = signed("GET", base, client.TOKENS, me.key, subject=me.actor.token)
    assert r.status_code == 200, r.text


# -- the official Huawei SDK ---------------------------------------------------------------------------------------

def test_huawei_sdk_keystone_validate_token(base, ctx, js_clients, client_home):
    me = ctx["me"]
    runner = NodePlan(js_clients, "huawei_sdk.cjs", client_home)

    def run(key, steps, domain_id=None):
        cred = {"ak": key.access, "sk": key.secret}
        if domain_id:
            cred["domainId"] = domain_id
        plan = {"endpoint": base, "credentials": cred, "steps": steps}
        return plan, runner.run(plan)

    steps = [{"method": "keystoneValidateToken", "input": {"x_subject_token": me.actor.token}},
             {"method": "keystoneValidateToken", "input": {"x_subject_token": me.actor.token, "nocatalog": "1"}},
             {"method": "keystoneValidateToken", "input": {"x_subject_token": ctx["peer"].actor.token}}]
    plan, res = run(me.key, steps, domain_id=me.domain_id)
    where = describe_steps(plan, res)
    assert res[0]["ok"] and res[0]["status"] == 200, where
    assert res[0]["output"]["token"]["user"]["id"] == me.id and "catalog" in res[0]["output"]["token"], where
    assert res[1]["ok"] and "catalog" not in res[1]["output"]["token"], where
    assert not res[2]["ok"] and res[2]["status"] == 403, where

    plan, res = run(me.key.with_secret(wrong_secret(me.key.secret)), steps[:1])
    r = res[0]
    where = describe_steps(plan, res)
    # The SDK reads a Keystone body's error.code and error.message (huawei-keystone.md §4.7).
    assert not r["ok"] and r["name"] == "ClientRequestException" and r["status"] == 401, where
    assert r["errorCode"] == 401 and r["errorMsg"] == BAD_AKSK, where
    assert client.REQUEST_ID_RE.match(r["requestId"] or ""), where
