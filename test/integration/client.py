"""HTTP helpers for the oscred integration suite.

Every request the tests make goes through request(), which checks the response in one place:
  * X-Request-Id is present and well formed on every API response;
  * openapi_check.check_response(method, path_template, status, body_or_None, headers) validates it against
    openapi/oscred.yaml.
The helpers return the requests.Response; assertions about the outcome stay in the tests.
"""
import base64
import http
import os
import re
import threading

import requests

# Every response is checked against openapi/oscred.yaml; without python3-yaml and python3-jsonschema the suite
# does not start (scripts/deps installs them), rather than run with the check silently off.
import openapi_check as _openapi_check

CREDS = "/v3.0/OS-CREDENTIAL/credentials"
TOKENS = "/v3/auth/tokens"

REQUEST_ID_RE = re.compile(r"^req-[0-9a-f-]{36}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
AK_RE = re.compile(r"^[A-Z0-9]{20}$")
SK_RE = re.compile(r"^[A-Za-z0-9]{40}$")
ID_RE = re.compile(r"^[0-9a-f]{32}$")

KEY_LIMIT_BODY = {"error": {"code": 400, "title": "Bad Request", "message": "akSkNumExceed"}}

# Everything secret the suite has sent or received, for the at-rest and log scans (test_secrets_at_rest.py).
_lock = threading.Lock()
SECRETS_SEEN = set()  # secret keys and passwords
TOKENS_SEEN = set()


def remember_secret(value):
    if value:
        with _lock:
            SECRETS_SEEN.add(value)
    return value


def remember_token(value):
    if value:
        with _lock:
            TOKENS_SEEN.add(value)
    return value


def new_password():
    return remember_secret("Pw-" + base64.urlsafe_b64encode(os.urandom(18)).decode().rstrip("="))


_counter = [0]


def unique_name(prefix="u"):
    with _lock:
        _counter[0] += 1
        n = _counter[0]
    return "%s%d-%s" % (prefix, n, os.urandom(3).hex())


def random_id():
    return os.urandom(16).hex()


# -- the one place responses are checked -----------------------------------------------------------------------

_TEMPLATES = [
    (r"/", "/"),
    (r"/v3/?", "/v3"),
    (r"/v3/auth/tokens", "/v3/auth/tokens"),
    (r"/v3/users", "/v3/users"),
    (r"/v3/users/[^/]+", "/v3/users/{user_id}"),
    (r"/v3/domains/[^/]+/users/[^/]+/roles", "/v3/domains/{domain_id}/users/{user_id}/roles"),
    (r"/v3/domains/[^/]+/users/[^/]+/roles/[^/]+", "/v3/domains/{domain_id}/users/{user_id}/roles/{role}"),
    (r"/v3\.0/OS-CREDENTIAL/credentials", CREDS),
    (r"/v3\.0/OS-CREDENTIAL/credentials/[^/]+", CREDS + "/{access_key}"),
    (r"/healthz", "/healthz"),
    (r"/readyz", "/readyz"),
    (r"/metrics", "/metrics"),
]
_TEMPLATES = [(re.compile("^" + rx + "$"), t) for rx, t in _TEMPLATES]
_PROBES = ("/healthz", "/readyz", "/metrics")


def _unreserved_decoded(path):
    """The path with percent-encoded unreserved characters decoded, as RFC 3986 §6.2.2.2 makes them equal."""
    def dec(m):
        c = chr(int(m.group(1), 16))
        return c if re.match(r"[A-Za-z0-9._~-]", c) else m.group(0)
    return re.sub(r"%([0-9A-Fa-f]{2})", dec, path)


def path_template(path):
    """The OpenAPI path template a concrete path belongs to; the path itself when no route matches."""
    path = _unreserved_decoded(path.split("?", 1)[0])
    for rx, template in _TEMPLATES:
        if rx.match(path):
            return template
    return path


def body_of(r):
    """Parsed JSON body, None when there is no body, the text when it is not JSON."""
    if not r.content:
        return None
    try:
        return r.json()
    except ValueError:
        return r.text


def check_response(method, path, r):
    if path.split("?", 1)[0] not in _PROBES:
        rid = r.headers.get("X-Request-Id")
        assert rid is not None, "%s %s -> %d has no X-Request-Id" % (method, path, r.status_code)
        assert REQUEST_ID_RE.match(rid), "%s %s: bad X-Request-Id %r" % (method, path, rid)
    _openapi_check.check_response(method, path_template(path), r.status_code, body_of(r), r.headers)


_NOBODY = object()


def request(method, base, path, *, token=None, json=_NOBODY, data=None, headers=None, params=None, timeout=30):
    """Send one request to base+path (path may carry a query) and check the response (see module doc)."""
    hdrs = {}
    if token is not None:
        hdrs["X-Auth-Token"] = token
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    kwargs = {}
    if json is not _NOBODY:
        kwargs["json"] = json
    elif data is not None:
        kwargs["data"] = data
    r = requests.request(method, base + path, headers=hdrs, params=params, timeout=timeout,
                         allow_redirects=False, **kwargs)
    check_response(method, path, r)
    return r


def get(base, path, **kw):
    return request("GET", base, path, **kw)


# -- error assertions -------------------------------------------------------------------------------------------

def assert_keystone_error(r, status):
    """Keystone style: {"error": {"code": status, "title": ..., "message": ...}} (+ WWW-Authenticate on 401)."""
    assert r.status_code == status, "expected %d, got %d: %s" % (status, r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert {"code", "title", "message"} <= set(err), body
    assert err["code"] == status, body
    assert isinstance(err["message"], str) and err["message"], body
    assert isinstance(err["title"], str) and err["title"], body
    if status in (400, 401, 403, 404, 409):
        assert err["title"] == http.HTTPStatus(status).phrase, body
    if status == 401:
        auth = r.headers.get("WWW-Authenticate", "")
        assert auth.startswith("Keystone uri="), "401 without Keystone WWW-Authenticate: %r" % auth
    return err


IAM_CODES = {
    400: ("IAM.0007", "IAM.0011"),
    401: ("IAM.0001",),
    403: ("IAM.0002",),
    404: ("IAM.0004",),
    405: ("IAM.0007",),
    413: ("IAM.0011",),
    500: ("IAM.0006",),
    503: ("IAM.0006",),
}


def assert_iam_error(r, status, codes=None):
    """IAM style: {"error_msg", "error_code", "request_id"}, request_id == X-Request-Id."""
    assert r.status_code == status, "expected %d, got %d: %s" % (status, r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error_msg", "error_code", "request_id"}, body
    assert body["error_code"] in (codes or IAM_CODES[status]), body
    assert isinstance(body["error_msg"], str) and body["error_msg"], body
    assert body["request_id"] == r.headers.get("X-Request-Id"), (body, r.headers.get("X-Request-Id"))
    return body


MSG_BAD_AKSK = "Incorrect IAM authentication information: verify aksk signature fail."


def assert_aksk_refused(r):
    """An SDK-HMAC-signed request refused for its key (unknown, inactive, deleted, owner disabled): 401 APIGW.0301
    with the one message every such refusal has (DESIGN.md)."""
    body = assert_iam_error(r, 401, codes=("APIGW.0301",))
    assert body["error_msg"] == MSG_BAD_AKSK, body
    return body


def assert_key_limit(r):
    assert r.status_code == 400, r.text
    assert r.json() == KEY_LIMIT_BODY


# -- tokens -------------------------------------------------------------------------------------------------------

def password_auth(password, name=None, user_id=None, domain_name=None, domain_id=None, scope=None):
    """An auth body (spec §3.1). scope: None (unscoped) or a dict such as {"domain": {"name": "default"}}."""
    user = {"password": password}
    if name is not None:
        user["name"] = name
    if user_id is not None:
        user["id"] = user_id
    if domain_name is not None or domain_id is not None:
        user["domain"] = {"name": domain_name} if domain_name is not None else {"id": domain_id}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
    if scope is not None:
        body["auth"]["scope"] = scope
    return body


def issue_token(base, body=_NOBODY, data=None, params=None):
    r = request("POST", base, TOKENS, json=body, data=data, params=params)
    if r.status_code == 201:
        remember_token(r.headers.get("X-Subject-Token"))
    return r


def login(base, user, password, domain, scoped=True):
    """Token for user@domain by password (domain-scoped unless scoped=False)."""
    scope = {"domain": {"name": domain}} if scoped else None
    r = issue_token(base, password_auth(password, name=user, domain_name=domain, scope=scope))
    assert r.status_code == 201, "login %s@%s: %d %s" % (user, domain, r.status_code, r.text)
    token = r.headers["X-Subject-Token"]
    assert token
    return token


def validate_token(base, caller, subject, method="GET", params=None):
    return request(method, base, TOKENS, token=caller, headers={"X-Subject-Token": subject}, params=params)


def revoke_token(base, caller, subject):
    return request("DELETE", base, TOKENS, token=caller, headers={"X-Subject-Token": subject})


def token_works(base, token):
    """Whether `token` is accepted as a caller (validating itself)."""
    r = validate_token(base, token, token)
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


# -- users and roles ----------------------------------------------------------------------------------------------

def create_user(base, token, name, password=None, **fields):
    user = {"name": name}
    if password is not None:
        user["password"] = remember_secret(password)
    user.update(fields)
    return request("POST", base, "/v3/users", token=token, json={"user": user})


def list_users(base, token, name=None):
    return request("GET", base, "/v3/users", token=token, params={"name": name} if name is not None else None)


def get_user(base, token, user_id):
    return request("GET", base, "/v3/users/" + user_id, token=token)


def update_user(base, token, user_id, **fields):
    if "password" in fields:
        remember_secret(fields["password"])
    return request("PATCH", base, "/v3/users/" + user_id, token=token, json={"user": fields})


def delete_user(base, token, user_id):
    return request("DELETE", base, "/v3/users/" + user_id, token=token)


def _role_path(domain_id, user_id, role=None):
    p = "/v3/domains/%s/users/%s/roles" % (domain_id, user_id)
    return p + "/" + role if role is not None else p


def grant_role(base, token, domain_id, user_id, role):
    return request("PUT", base, _role_path(domain_id, user_id, role), token=token)


def revoke_role(base, token, domain_id, user_id, role):
    return request("DELETE", base, _role_path(domain_id, user_id, role), token=token)


def check_role(base, token, domain_id, user_id, role, method="HEAD"):
    return request(method, base, _role_path(domain_id, user_id, role), token=token)


def list_roles(base, token, domain_id, user_id):
    return request("GET", base, _role_path(domain_id, user_id), token=token)


def role_names(base, token, domain_id, user_id):
    r = list_roles(base, token, domain_id, user_id)
    assert r.status_code == 200, r.text
    return sorted(x["name"] for x in r.json()["roles"])


def user_snapshot(base, token):
    """The users of the caller's domain as sorted (id, name, enabled) tuples."""
    r = list_users(base, token)
    assert r.status_code == 200, r.text
    return sorted((u["id"], u["name"], u["enabled"]) for u in r.json()["users"])


# -- credentials --------------------------------------------------------------------------------------------------

def create_credential(base, token, user_id, description=None):
    cred = {"user_id": user_id}
    if description is not None:
        cred["description"] = description
    r = request("POST", base, CREDS, token=token, json={"credential": cred})
    if r.status_code == 201:
        remember_secret(r.json()["credential"].get("secret"))
    return r


def new_key(base, token, user_id, description=None):
    r = create_credential(base, token, user_id, description)
    assert r.status_code == 201, r.text
    return r.json()["credential"]


def list_credentials(base, token, user_id=None):
    return request("GET", base, CREDS, token=token, params={"user_id": user_id} if user_id is not None else None)


def show_credential(base, token, access_key):
    return request("GET", base, CREDS + "/" + access_key, token=token)


def update_credential(base, token, access_key, **fields):
    return request("PUT", base, CREDS + "/" + access_key, token=token, json={"credential": fields})


def delete_credential(base, token, access_key):
    return request("DELETE", base, CREDS + "/" + access_key, token=token)


def key_snapshot(base, token, user_id):
    """A user's keys as sorted (access, status, description) tuples, read through an authorised token."""
    r = list_credentials(base, token, user_id)
    assert r.status_code == 200, r.text
    return sorted((c["access"], c["status"], c["description"]) for c in r.json()["credentials"])


def key_state(base, token, access_key):
    r = show_credential(base, token, access_key)
    assert r.status_code == 200, r.text
    return r.json()["credential"]


class Actor:
    """A user the tests act as: name, password, domain, and (after login) a domain-scoped token and ids."""

    def __init__(self, name, password, domain_name, token=None, id=None, domain_id=None):
        self.name = name
        self.password = password
        self.domain_name = domain_name
        self.token = token
        self.id = id
        self.domain_id = domain_id

    @classmethod
    def login(cls, base, name, password, domain_name):
        remember_secret(password)
        r = issue_token(base, password_auth(password, name=name, domain_name=domain_name,
                                            scope={"domain": {"name": domain_name}}))
        assert r.status_code == 201, "login %s@%s: %d %s" % (name, domain_name, r.status_code, r.text)
        user = r.json()["token"]["user"]
        return cls(name, password, domain_name, token=r.headers["X-Subject-Token"], id=user["id"],
                   domain_id=user["domain"]["id"])

    def __repr__(self):
        return "Actor(%s@%s)" % (self.name, self.domain_name)


def openapi_uncovered():
    """operationIds of openapi/oscred.yaml no checked response has covered yet."""
    return _openapi_check.uncovered()
