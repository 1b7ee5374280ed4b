"""Helpers for the service-account tests (spec role-keys.md): REST routes, raw signed requests, AWS Query envelopes.

test_service_accounts.py (REST, policy, replicas, the Huawei SDK) and test_roles_aws.py (the AWS Query API through
boto3, raw SigV4 requests and the aws CLI) share them. Real-client plumbing (aws CLI runner, boto3 client factory,
Node drivers, Key, poll) comes from realclients.py and is reused, not copied.

Response checks. Every REST answer goes through sa_request()/hmac_request(), which checks X-Request-Id and, when
openapi/oscred.yaml describes the route, validates the answer against it (client.check_response). Should the spec
lack a /v3/service_accounts route, its successes are checked here against the shape role-keys.md §6.1 fixes (and
its errors by the tests with client.assert_keystone_error) instead of failing as "unrouted". Raw AWS Query answers
are checked against the envelope of aws-iam.md §1/§3 and, for POST /, against the spec's awsQuery operation.
"""
import datetime
import hashlib
import hmac
import json as _json
import re
import urllib.parse
import xml.etree.ElementTree as ET

import requests

import client
from realclients import AWS_NS, AWS_REQUEST_ID_RE, Key, aws_name, xml_find, xml_findall

import openapi_check as _openapi_check

SA = "/v3/service_accounts"
SA_FIELDS = {"id", "name", "domain_id", "description", "enabled", "path", "created_at"}
REPLICA_DEADLINE = 1.5  # role-keys.md §6.1/§6.2: "on every replica within one second" (+ polling slack)
LAST_USE_DEADLINE = 15  # huawei-keystone.md §5.6: visible within 10 s (coalesced)

# Verbatim AWS texts (role-keys.md §5.7, §3.6).
MSG_NO_ROLE = "The role with name %s cannot be found."
MSG_ROLE_EXISTS = "Role with name %s already exists."
MSG_BAD_JSON = "This policy contains invalid Json"
MSG_NON_USER = "Must specify userName when calling with non-User credentials"
MSG_NO_BOUNDARY = "PermissionsBoundary is not supported."
MSG_NAME_PATTERN = ("1 validation error detected: Value '%s' at 'roleName' failed to satisfy constraint: "
                    "Member must satisfy regular expression pattern: [\\w+=,.@-]+")
MSG_NULL_DOC = ("1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy "
                "constraint: Member must not be null")
MSG_MAX_SESSION = ("1 validation error detected: Value '%s' at 'maxSessionDuration' failed to satisfy constraint: "
                   "Member must have value less than or equal to 43200")
MSG_TOO_MANY_TAGS = ("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have "
                     "length less than or equal to 50")
MSG_DUP_TAGS = "Duplicate tag keys found. Please note that Tag keys are case insensitive."
MSG_INVALID_ACTION = "Could not find operation %s for version 2010-05-08"

# REST 409 texts (role-keys.md §3.4).
REST_USER_EXISTS = "a user named %s already exists in this domain"
REST_SA_EXISTS = "a service account named %s already exists in this domain"


def denied(caller_arn, action, kind, name):
    """role-keys.md §4: `User: {caller arn} is not authorized to perform: iam:{Action} on resource: {kind} {name}`."""
    return "User: %s is not authorized to perform: iam:%s on resource: %s %s" % (caller_arn, action, kind, name)


def role_arn_re(path, name):
    """role-keys.md §3.6: arn:aws:iam::{account}:role{path}{name} (12-digit account of the domain)."""
    return re.compile(r"^arn:aws:iam::(\d{12}):role%s%s$" % (re.escape(path), re.escape(name)))


def account_of(arn):
    m = re.match(r"^arn:aws:iam::(\d{12}):", arn)
    assert m, arn
    return m.group(1)


# -- REST ------------------------------------------------------------------------------------------------------

def _in_openapi(path):
    try:
        return _openapi_check._find_path(path.split("?", 1)[0]) is not None  # noqa: SLF001 - same test package
    except Exception:  # noqa: BLE001 - a broken spec shows up in client.check_response elsewhere
        return False


def _aws_in_openapi():
    try:
        return "post" in _openapi_check.spec()["paths"].get("/", {})
    except Exception:  # noqa: BLE001
        return False


