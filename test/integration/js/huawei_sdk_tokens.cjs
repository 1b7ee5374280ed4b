// Drives the official Huawei Cloud Node SDK's token validation (IamClient.keystoneValidateToken: GET /v3/auth/tokens
// with X-Subject-Token, signed with SDK-HMAC-SHA256 by AK/SK) for test/integration/test_sdkhmac_tokens.py.
//
//   node huawei_sdk_tokens.cjs [plan.json]      (or the plan as JSON on stdin)
//
// plan = {"endpoint": "http://127.0.0.1:PORT", "credentials": {"ak", "sk", "domainId"?},
//         "steps": [{"method": "keystoneValidateToken", "input": {"x_subject_token": "...", "nocatalog": "1"?}}],
//         "out": "/path/results.json"}
// Results as in huawei_sdk.cjs: {"ok": true, "status", "output"} or {"ok": false, "name", "status", "errorCode",
// "errorMsg", "requestId"}, written to plan.out and printed on one stdout line starting with "OSCRED-RESULT ".
'use strict';

const fs = require('fs');
const { GlobalCredentials } = require('@huaweicloud/huaweicloud-sdk-core');
const hw = require('@huaweicloud/huaweicloud-sdk-iam/v3/public-api');

const BUILD = {
  keystoneValidateToken(input) {
    const req = new hw.KeystoneValidateTokenRequest().withXSubjectToken(input.x_subject_token);
    if (input.nocatalog !== undefined) req.withNocatalog(input.nocatalog);
    return req;
  },
};

async function main(plan) {
  const c = plan.credentials;
  const cred = new GlobalCredentials().withAk(c.ak).withSk(c.sk);
  if (c.domainId) cred.withDomainId(c.domainId);
  const iam = hw.IamClient.newBuilder().withCredential(cred).withEndpoint(plan.endpoint).build();
  const results = [];
  for (const step of plan.steps) {
    const build = BUILD[step.method];
    if (!build) throw new Error(`unsupported method ${step.method}`);
    try {
      const res = await iam[step.method](build(step.input || {}));
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
  plan = JSON.parse(process.argv[2] ? fs.readFileSync(process.argv[2], 'utf8') : fs.readFileSync(0, 'utf8'));
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
