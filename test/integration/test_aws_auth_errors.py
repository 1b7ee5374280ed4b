"""AWS Query authentication and request-shape errors over real HTTP (aws-iam.md §1/§3): missing token,
skewed X-Amz-Date, session tokens, oversized bodies, unsupported methods and an oversized trust policy."""
import datetime
import json
import types
import urllib.parse
from unittest import mock

import requests

from realclients import aws_name
from sa_client import AwsAnswer, aws_query

FORM = "application/x-www-form-urlencoded; charset=utf-8"


def _error(r, status, code):
    ans = AwsAnswer(r, "raw")
    assert ans.root is not None and ans.root.tag.endswith("ErrorResponse"), ans.describe()
    assert (ans.status, ans.code) == (status, code), "want %d %s\n%s" % (status, code, ans.describe())
    assert ans.message is not None, ans.describe()
    return ans


def _signed(base, key, params, *, at=None, token=None):
    """POST / with params, SigV4-signed by botocore; `at` fixes the signing time (naive UTC datetime)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = urllib.parse.urlencode([("Version", "2010-05-08")] + list(params))
    req = AWSRequest(method="POST", url=base + "/", data=body, headers={"Content-Type": FORM})
    signer = SigV4Auth(Credentials(key.access, key.secret, token=token), "iam", "us-east-1")
    if at is None:
        signer.add_auth(req)
    else:
        class FixedDT(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return at

        with mock.patch("botocore.auth.datetime", types.SimpleNamespace(datetime=FixedDT)):
            signer.add_auth(req)
    prepared = req.prepare()
    return requests.post(prepared.url, headers=dict(prepared.headers), data=body.encode(), timeout=30)


def _still_works(base, key):
    aws_query(base, key, "ListUsers").ok()


def test_missing_authentication_token(base):
    r = requests.post(base + "/", data="Action=ListUsers&Version=2010-05-08", headers={"Content-Type": FORM},
                      timeout=30)
    ans = _error(r, 403, "MissingAuthenticationToken")
    assert ans.message == "Request is missing Authentication Token", ans.describe()


def test_signature_expired(base, aws_admin):
    at = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    ans = _error(_signed(base, aws_admin.key, [("Action", "ListUsers")], at=at), 403, "SignatureDoesNotMatch")
    assert ans.message.startswith("Signature expired:"), ans.describe()


def test_signature_not_yet_current(base, aws_admin):
    at = datetime.datetime.utcnow() + datetime.timedelta(minutes=20)
    ans = _error(_signed(base, aws_admin.key, [("Action", "ListUsers")], at=at), 403, "SignatureDoesNotMatch")
    assert ans.message.startswith("Signature not yet current:"), ans.describe()


def test_security_token_rejected(base, aws_admin):
    r = _signed(base, aws_admin.key, [("Action", "ListUsers")], token="x")
    _error(r, 403, "InvalidClientTokenId")
    _still_works(base, aws_admin.key)


def test_body_over_512k(base, aws_admin):
    name = aws_name("big")
    r = _signed(base, aws_admin.key, [("Action", "CreateRole"), ("RoleName", name),
                                      ("AssumeRolePolicyDocument", "{}"), ("Description", "d" * (600 * 1024))])
    assert r.status_code == 413, "%d %s" % (r.status_code, r.text[:2000])
    ans = AwsAnswer(r, "CreateRole")
    assert ans.root is not None and ans.root.tag.endswith("ErrorResponse"), ans.describe()
    assert ans.code and ans.message is not None, ans.describe()
    _still_works(base, aws_admin.key)


def test_put_root(base, aws_admin):
    seen = []
    for _ in range(2):
        r = requests.put(base + "/", data="Action=ListUsers&Version=2010-05-08", headers={"Content-Type": FORM},
                         timeout=30)
        assert r.status_code in (404, 405), "%d %s" % (r.status_code, r.text[:2000])
        seen.append((r.status_code, r.text))
    assert seen[0][0] == seen[1][0], seen
    _still_works(base, aws_admin.key)


def test_trust_policy_too_long(base, aws_admin):
    stmt = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    doc = {"Version": "2012-10-17", "Statement": [stmt], "Pad": "p" * 131072}
    text = json.dumps(doc)
    assert len(text) > 131072
    name = aws_name("longtrust")
    ans = aws_query(base, aws_admin.key, "CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": text})
    ans.fails("ValidationError", 400)
    assert "assumeRolePolicyDocument" in ans.message, ans.describe()