def check_sa_object(sa):
    """role-keys.md §6.1 response object."""
    assert isinstance(sa, dict), sa
    assert SA_FIELDS <= set(sa) <= SA_FIELDS | {"links"}, sa
    assert client.ID_RE.match(sa["id"]), sa
    assert client.ID_RE.match(sa["domain_id"]), sa
    assert isinstance(sa["name"], str) and re.fullmatch(r"[A-Za-z0-9_+=,.@-]{1,64}", sa["name"]), sa
    assert isinstance(sa["description"], str), sa
    assert isinstance(sa["enabled"], bool), sa
    assert isinstance(sa["path"], str) and sa["path"].startswith("/") and sa["path"].endswith("/"), sa
    assert client.TIME_RE.match(sa["created_at"]), sa
    for secret in ("password", "password_hash", "secret", "trust_policy"):
        assert secret not in sa, sa
    return sa


def _check_sa_route(method, path, r):
    rid = r.headers.get("X-Request-Id")
    assert rid is not None and client.REQUEST_ID_RE.match(rid), "%s %s -> %d: X-Request-Id %r" % (
        method, path, r.status_code, rid)
    if _in_openapi(path):
        client.check_response(method, path, r)
        return
    p = path.split("?", 1)[0]
    if r.status_code >= 400:
        if method != "HEAD":
            assert r.headers.get("Content-Type", "").startswith("application/json"), (method, path, r.headers)
        return
    if method == "HEAD" or r.status_code == 204:
        assert not r.content, "%s %s -> %d with a body: %r" % (method, path, r.status_code, r.content[:200])
        return
    body = r.json()
    if p == SA and method == "GET":
        assert set(body) == {"service_accounts"} or set(body) == {"service_accounts", "links"}, body
        for sa in body["service_accounts"]:
            check_sa_object(sa)
    elif p.startswith(SA):
        assert set(body) == {"service_account"}, body
        check_sa_object(body["service_account"])
    elif p.endswith("/roles"):
        assert set(body) >= {"roles"}, body
        for role in body["roles"]:
            assert set(role) >= {"id", "name"} and role["name"] in ("admin", "security_admin"), body


def sa_request(method, base, path, *, token=None, json=client._NOBODY, data=None, params=None, headers=None):
    """A request to a /v3/service_accounts… route (checked as the module doc says)."""
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["X-Auth-Token"] = token
    kwargs = {}
    if json is not client._NOBODY:
        kwargs["json"] = json
    elif data is not None:
        hdrs.setdefault("Content-Type", "application/json")
        kwargs["data"] = data.encode("utf-8") if isinstance(data, str) else data
    r = requests.request(method, base + path, headers=hdrs, params=params, timeout=30, allow_redirects=False,
                         **kwargs)
    _check_sa_route(method, path, r)
    return r


def create_sa(base, token, name, **fields):
    body = {"name": name}
    body.update(fields)
    return sa_request("POST", base, SA, token=token, json={"service_account": body})


def list_sa(base, token, name=None):
    return sa_request("GET", base, SA, token=token, params={"name": name} if name is not None else None)


def get_sa(base, token, sa_id):
    return sa_request("GET", base, SA + "/" + sa_id, token=token)


def update_sa(base, token, sa_id, **fields):
    return sa_request("PATCH", base, SA + "/" + sa_id, token=token, json={"service_account": fields})


def delete_sa(base, token, sa_id):
    return sa_request("DELETE", base, SA + "/" + sa_id, token=token)


def sa_role_path(domain_id, sa_id, role=None):
    p = "/v3/domains/%s/service_accounts/%s/roles" % (domain_id, sa_id)
    return p + "/" + role if role is not None else p


def grant(base, token, domain_id, sa_id, role):
    return sa_request("PUT", base, sa_role_path(domain_id, sa_id, role), token=token)


def revoke(base, token, domain_id, sa_id, role):
    return sa_request("DELETE", base, sa_role_path(domain_id, sa_id, role), token=token)


def check_grant(base, token, domain_id, sa_id, role, method="HEAD"):
    return sa_request(method, base, sa_role_path(domain_id, sa_id, role), token=token)


def list_grants(base, token, domain_id, sa_id):
    return sa_request("GET", base, sa_role_path(domain_id, sa_id), token=token)


