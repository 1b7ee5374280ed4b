"""Checks real server responses against openapi/oscred.yaml, and records which operations were checked.

    from openapi_check import check_response, uncovered
    r = requests.post(base + "/v3.0/OS-CREDENTIAL/credentials", json=..., headers=...)
    check_response("POST", "/v3.0/OS-CREDENTIAL/credentials", r.status_code,
                   r.json() if r.content else None, r.headers)
    ...
    assert not uncovered(), uncovered()      # once, after the whole suite

check_response raises AssertionError when the status is not declared for the operation, the JSON body does
not validate against the declared schema (JSON Schema 2020-12, $refs resolved into the spec's components),
a required response header (X-Request-Id, X-Subject-Token, WWW-Authenticate, x-amzn-RequestId, Date) is missing
or malformed, or a body is present where none is declared (204, HEAD). A path or method the spec lacks must
answer 404 (or 405) in its surface's error format.

The AWS Query API (operation awsQuery: POST /, and GET / with an Action query parameter) answers XML. Such
answers are checked against awsQuery's declared statuses, then parsed with xml.etree: well-formed, no comments,
every element in the IAM namespace, root <{Action}Response> (Action one of the spec's Action enum, and the
requested one when known) with ResponseMetadata/RequestId on 2xx, <ErrorResponse> with Error/Type (Sender for
4xx, Receiver for 5xx), Error/Code, Error/Message and RequestId otherwise, the body's RequestId equal to the
x-amzn-RequestId header; finally the document, read as JSON the way the spec's awsQuery description says, is
validated against the contentSchema of the declared text/xml schema. A GET / answer is taken as a Query API one
when the path carries an Action parameter, action= is passed, or the answer is XML; otherwise it is version
discovery (listVersions). awsQuery counts as covered when any Query API answer was checked;
uncovered_query_actions() lists the actions no successful answer was checked for.

Needs python3-yaml and python3-jsonschema (>= 4.0; the Debian 12 package is 4.10). The spec is read once, from
$OSCRED_OPENAPI or openapi/oscred.yaml.
"""

import json
import os
import re
import threading
import urllib.parse
import xml.etree.ElementTree as ET

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
    "query_actions",
    "uncovered_query_actions",
    "spec",
]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_DEFAULT_SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "openapi", "oscred.yaml")
_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_QUERY_OPERATION = "awsQuery"
IAM_XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"

_lock = threading.Lock()
_spec = None
_ops = None  # operationId -> (path, method)
_validators = {}  # id(schema node) -> validator
_covered = set()
_covered_actions = set()  # Query API actions a checked 2xx answer was for


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
        _covered_actions.clear()


def query_actions():
    """The Query API actions the spec declares (the Action enum of awsQuery's parameters), sorted; [] if none."""
    spec()
    if _QUERY_OPERATION not in _ops:
        return []
    p, m = _ops[_QUERY_OPERATION]
    op = spec()["paths"][p][m]
    schemas = []
    for media in ((op.get("requestBody") or {}).get("content") or {}).values():
        schemas.append(media.get("schema"))
    for param in op.get("parameters") or []:
        schemas.append(_deref(param).get("schema"))
    for schema in schemas:
        schema = _deref(schema or {})
        action = _deref((schema.get("properties") or {}).get("Action") or {})
        if action.get("enum"):
            return sorted(action["enum"])
    return []


def uncovered_query_actions():
    """The Query API actions no successful (2xx) answer was checked for, sorted."""
    actions = query_actions()
    with _lock:
        return [a for a in actions if a not in _covered_actions]


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


def _is_xml_media(media):
    base = media.split(";", 1)[0].strip().lower()
    return base in ("text/xml", "application/xml") or base.endswith("+xml")


# ---- XML (the AWS Query API) ---------------------------------------------------------------------

def _local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else str(tag)


