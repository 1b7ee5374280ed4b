"""Checks real server responses against openapi/oscred.yaml, and records which operations were checked.

    from openapi_check import check_response, uncovered
    r = requests.post(base + "/v3.0/OS-CREDENTIAL/credentials", json=..., headers=...)
    check_response("POST", "/v3.0/OS-CREDENTIAL/credentials", r.status_code,
                   r.json() if r.content else None, r.headers)
    ...
    assert not uncovered(), uncovered()      # once, after the whole suite

check_response raises AssertionError when the status is not declared for the operation, the JSON body does
not validate against the declared schema (JSON Schema 2020-12, $refs resolved into the spec's components),
a required response header (X-Request-Id, X-Subject-Token, WWW-Authenticate) is missing or malformed, or a
body is present where none is declared (204, HEAD). A path or method the spec lacks must answer 404 (or 405)
in its surface's error format. Needs python3-yaml and python3-jsonschema (>= 4.0; the
Debian 12 package is 4.10). The spec is read once, from $OSCRED_OPENAPI or openapi/oscred.yaml.
"""

import json
import os
import re
import threading

import jsonschema
import yaml

__all__ = [
    "check_response",
    "check_unrouted",
    "mark_covered",
    "uncovered",
    "covered",
    "reset_coverage",
    "operation_ids",
    "spec",
]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_DEFAULT_SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "openapi", "oscred.yaml")
_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_lock = threading.Lock()
_spec = None
_ops = None  # operationId -> (path, method)
_validators = {}  # id(schema node) -> validator
_covered = set()


def spec():
    """The parsed spec (loaded on first use)."""
    global _spec, _ops
    with _lock:
        if _spec is None:
            path = os.environ.get("OSCRED_OPENAPI", _DEFAULT_SPEC)
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
            ops = {}
            for p, item in doc.get("paths", {}).items():
                for m in _METHODS:
                    op = item.get(m)
                    if op is None:
                        continue
                    oid = op.get("operationId")
                    if not oid:
                        raise ValueError(f"{m.upper()} {p} has no operationId")
                    if oid in ops:
                        raise ValueError(f"operationId {oid} used twice")
                    ops[oid] = (p, m)
            _spec, _ops = doc, ops
        return _spec


def operation_ids():
    """Every operationId in the spec, sorted."""
    spec()
    return sorted(_ops)


def mark_covered(operation_id):
    """Records that operation_id was exercised (check_response does this itself on success)."""
    spec()
    if operation_id not in _ops:
        raise KeyError(f"no operation {operation_id!r} in the spec")
    with _lock:
        _covered.add(operation_id)


def covered():
    with _lock:
        return sorted(_covered)


def uncovered():
    """The operationIds never checked or marked, sorted."""
    ids = operation_ids()
    with _lock:
        return [o for o in ids if o not in _covered]


def reset_coverage():
    with _lock:
        _covered.clear()


# ---- lookups -------------------------------------------------------------------------------------

def _deref(node):
    """Follows local '#/...' $refs (components/responses, headers, parameters) to the target object."""
    doc = spec()
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported: {ref}")
        target = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
        seen += 1
        if seen > 32:
            raise ValueError(f"$ref loop at {ref}")
    return node


def _template_key(path):
    return re.sub(r"\{[^/}]*\}", "{}", path)


def _find_path(path_or_template):
    """Maps a template (parameter names may differ) or a concrete path to the spec's template."""
    paths = spec()["paths"]
    path = path_or_template.split("?", 1)[0]
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    if path in paths:
        return path
    key = _template_key(path)
    for p in paths:
        if _template_key(p) == key:
            return p
    # A concrete path: the matching template with the most literal segments wins (/v3/auth/tokens over /v3/x/{y}).
    best, best_literals = None, -1
    segs = path.split("/")
    for p in paths:
        psegs = p.split("/")
        if len(psegs) != len(segs):
            continue
        literals = 0
        for ps, s in zip(psegs, segs):
            if re.fullmatch(r"\{[^/}]*\}", ps):
                if not s:
                    break
            elif ps != s:
                break
            else:
                literals += 1
        else:
            if literals > best_literals:
                best, best_literals = p, literals
    return best


def _response_for(op, status):
    responses = op.get("responses", {})
    for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
        if key in responses:
            return _deref(responses[key])
    return None


# ---- validation ----------------------------------------------------------------------------------

def _validator(schema):
    """A Draft 2020-12 validator for one schema node of the spec; '#/components/...' refs resolve into the spec."""
    key = id(schema)
    v = _validators.get(key)
    if v is None:
        root = dict(schema) if isinstance(schema, dict) else {"allOf": [schema]}
        root.setdefault("$schema", _SCHEMA_DIALECT)
        # The refs are JSON pointers from the document root; give the wrapper the same root layout.
        root["components"] = spec().get("components", {})
        cls = jsonschema.Draft202012Validator
        cls.check_schema(root)
        v = cls(root)
        with _lock:
            _validators[key] = v
    return v


def _schema_errors(schema, instance, limit=5):
    errs = sorted(_validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    out = []
    for e in errs[:limit]:
        where = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
        out.append(f"{where}: {e.message}")
        # oneOf/anyOf failures: show why each branch failed, two reasons per branch.
        per_branch = {}
        for sub in e.context or []:
            branch = sub.relative_schema_path[0] if sub.relative_schema_path else "?"
            if len(per_branch.setdefault(branch, [])) < 2:
                per_branch[branch].append(sub)
        for branch, subs in per_branch.items():
            for sub in subs:
                swhere = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in sub.absolute_path)
                out.append(f"    branch {branch}: {swhere}: {sub.message}")
    if len(errs) > limit:
        out.append(f"... and {len(errs) - limit} more")
    return out


