// Drives @aws-sdk/client-iam (v3) against oscred for test/integration/test_aws_sdk_js.py.
//
//   node aws_sdk.mjs [plan.json]      (or the plan as JSON on stdin)
//
// plan = {
//   "endpoint": "http://127.0.0.1:PORT", "region": "us-east-1",
//   "credentials": {"accessKeyId": "...", "secretAccessKey": "..."},
//   "steps": [{"command": "CreateAccessKey", "input": {"UserName": "bob"},
//              "credentials": {...}, "region": "..."}],          // per-step credentials/region are optional
//   "out": "/path/results.json"                                  // optional; stdout otherwise
// }
// A string input value "${N.Path.To.Field}" is replaced by that field of step N's output (0-based), so that a
// plan can create a key and then act on it.
//
// Result per step: {"ok": true, "status", "requestId", "attempts", "output"} or
// {"ok": false, "error": e.name, "code": e.Error?.Code ?? e.name, "type", "message", "status", "requestId",
//  "attempts"}. The whole document {"results": [...]} (or {"fatal": "..."}) goes to plan.out, and to stdout as
// one line starting with "OSCRED-RESULT " in either case.
import fs from 'node:fs';
import * as iam from '@aws-sdk/client-iam';

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

function withoutMetadata(output) {
  const { $metadata, ...rest } = output || {};
  return rest;
}

async function main(plan) {
  const clients = new Map();
  const clientFor = (credentials, region) => {
    const id = JSON.stringify([credentials, region]);
    if (!clients.has(id)) {
      clients.set(id, new iam.IAMClient({
        endpoint: plan.endpoint,
        region,
        credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
        ...(plan.maxAttempts ? { maxAttempts: plan.maxAttempts } : {}),
      }));
    }
    return clients.get(id);
  };
  const results = [];
  for (const step of plan.steps) {
    const Command = iam[`${step.command}Command`];
    if (typeof Command !== 'function') throw new Error(`no such command: ${step.command}Command`);
    const c = clientFor(step.credentials || plan.credentials, step.region || plan.region);
    try {
      const input = substitute(step.input || {}, results);
      const out = await c.send(new Command(input));
      results.push({
        ok: true,
        status: out.$metadata?.httpStatusCode,
        requestId: out.$metadata?.requestId,
        attempts: out.$metadata?.attempts,
        output: withoutMetadata(out),
      });
    } catch (e) {
      if (!e || !e.$metadata) {
        // Not a service error (a reference that did not resolve, a network failure, a parse failure).
        results.push({ ok: false, error: e?.name ?? String(e), code: e?.name ?? String(e), message: e?.message,
                       status: undefined, requestId: undefined, attempts: undefined, local: true });
        continue;
      }
      results.push({
        ok: false,
        error: e.name,
        code: e.Error?.Code ?? e.name,
        type: e.Error?.Type,
        message: e.message,
        status: e.$metadata.httpStatusCode,
        requestId: e.$metadata.requestId,
        attempts: e.$metadata.attempts,
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
