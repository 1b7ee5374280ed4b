// Drives the official Huawei Cloud Node SDK (@huaweicloud/huaweicloud-sdk-iam v3, AK/SK signing with
// SDK-HMAC-SHA256) against oscred for test/integration/test_huawei_sdk.py. CommonJS, like the SDK.
//
//   node huawei_sdk.cjs [plan.json]      (or the plan as JSON on stdin)
//
// plan = {
//   "endpoint": "http://127.0.0.1:PORT",            // no trailing slash (spec huawei-keystone.md §4.3)
//   "credentials": {"ak": "...", "sk": "...", "domainId": "..."},   // domainId optional → X-Domain-Id
//   "steps": [{"method": "createPermanentAccessKey", "input": {"user_id": "...", "description": "..."},
//              "credentials": {...}}],              // per-step credentials optional
//   "out": "/path/results.json"                     // optional; stdout otherwise
// }
// Methods and inputs: createPermanentAccessKey {user_id, description?}; listPermanentAccessKeys {user_id?};
// showPermanentAccessKey {access_key}; updatePermanentAccessKey {access_key, status?, description?};
// deletePermanentAccessKey {access_key}; keystoneValidateToken {x_subject_token, nocatalog?} (GET /v3/auth/tokens,
// test_sdkhmac_tokens.py). A string input "${N.path.to.field}" is replaced by that field of
// step N's output (0-based).
//
// Result per step: {"ok": true, "status": httpStatusCode, "output": <the SDK's result>} or
// {"ok": false, "name", "status", "errorCode", "errorMsg", "requestId"}. The document {"results": [...]} (or
// {"fatal": "..."}) is written to plan.out and printed as one stdout line starting with "OSCRED-RESULT ": the
// SDK itself logs every failed response to stdout through log4js (spec §4.7), so stdout is not clean JSON.
'use strict';

const fs = require('fs');
const { GlobalCredentials } = require('@huaweicloud/huaweicloud-sdk-core');
// The package main (huaweicloud-sdk-iam.js) is broken in 3.1.172 (spec §4.1): use the v3 entry point.
const hw = require('@huaweicloud/huaweicloud-sdk-iam/v3/public-api');

function readPlan() {
  const src = process.argv[2] ? fs.readFileSync(process.argv[2], 'utf8') : fs.readFileSync(0, 'utf8');
  return JSON.parse(src);
}

function lookup(results, ref) {
  const [idx, ...path] = ref.split('.');
  const r = results[Number(idx)];
  if (!r || !r.ok) throw new Error(`reference \${${ref}}: step ${idx} has no output`);
  let v = r.output;
  for (const p of path) {
    if (v === undefined || v === null) break;
    v = v[p];
  }
  if (v === undefined) throw new Error(`reference \${${ref}}: no such field`);
  return v;
}

function substitute(value, results) {
  if (typeof value === 'string') {
    const m = /^\$\{([^}]+)\}$/.exec(value);
    return m ? lookup(results, m[1]) : value;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, results));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, results)]));
  }
  return value;
}

// The SDK's own request classes, built the way its documentation shows.
const BUILD = {
  createPermanentAccessKey(input) {
    const option = new hw.CreateCredentialOption().withUserId(input.user_id);
    if (input.description !== undefined) option.withDescription(input.description);
    return new hw.CreatePermanentAccessKeyRequest()
      .withBody(new hw.CreatePermanentAccessKeyRequestBody().withCredential(option));
  },
  listPermanentAccessKeys(input) {
    const req = new hw.ListPermanentAccessKeysRequest();
    if (input.user_id !== undefined) req.withUserId(input.user_id);
    return req;
  },
  showPermanentAccessKey(input) {
    return new hw.ShowPermanentAccessKeyRequest().withAccessKey(input.access_key);
  },
  updatePermanentAccessKey(input) {
    const option = new hw.UpdateCredentialOption();
    if (input.status !== undefined) option.withStatus(input.status);
    if (input.description !== undefined) option.withDescription(input.description);
    return new hw.UpdatePermanentAccessKeyRequest()
      .withAccessKey(input.access_key)
      .withBody(new hw.UpdatePermanentAccessKeyRequestBody().withCredential(option));
  },
  deletePermanentAccessKey(input) {
    return new hw.DeletePermanentAccessKeyRequest().withAccessKey(input.access_key);
  },
  keystoneValidateToken(input) {
    const req = new hw.KeystoneValidateTokenRequest().withXSubjectToken(input.x_subject_token);
    if (input.nocatalog !== undefined) req.withNocatalog(input.nocatalog);
    return req;
  },
};

async function main(plan) {
  const clients = new Map();
  const clientFor = (c) => {
    const id = JSON.stringify(c);
    if (!clients.has(id)) {
      const cred = new GlobalCredentials().withAk(c.ak).withSk(c.sk);
      if (c.domainId) cred.withDomainId(c.domainId);
      // withEndpoint only: no withRegion(), which would replace the endpoint and look the domain up (spec §4.3).
      clients.set(id, hw.IamClient.newBuilder().withCredential(cred).withEndpoint(plan.endpoint).build());
    }
    return clients.get(id);
  };
  const results = [];
  for (const step of plan.steps) {
    const build = BUILD[step.method];
    if (!build) throw new Error(`unsupported method ${step.method}`);
    const iam = clientFor(step.credentials || plan.credentials);
    try {
      const request = build(substitute(step.input || {}, results));
      const res = await iam[step.method](request);
      results.push({ ok: true, status: res?.httpStatusCode, output: JSON.parse(JSON.stringify(res ?? null)) });
    } catch (e) {
      results.push({
        ok: false,
        name: e?.constructor?.name ?? typeof e,
        status: e?.httpStatusCode,
        errorCode: e?.errorCode,
        errorMsg: e?.errorMsg ?? e?.message,
        requestId: e?.requestId,
      });
    }
  }
  return { results };
}

function emit(plan, doc) {
  const text = JSON.stringify(doc);
  if (plan && plan.out) fs.writeFileSync(plan.out, text);
  process.stdout.write(`\nOSCRED-RESULT ${text}\n`);
}

let plan;
try {
  plan = readPlan();
} catch (e) {
  emit(null, { fatal: `bad plan: ${e.message}` });
  process.exit(2);
}
main(plan)
  .then((doc) => emit(plan, doc))
  .catch((e) => {
    emit(plan, { fatal: String(e?.stack ?? e) });
    process.exitCode = 1;
  });