def _namespace(tag):
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _xml_json(elem, problems):
    """An element read as JSON, as the spec's awsQuery description defines it: child elements -> object keyed by
    local name, only <member> children -> array, no children -> its text ("" when empty)."""
    children = list(elem)
    if not children:
        return elem.text or ""
    name = _local(elem.tag)
    if (elem.text or "").strip() or any((c.tail or "").strip() for c in children):
        problems.append(f"<{name}> mixes text and child elements")
    names = [_local(c.tag) for c in children]
    if all(n == "member" for n in names):
        return [_xml_json(c, problems) for c in children]
    if "member" in names:
        problems.append(f"<{name}> mixes <member> with other child elements {sorted(set(names) - {'member'})}")
    out = {}
    for c in children:
        n = _local(c.tag)
        if n in out:
            problems.append(f"<{n}> appears more than once in <{name}>")
            continue
        out[n] = _xml_json(c, problems)
    return out


def _xml_problems(text, schema, hmap, query=None):
    """Problems of an XML body: well-formedness, then (for the Query API: query = {"status", "action"}) AWS's
    envelope rules, then the declared schema's contentSchema against the document read as JSON."""
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as e:
        return [f"body is not well-formed XML ({e}): {raw[:200]!r}"]
    problems = []
    if b"<!--" in raw:
        problems.append("the document holds an XML comment (@aws-sdk/client-iam then returns an empty result)")
    foreign = sorted({_namespace(e.tag) or "(none)" for e in root.iter() if _namespace(e.tag) != IAM_XMLNS})
    if foreign:
        problems.append(f"elements outside the IAM namespace {IAM_XMLNS!r}: {foreign}")
    with_attrs = sorted({_local(e.tag) for e in root.iter() if e.attrib})
    if with_attrs:
        problems.append(f"unexpected attributes on {with_attrs}")
    root_name = _local(root.tag)
    doc = {root_name: _xml_json(root, problems)}

    if query is not None:
        status, action = query["status"], query.get("action")

        def text_at(path):
            """The text of the element at path (local names; a wrong namespace is reported above), or None."""
            node = root
            for part in path.split("/"):
                node = next((c for c in node if _local(c.tag) == part), None)
                if node is None:
                    return None
            return node.text or ""

        if 200 <= status < 300:
            known = query_actions()
            if not root_name.endswith("Response") or root_name == "ErrorResponse":
                problems.append(f"root element <{root_name}> is not <{{Action}}Response>")
            else:
                answered = root_name[: -len("Response")]
                if action is not None and answered != action:
                    problems.append(f"root element <{root_name}> does not answer the action {action!r}")
                if known and answered not in known:
                    problems.append(f"root element <{root_name}>: {answered!r} is not an action of the spec")
            request_id = text_at("ResponseMetadata/RequestId")
            if not request_id:
                problems.append("no ResponseMetadata/RequestId")
        else:
            if root_name != "ErrorResponse":
                problems.append(f"root element <{root_name}> of a {status} answer is not <ErrorResponse>")
            for path in ("Error/Type", "Error/Code", "Error/Message", "RequestId"):
                if not text_at(path):
                    problems.append(f"ErrorResponse has no (or an empty) {path}")
            want = "Receiver" if status >= 500 else "Sender"
            kind = text_at("Error/Type")
            if kind and kind != want:
                problems.append(f"Error/Type is {kind!r}; a {status} is {want!r}")
            request_id = text_at("RequestId")
        header_id = hmap.get("x-amzn-requestid")
        if request_id and header_id is not None and request_id != header_id:
            problems.append(f"RequestId {request_id!r} differs from the x-amzn-RequestId header {header_id!r}")
        if 200 <= status < 300 and root_name.endswith("Response"):
            query["answered"] = root_name[: -len("Response")]

    content_schema = _deref(schema or {}).get("contentSchema") if isinstance(schema, dict) else None
    if content_schema is not None:
        problems.extend(_schema_errors(content_schema, doc))
    return problems