def grant_names(base, token, domain_id, sa_id):
    r = list_grants(base, token, domain_id, sa_id)
    assert r.status_code == 200, r.text
    return sorted(x["name"] for x in r.json()["roles"])


def sa_snapshot(base, token):
    """The caller domain's service accounts as sorted (id, name, description, enabled, path) tuples."""
    r = list_sa(base, token)
    assert r.status_code == 200, r.text
    return sorted((s["id"], s["name"], s["description"], s["enabled"], s["path"]) for s in r.json()["service_accounts"])


def new_sa(base, admin_actor, roles=(), prefix="sa", **fields):
    """A fresh service account of admin_actor's domain (through REST), with the given grants: its JSON object."""
    r = create_sa(base, admin_actor.token, aws_name(prefix), **fields)
    assert r.status_code == 201, r.text
    sa = r.json()["service_account"]
    for role in roles:
        g = grant(base, admin_actor.token, admin_actor.domain_id, sa["id"], role)
        assert g.status_code == 204, g.text
    return sa


def sa_key(base, token, sa, description=None):
    """A new key for the service account through OS-CREDENTIAL (201 required), as a realclients.Key."""
    c = client.new_key(base, token, sa["id"], description)
    assert c["user_id"] == sa["id"], c
    return Key(c["access"], c["secret"], sa["name"], sa["id"])


# -- SDK-HMAC-SHA256 (huawei-keystone.md §4.4), for raw signed REST requests ---------------------------------------

def _hw_enc(s):
    return urllib.parse.quote(s, safe="-_.~")


def hmac_request(method, base, path, key, json=None, params=None, domain_id=None, check=True):
    """A request to base+path signed the way the Huawei SDK signs (AK/SK, no token)."""
    url = urllib.parse.urlsplit(base + path)
    data = None if json is None else _json.dumps(json, separators=(",", ":")).encode()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Type": "application/json", "Host": url.netloc, "X-Sdk-Date": date}
    if domain_id is not None:
        headers["X-Domain-Id"] = domain_id
    curi = "/".join(_hw_enc(s) for s in url.path.split("/"))
    if not curi.endswith("/"):
        curi += "/"
    cquery = "&".join("%s=%s" % (_hw_enc(k), _hw_enc(v)) for k, v in sorted((params or {}).items()))
    lower = {k.lower(): v for k, v in headers.items()}
    names = sorted(lower)
    creq = "\n".join([method, curi, cquery, "".join("%s:%s\n" % (n, lower[n]) for n in names), ";".join(names),
                      hashlib.sha256(data or b"").hexdigest()])
    sts = "SDK-HMAC-SHA256\n%s\n%s" % (date, hashlib.sha256(creq.encode()).hexdigest())
    sig = hmac.new(key.secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s" % (
        key.access, ";".join(names), sig)
    r = requests.request(method, base + path, headers=headers, params=params, data=data, timeout=30,
                         allow_redirects=False)
    if check:
        if path.startswith("/v3.0/") or _in_openapi(path):
            client.check_response(method, path, r)
        else:
            _check_sa_route(method, path, r)
    if r.status_code == 201 and path == client.CREDS:
        client.remember_secret(r.json()["credential"].get("secret"))
    return r


def hmac_works(base, key):
    """Whether `key` signs: GET /v3.0/OS-CREDENTIAL/credentials (its own keys) answers 200 (else 401)."""
    r = hmac_request("GET", base, client.CREDS, key)
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


# -- AWS Query with raw SigV4 ----------------------------------------------------------------------------------

class AwsAnswer:
    """One raw AWS Query answer: status, parsed root, and for errors code/message/type."""

    def __init__(self, r, action):
        self.r = r
        self.action = action
        self.status = r.status_code
        self.text = r.text
        self.root = ET.fromstring(r.content) if r.content else None
        self.code = self.message = self.type = None
        if self.status >= 300 and self.root is not None:
            self.code = _text(self.root, "Error/Code")
            self.message = _text(self.root, "Error/Message")
            self.type = _text(self.root, "Error/Type")

    def find(self, path):
        return xml_find(self.root, path)

    def findall(self, path):
        return xml_findall(self.root, path)

    def text_of(self, path):
        return _text(self.root, path)

    def ok(self):
        assert self.status == 200, self.describe()
        return self

    def fails(self, code, status, message=None):
        assert (self.status, self.code) == (status, code), "want %d %s\n%s" % (status, code, self.describe())
        if message is not None:
            assert self.message == message, "want message %r\n%s" % (message, self.describe())
        return self

    def describe(self):
        return "%s -> %d\n%s" % (self.action, self.status, self.text)