def _header_map(headers):
    if headers is None:
        return {}
    items = headers.items() if hasattr(headers, "items") else headers
    out = {}
    for k, v in items:
        out.setdefault(str(k).lower(), v)
    return out


def _media_matches(declared, content_type):
    base = content_type.split(";", 1)[0].strip().lower()
    for d in declared:
        dbase = d.split(";", 1)[0].strip().lower()
        if dbase == base or dbase == "*/*" or (dbase.endswith("/*") and base.startswith(dbase[:-1])):
            return d
    return None


def _is_json_media(media):
    base = media.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def _is_empty(body):
    return body is None or body == b"" or body == ""


def _check(where, response, status, body, headers, method):
    problems = []
    hmap = _header_map(headers)

    for name, h in (response.get("headers") or {}).items():
        h = _deref(h)
        value = hmap.get(name.lower())
        if value is None:
            if h.get("required"):
                problems.append(f"missing required header {name}")
            continue
        if "schema" in h:
            for msg in _schema_errors(h["schema"], value):
                problems.append(f"header {name}={value!r}: {msg}")

    content = response.get("content")
    if not content or method == "head":
        if not _is_empty(body):
            problems.append(f"a body is present but none is declared: {str(body)[:200]!r}")
    else:
        if _is_empty(body):
            problems.append(f"no body, but one of {sorted(content)} is declared")
        else:
            ctype = hmap.get("content-type")
            if ctype is not None:
                media = _media_matches(content, ctype)
                if media is None:
                    problems.append(f"Content-Type {ctype!r} is not one of {sorted(content)}")
            else:
                media = next((m for m in content if _is_json_media(m)), next(iter(content)))
            if media is not None:
                schema = content[media].get("schema")
                if _is_json_media(media):
                    if isinstance(body, (bytes, bytearray)):
                        body = body.decode("utf-8")
                    if isinstance(body, str):
                        try:
                            body = json.loads(body)
                        except ValueError as e:
                            problems.append(f"body is not JSON ({e}): {body[:200]!r}")
                            schema = None
                    if schema is not None:
                        problems.extend(_schema_errors(schema, body))
                elif schema is not None:
                    if isinstance(body, (bytes, bytearray)):
                        body = body.decode("utf-8", "replace")
                    problems.extend(_schema_errors(schema, body))

    if problems:
        shown = body if isinstance(body, (dict, list)) else str(body)[:300]
        raise AssertionError(
            f"{where} {status} does not match openapi/oscred.yaml:\n  - "
            + "\n  - ".join(problems)
            + f"\n  body: {json.dumps(shown)[:1000] if isinstance(shown, (dict, list)) else shown!r}"
        )


def check_response(method, path_template, status, body_json_or_None, headers):
    """Asserts that one response conforms to the spec and marks its operation covered.

    method: "GET", "POST", ... ; path_template: the spec's template ("/v3/users/{user_id}"; parameter names
    may differ) or the concrete request path; status: int; body_json_or_None: the parsed JSON body, or None
    for no body (str/bytes are accepted too: JSON media types are parsed, text/plain is checked as a string);
    headers: a mapping or (name, value) pairs, looked up case-insensitively (may be None to skip the header
    checks: then required headers are reported missing, so pass them).

    Answers the spec cannot attach to an operation are checked by their surface's rules and mark nothing:
      * a path the spec does not have must answer 404 in its surface's format (check_unrouted);
      * a method the path does not implement must answer 405 (checked against the 405 the path's other
        operations declare) or 404 (the surface's not-found format);
      * 431 (request headers over 16 KiB) is answered by the HTTP library before routing and is not checked.
    Returns the operationId, or None when nothing was marked.
    """
    m = method.lower()
    status = int(status)
    if status == 431:
        return None
    p = _find_path(path_template)
    if p is None:
        check_unrouted(path_template, status, body_json_or_None, headers, method)
        return None
    item = spec()["paths"][p]
    op = item.get(m)
    where = f"{method.upper()} {p}"
    if op is None:
        declared = sorted(x.upper() for x in _METHODS if x in item)
        if status == 404:
            check_unrouted(p, status, body_json_or_None, headers, method)
            return None
        if status != 405:
            raise AssertionError(f"{where}: method not in the spec (path has {declared}); "
                                 f"status {status} is neither 405 nor 404")
        for x in _METHODS:
            if x in item and "405" in item[x].get("responses", {}):
                _check(where, _deref(item[x]["responses"]["405"]), status, body_json_or_None, headers, m)
                return None
        raise AssertionError(f"{where}: 405 for an unimplemented method, but no operation of {p} declares 405")
    oid = op["operationId"]
    response = _response_for(op, status)
    if response is None:
        declared = sorted(op.get("responses", {}))
        shown = json.dumps(body_json_or_None)[:500] if isinstance(body_json_or_None, (dict, list)) else body_json_or_None
        raise AssertionError(f"{where} ({oid}): status {status} is not declared (declared: {declared}); body: {shown!r}")
    _check(f"{where} ({oid})", response, status, body_json_or_None, headers, m)
    mark_covered(oid)
    return oid


def check_unrouted(path, status, body_json_or_None, headers, method="GET"):
    """Checks the answer to a path (or method) the spec does not have: 404 in its surface's error format,
    IAM style under /v3.0/ and Keystone style elsewhere (no body for HEAD)."""
    path = path.split("?", 1)[0]
    if int(status) != 404:
        raise AssertionError(f"{method.upper()} {path}: not in openapi/oscred.yaml, so it must answer 404, got {status}")
    surface = "Iam" if path.startswith("/v3.0/") else "Keystone"
    response = _deref({"$ref": f"#/components/responses/{surface}NotFound"})
    _check(f"{method.upper()} {path} (not in the spec)", response, status, body_json_or_None, headers, method.lower())