def _check(where, response, status, body, headers, method, query=None):
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
                elif schema is not None or _is_xml_media(media):
                    if isinstance(body, (bytes, bytearray)):
                        body = body.decode("utf-8", "replace")
                    if not isinstance(body, str):
                        problems.append(f"body is not {media} text but {type(body).__name__}: {str(body)[:200]!r}")
                    else:
                        if schema is not None:
                            problems.extend(_schema_errors(schema, body))
                        if _is_xml_media(media):
                            problems.extend(_xml_problems(body, schema, hmap, query))

    if problems:
        shown = body if isinstance(body, (dict, list)) else str(body)[:300]
        raise AssertionError(
            f"{where} {status} does not match openapi/oscred.yaml:\n  - "
            + "\n  - ".join(problems)
            + f"\n  body: {json.dumps(shown)[:1000] if isinstance(shown, (dict, list)) else shown!r}"
        )


def _query_action(path):
    """The Action parameter of a path's query string, or None."""
    if "?" not in path:
        return None
    values = urllib.parse.parse_qs(path.split("?", 1)[1], keep_blank_values=True).get("Action")
    return values[0] if values else None


def _looks_like_xml(body, hmap):
    ctype = hmap.get("content-type")
    if ctype is not None:
        return "xml" in ctype.split(";", 1)[0].lower()
    if isinstance(body, (bytes, bytearray)):
        return bytes(body).lstrip().startswith(b"<")
    return isinstance(body, str) and body.lstrip().startswith("<")


def _check_query(method, path, status, body, headers, action):
    """One answer of the AWS Query API, checked against the awsQuery operation."""
    if _QUERY_OPERATION not in _ops:
        raise AssertionError(f"{method.upper()} {path}: an AWS Query API answer, but the spec has no "
                             f"operation {_QUERY_OPERATION}")
    p, m = _ops[_QUERY_OPERATION]
    op = spec()["paths"][p][m]
    shown_action = f" Action={action}" if action else ""
    where = f"{method.upper()} {p}{shown_action} ({_QUERY_OPERATION})"
    response = _response_for(op, status)
    if response is None:
        declared = sorted(op.get("responses", {}))
        raise AssertionError(f"{where}: status {status} is not declared (declared: {declared}); "
                             f"body: {str(body)[:500]!r}")
    query = {"status": status, "action": action}
    _check(where, response, status, body, headers, "post", query)
    mark_covered(_QUERY_OPERATION)
    if query.get("answered"):
        with _lock:
            _covered_actions.add(query["answered"])
    return _QUERY_OPERATION


def check_response(method, path_template, status, body_json_or_None, headers, action=None):
    """Asserts that one response conforms to the spec and marks its operation covered.

    method: "GET", "POST", ... ; path_template: the spec's template ("/v3/users/{user_id}"; parameter names
    may differ) or the concrete request path, which may carry its query string; status: int;
    body_json_or_None: the parsed JSON body, or None for no body (str/bytes are accepted too: JSON media types
    are parsed, text/plain is checked as a string, XML is parsed and checked as described in the module doc);
    headers: a mapping or (name, value) pairs, looked up case-insensitively (may be None to skip the header
    checks: then required headers are reported missing, so pass them); action: for the AWS Query API, the
    Action the request named (else taken from the path's query string, when there).

    POST / is always the Query API; GET / is when the path's query has Action, action is given, or the answer
    is XML (Content-Type, or a body starting with "<").

    Answers the spec cannot attach to an operation are checked by their surface's rules and mark nothing:
      * a path the spec does not have must answer 404 in its surface's format (check_unrouted);
      * a method the path does not implement must answer 405 (checked against the 405 the path's other
        operations declare) or 404 (the surface's not-found format);
      * 431 (request headers over 16 KiB) can answer any route; test_http_limits.py checks its bodies.
    Returns the operationId, or None when nothing was marked.
    """
    m = method.lower()
    status = int(status)
    if status == 431:
        return None
    p = _find_path(path_template)
    if p == "/" and m in ("post", "get"):
        action = action if action is not None else _query_action(path_template)
        if m == "post" or action is not None or _looks_like_xml(body_json_or_None, _header_map(headers)):
            return _check_query(method, path_template, status, body_json_or_None, headers, action)
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
