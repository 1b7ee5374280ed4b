"""Signs the requests the signed scenarios replay (bench/lua/replay.lua), just before each run.

- AWS Query API (UpdateAccessKey, ListAccessKeys): AWS Signature V4 computed by botocore's own SigV4Auth, the signer
  boto3 and the aws CLI use.
- OS-CREDENTIAL show with SDK-HMAC-SHA256: a small implementation of spec/huawei-keystone.md §4.4 (the official SDK is
  Node; `self_test()` checks this one against the spec's test vector before any use).

Every request is distinct: the signer clock is set per request to one of the 601 seconds before now (inside the
±15-minute window for a run of a few minutes) and the requests rotate over the fixture users' keys, so no two
records are the same bytes. The output file holds records "<length>\\n<raw HTTP/1.1 request>".
"""
import datetime
import hashlib
import hmac
import os
import types
import urllib.parse

WINDOW_S = 600  # signatures dated up to 10 minutes back; oscred accepts ±15 minutes


class _Clock(datetime.datetime):
    """Stands in for datetime.datetime inside botocore.auth, so each signature gets the time we choose."""
    fixed = None

    @classmethod
    def utcnow(cls):
        return cls.fixed if cls.fixed is not None else datetime.datetime.utcnow()


def _patch_botocore_clock():
    import botocore.auth
    botocore.auth.datetime = types.SimpleNamespace(datetime=_Clock)


def _raw(method, path, headers, body=b""):
    lines = ["%s %s HTTP/1.1" % (method, path)]
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _write(path, records):
    with open(path, "wb") as f:
        for r in records:
            f.write(b"%d\n" % len(r))
            f.write(r)


def _times(start, count, users, now):
    """The signing time of request i: rotates users fastest, then the status, then the second."""
    for i in range(start, start + count):
        second = (i // (2 * users)) % (WINDOW_S + 1)
        yield i, now - datetime.timedelta(seconds=second)


def sign_parallel(path, host, signers, kind, count, procs=2):
    """Signs COUNT requests of KIND (UpdateAccessKey, ListAccessKeys or sdk) into PATH, in PROCS processes."""
    import concurrent.futures
    now = datetime.datetime.utcnow().replace(microsecond=0)
    procs = max(1, min(procs, count // 1000 or 1))
    step = -(-count // procs)
    parts = [(path + ".%d" % j, host, signers, kind, j * step, min(step, count - j * step), now)
             for j in range(procs)]
    with concurrent.futures.ProcessPoolExecutor(procs) as ex:
        n = sum(ex.map(_sign_part, parts))
    with open(path, "wb") as out:
        for part in parts:
            with open(part[0], "rb") as f:
                out.write(f.read())
            os.unlink(part[0])
    return n


def _sign_part(args):
    path, host, signers, kind, start, count, now = args
    if kind == "sdk":
        return sign_sdk_show(path, host, signers, start, count, now)
    return sign_aws(path, host, signers, kind, start, count, now)


def sign_aws(path, host, signers, action, start, count, now, region="us-east-1"):
    """signers: [(user_name, signing_ak, signing_sk, target_ak)]. action: UpdateAccessKey or ListAccessKeys."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    _patch_botocore_clock()
    auths = [SigV4Auth(Credentials(ak, sk), "iam", region) for _, ak, sk, _ in signers]
    records = []
    n = len(signers)
    for i, when in _times(start, count, n, now):
        name, _, _, target = signers[i % n]
        params = [("Action", action), ("Version", "2010-05-08"), ("UserName", name)]
        if action == "UpdateAccessKey":
            params += [("AccessKeyId", target), ("Status", "Inactive" if (i // n) % 2 else "Active")]
        body = urllib.parse.urlencode(params).encode()
        req = AWSRequest(method="POST", url="http://%s/" % host, data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        _Clock.fixed = when
        auths[i % n].add_auth(req)
        headers = [("Host", host)] + [(k, v) for k, v in req.headers.items()]
        records.append(_raw("POST", "/", headers, body))
    _Clock.fixed = None
    _write(path, records)
    return len(records)


# ---------------------------------------------------------------- SDK-HMAC-SHA256 (spec §4.4)

_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def _enc(s):
    return urllib.parse.quote(s, safe=_UNRESERVED[-4:])


def sdk_signature(method, path, query, headers, body, sk):
    """headers: {lowercase name: value} of every signed header. Returns (signed_headers, signature)."""
    uri = "/".join(_enc(seg) for seg in path.split("/"))
    if not uri.endswith("/"):
        uri += "/"
    q = "&".join("%s=%s" % (_enc(k), _enc(v)) for k, v in sorted(query))
    names = sorted(headers)
    canonical_headers = "".join("%s:%s\n" % (k, headers[k]) for k in names)
    signed = ";".join(names)
    canonical = "\n".join([method, uri, q, canonical_headers, signed, hashlib.sha256(body).hexdigest()])
    sts = "SDK-HMAC-SHA256\n%s\n%s" % (headers["x-sdk-date"], hashlib.sha256(canonical.encode()).hexdigest())
    return signed, hmac.new(sk.encode(), sts.encode(), hashlib.sha256).hexdigest()


def self_test():
    """The DELETE test vector of spec/huawei-keystone.md §4.5."""
    signed, sig = sdk_signature(
        "DELETE", "/v3.0/OS-CREDENTIAL/credentials/AKTODELETE0000000001", [],
        {"content-type": "application/json", "host": "127.0.0.1:18080",
         "x-domain-id": "0123456789abcdef0123456789abcdef", "x-sdk-date": "20261123T064104Z"},
        b"", "testsecretkey0123456789abcdefghijklmnopq")
    assert signed == "content-type;host;x-domain-id;x-sdk-date", signed
    assert sig == "f61f9c2fdeb69d4c0bfca761e02d90e93b8d9e95c87aa6abaf03c17220823fa3", sig


def sign_sdk_show(path, host, signers, start, count, now):
    """GET /v3.0/OS-CREDENTIAL/credentials/{target} signed with the user's other key. signers as for sign_aws."""
    self_test()
    records = []
    n = len(signers)
    for i, when in _times(start, count, n, now):
        _, ak, sk, target = signers[i % n]
        date = when.strftime("%Y%m%dT%H%M%SZ")
        # Distinct per status slot too: alternate which of the user's two keys is shown.
        shown = target if (i // n) % 2 == 0 else ak
        url_path = "/v3.0/OS-CREDENTIAL/credentials/" + shown
        hdrs = {"content-type": "application/json", "host": host, "x-sdk-date": date}
        signed, sig = sdk_signature("GET", url_path, [], hdrs, b"", sk)
        headers = [("Host", host), ("Content-Type", "application/json"), ("X-Sdk-Date", date),
                   ("Authorization", "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s" % (ak, signed, sig))]
        records.append(_raw("GET", url_path, headers))
    _write(path, records)
    return len(records)