def _text(root, path):
    node = xml_find(root, path)
    return None if node is None else (node.text or "")


def children(node):
    """Local names of an element's children, in order."""
    return [c.tag.replace(AWS_NS, "") for c in list(node)]


def children_elems(node, path):
    """The child elements of node/path ([] when absent)."""
    found = xml_find(node, path)
    return [] if found is None else list(found)


def _check_aws_envelope(r, action):
    assert r.headers.get("Content-Type", "").startswith("text/xml"), (action, r.status_code, r.headers)
    hid = r.headers.get("x-amzn-RequestId")
    assert hid and AWS_REQUEST_ID_RE.match(hid), (action, r.headers)
    assert r.headers.get("Date"), (action, r.headers)
    root = ET.fromstring(r.content)
    if r.status_code == 200:
        assert root.tag.replace(AWS_NS, "") == action + "Response", r.text
        assert _text(root, "ResponseMetadata/RequestId") == hid, r.text
    else:
        assert root.tag.replace(AWS_NS, "") == "ErrorResponse", r.text
        assert _text(root, "RequestId") == hid, r.text
        assert _text(root, "Error/Type") == ("Sender" if r.status_code < 500 else "Receiver"), r.text
        assert _text(root, "Error/Code") and _text(root, "Error/Message") is not None, r.text
    assert "<!--" not in r.text, r.text  # aws-iam.md §2.1: comments break JS v3


def aws_query(base, key, action, params=None, region="us-east-1", method="POST"):
    """Action with params, SigV4-signed with key (botocore's signer), as POST form body or signed GET query."""
    from botocore.auth import SigV4Auth  # noqa: PLC0415 - collection needs no botocore
    from botocore.awsrequest import AWSRequest  # noqa: PLC0415
    from botocore.credentials import Credentials  # noqa: PLC0415

    form = [("Action", action), ("Version", "2010-05-08")] + list((params or {}).items())
    body = urllib.parse.urlencode(form)  # spaces as '+', like botocore and the CLI
    if method == "POST":
        req = AWSRequest(method="POST", url=base + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    else:
        req = AWSRequest(method="GET", url=base + "/?" + urllib.parse.urlencode(form, quote_via=urllib.parse.quote),
                         headers={})
    SigV4Auth(Credentials(key.access, key.secret), "iam", region).add_auth(req)
    prepared = req.prepare()
    r = requests.request(method, prepared.url, headers=dict(prepared.headers),
                         data=body.encode() if method == "POST" else None, timeout=30)
    if r.status_code < 500 or r.content:
        _check_aws_envelope(r, action)
    if method == "POST" and _aws_in_openapi():
        client.check_response("POST", "/", r)
    ans = AwsAnswer(r, action)
    if action == "CreateAccessKey" and ans.status == 200:
        client.remember_secret(ans.text_of("CreateAccessKeyResult/AccessKey/SecretAccessKey"))
    return ans


def key_from(ans):
    """The Key a successful raw CreateAccessKey answer carries."""
    ans.ok()
    ak = ans.find("CreateAccessKeyResult/AccessKey")
    return Key(_text(ak, "AccessKeyId"), _text(ak, "SecretAccessKey"), _text(ak, "UserName"))


def rfc3986(s):
    """role-keys.md §5.1: every byte except A-Z a-z 0-9 - _ . ~ as %XX (space = %20)."""
    return urllib.parse.quote(s.encode("utf-8"), safe="-_.~")


def iso_z(s):
    """Parses an AWS timestamp (2026-11-24T10:00:00Z, fractions allowed)."""
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$", s or ""), s
    head = s[:19]
    return datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)


def rest_time(s):
    assert client.TIME_RE.match(s), s
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def near_now(t, slack=120):
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - t).total_seconds()) < slack, (t, now)
    return t


def sa_name(prefix="sa"):
    return aws_name(prefix)
