// Offline checks of the Kubernetes manifests in deploy/kubernetes (or the folder given as the first argument):
//   1. every document parses (YAML 1.1, as the API server reads it: 0400 is octal) and has a known kind;
//   2. kubernetes-models' .validate() accepts it (the Kubernetes OpenAPI schema: types, enums, required fields);
//   3. no field is unknown to that schema (kubectl's --validate=strict; .validate() alone lets typos through);
//   4. oscred's deployment policy (DESIGN.md, notes/ecosystem.md §2-3), so that a regression fails.
// Prints every problem as "file: Kind/name: message" and exits 1 if there is any, 0 otherwise.
// Run through deploy/validate, which also runs yamllint and installs the pinned packages.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.resolve(process.argv[2] || path.join(here, "kubernetes"));
const require = createRequire(import.meta.url);

const MODELS = {
  "apps/v1 Deployment": [Deployment, "kubernetes-models/apps/v1/Deployment"],
  "batch/v1 Job": [Job, "kubernetes-models/batch/v1/Job"],
  "v1 Service": [Service, "kubernetes-models/v1/Service"],
  "v1 Secret": [Secret, "kubernetes-models/v1/Secret"],
  "v1 ConfigMap": [ConfigMap, "kubernetes-models/v1/ConfigMap"],
  "networking.k8s.io/v1 NetworkPolicy": [NetworkPolicy, "kubernetes-models/networking.k8s.io/v1/NetworkPolicy"],
  "policy/v1 PodDisruptionBudget": [PodDisruptionBudget, "kubernetes-models/policy/v1/PodDisruptionBudget"],
};
const LABEL_KEYS = ["name", "instance", "version", "component", "part-of", "managed-by"].map(
  (k) => `app.kubernetes.io/${k}`,
);
const UID = 10001;
const KEYS_FILE_MODE = 0o400;

let problems = 0;
function problem(where, msg) {
  problems++;
  console.log(`${where}: ${msg}`);
}

// ---- 3. unknown fields, from the model's TypeScript declarations (one interface per .d.ts file) ----
const ifaceCache = new Map();
function resolveDts(spec, fromFile) {
  const base = spec.startsWith(".") ? path.resolve(path.dirname(fromFile), spec) : require.resolve(spec);
  return base.replace(/\.(m?js|d\.ts)$/, "") + ".d.ts";
}
// { props: Map(name -> type string), imports: Map(identifier -> .d.ts path) } or null for a type alias.
function loadIface(file) {
  if (ifaceCache.has(file)) return ifaceCache.get(file);
  const text = fs.readFileSync(file, "utf8");
  const imports = new Map();
  for (const m of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
    for (const id of m[1].split(",").map((s) => s.trim())) imports.set(id, m[2]);
  }
  const start = text.search(/^export interface \w+( extends [\w, ]+)? \{$/m);
  let result = null;
  if (start >= 0) {
    const props = new Map();
    const lines = text.slice(start).split("\n");
    for (let i = 1; i < lines.length && lines[i] !== "}"; i++) {
      const m = /^ {4}"([^"]+)"\??: (.*?);?$/.exec(lines[i]);
      if (m) props.set(m[1], m[2]);
    }
    result = { props, imports, file };
  }
  ifaceCache.set(file, result);
  return result;
}
function rootDts(modulePath) {
  return resolveDts(modulePath, here);
}
function checkFields(value, iface, at, where) {
  if (!iface || value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value)) {
    if (!iface.props.has(key)) {
      problem(where, `unknown field ${at}.${key} (not in the Kubernetes schema: a typo?)`);
      continue;
    }
    checkValue(v, iface.props.get(key), iface, `${at}.${key}`, where);
  }
}
function checkValue(v, type, iface, at, where) {
  const arr = /^Array<(.*)>$/.exec(type);
  if (arr) {
    if (Array.isArray(v)) v.forEach((e, i) => checkValue(e, arr[1], iface, `${at}[${i}]`, where));
    return;
  }
  if (/^\w+$/.test(type) && iface.imports.has(type)) {
    checkFields(v, loadIface(resolveDts(iface.imports.get(type), iface.file)), at, where);
  }
  // Maps ({ [key: string]: … }), scalars and enums: .validate() already checks their values.
}

// ---- helpers ----
const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const get = (o, dotted) => dotted.split(".").reduce((a, k) => (isObj(a) ? a[k] : undefined), o);
function labelsOk(where, labels, what) {
  for (const k of LABEL_KEYS) {
    if (!isObj(labels) || typeof labels[k] !== "string" || labels[k] === "") {
      problem(where, `${what} lacks the label ${k}`);
    }
  }
}
function selects(selector, labels) {
  return isObj(selector) && Object.keys(selector).length > 0 && isObj(labels) &&
    Object.entries(selector).every(([k, v]) => labels[k] === v);
}
function envOf(container) {
  const env = new Map();
  for (const e of container.env || []) env.set(e.name, e);
  return env;
}

// Pod Security "restricted" plus readOnlyRootFilesystem, for every container of a pod template.
function checkPodSecurity(where, podSpec) {
  const psc = podSpec.securityContext || {};
  if (podSpec.hostNetwork || podSpec.hostPID || podSpec.hostIPC) problem(where, "uses a host namespace");
  if (psc.runAsNonRoot !== true) problem(where, "pod securityContext.runAsNonRoot is not true");
  const all = [...(podSpec.initContainers || []), ...(podSpec.containers || [])];
  for (const c of all) {
    const sc = c.securityContext || {};
    const eff = (k) => (sc[k] !== undefined ? sc[k] : psc[k]);
    const w = `${where} container ${c.name}`;
    if (eff("runAsNonRoot") !== true) problem(w, "runAsNonRoot is not true");
    if (eff("runAsUser") !== UID) problem(w, `runAsUser is not ${UID}`);
    if (eff("runAsGroup") !== UID) problem(w, `runAsGroup is not ${UID}`);
    if (sc.allowPrivilegeEscalation !== false) problem(w, "securityContext.allowPrivilegeEscalation is not false");
    if (sc.readOnlyRootFilesystem !== true) problem(w, "securityContext.readOnlyRootFilesystem is not true");
    if (sc.privileged) problem(w, "is privileged");
    const drop = get(sc, "capabilities.drop") || [];
    if (!drop.includes("ALL")) problem(w, "securityContext.capabilities.drop does not include ALL");
    if ((get(sc, "capabilities.add") || []).length) problem(w, "adds capabilities");
    const seccomp = get(sc, "seccompProfile.type") || get(psc, "seccompProfile.type");
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
      problem(w, "seccompProfile.type is not RuntimeDefault");
    }
    for (const r of ["requests", "limits"]) {
      for (const k of ["cpu", "memory"]) {
        if (get(c, `resources.${r}.${k}`) === undefined) problem(w, `resources.${r}.${k} is not set`);
      }
    }
  }
}
function secretEnv(where, env, name) {
  const e = env.get(name);
  const ref = get(e, "valueFrom.secretKeyRef");
  if (!e) problem(where, `${name} is not set`);
  else if (!ref || !ref.name || !ref.key) problem(where, `${name} does not come from a Secret key (secretKeyRef)`);
  else if (e.value !== undefined) problem(where, `${name} has a plain value besides its secretKeyRef`);
  return ref;
}
function probe(where, c, which, wantPath) {
  const p = c[which];
  const g = get(p, "httpGet");
  if (!p) return problem(where, `${which} is missing`);
  if (!g) return problem(where, `${which} is not an httpGet probe`);
  if (g.path !== wantPath) problem(where, `${which} path is ${g.path}, expected ${wantPath}`);
  const portOk = g.port === 8080 || (c.ports || []).some((pt) => pt.name === g.port && pt.containerPort === 8080);
  if (!portOk) problem(where, `${which} does not probe port 8080`);
}

function checkDeployment(where, d, ctx) {
  const spec = d.spec || {};
  const tpl = spec.template || {};
  const pod = tpl.spec || {};
  if (spec.replicas !== 2) problem(where, `replicas is ${spec.replicas}, expected 2`);
  if (get(spec, "strategy.type") !== "RollingUpdate") problem(where, "strategy.type is not RollingUpdate");
  if (get(spec, "strategy.rollingUpdate.maxUnavailable") !== 0) {
    problem(where, "strategy.rollingUpdate.maxUnavailable is not 0");
  }
  labelsOk(where, get(tpl, "metadata.labels"), "pod template");
  if (!selects(get(spec, "selector.matchLabels"), get(tpl, "metadata.labels"))) {
    problem(where, "selector.matchLabels does not select the pod template's labels");
  }
  ctx.podLabels = get(tpl, "metadata.labels");
  checkPodSecurity(where, pod);
  if (!(pod.topologySpreadConstraints || []).length && !get(pod, "affinity.podAntiAffinity")) {
    problem(where, "no topologySpreadConstraints (or podAntiAffinity): replicas may share a node");
  }
  const annotations = get(tpl, "metadata.annotations") || {};
  if (annotations["prometheus.io/scrape"] !== "true" || annotations["prometheus.io/path"] !== "/metrics") {
    problem(where, "pod template lacks prometheus.io/scrape \"true\" and prometheus.io/path /metrics");
  }
  const c = (pod.containers || []).find((x) => x.name === "oscred");
  if (!c) return problem(where, "no container named oscred");
  const w = `${where} container oscred`;
  ctx.images.push([where, c.image]);
  if (!(c.ports || []).some((p) => p.containerPort === 8080 && p.name === "http")) {
    problem(w, "no containerPort 8080 named http");
  }
  probe(w, c, "startupProbe", "/readyz");
  probe(w, c, "readinessProbe", "/readyz");
  probe(w, c, "livenessProbe", "/healthz");
  const env = envOf(c);
  if (get(env.get("OSCRED_LISTEN"), "value") !== "0.0.0.0:8080") problem(w, "OSCRED_LISTEN is not 0.0.0.0:8080");
  const prepared = get(env.get("OSCRED_DATABASE_PREPARED"), "value");
  if (prepared !== "on" && prepared !== "off") problem(w, "OSCRED_DATABASE_PREPARED is not \"on\" or \"off\"");
  for (const n of ["OSCRED_DATABASE_URL", "OSCRED_DATABASE_LISTEN_URL"]) {
    const ref = secretEnv(w, env, n);
    if (ref) ctx.secretRefs.push([w, ref.name, ref.key]);
  }
  // Shutdown: preStop sleep + OSCRED_SHUTDOWN_GRACE must end before the kubelet's SIGKILL.
  const graceVar = env.get("OSCRED_SHUTDOWN_GRACE");
  const grace = graceVar ? Number(graceVar.value) : 20;
  if (!Number.isInteger(grace) || grace < 0) problem(w, "OSCRED_SHUTDOWN_GRACE is not a whole number of seconds");
  const preStop = get(c, "lifecycle.preStop.sleep.seconds") || 0;
  const tgps = pod.terminationGracePeriodSeconds ?? 30;
  if (!(tgps > grace + preStop)) {
    problem(where, `terminationGracePeriodSeconds ${tgps} is not greater than preStop sleep ${preStop} + ` +
      `OSCRED_SHUTDOWN_GRACE ${grace}`);
  }
  if (get(c, "lifecycle.preStop.exec")) problem(w, "preStop uses exec, but the image has no shell or sleep");
  // The key ring: a whole-directory, read-only Secret mount that OSCRED_KEYS_FILE points into.
  const keysFile = get(env.get("OSCRED_KEYS_FILE"), "value");
  if (!keysFile) return problem(w, "OSCRED_KEYS_FILE is not set");
  const mount = (c.volumeMounts || []).find((m) => keysFile.startsWith(m.mountPath.replace(/\/?$/, "/")));
  if (!mount) return problem(w, `no volumeMount contains OSCRED_KEYS_FILE ${keysFile}`);
  if (mount.subPath !== undefined || mount.subPathExpr !== undefined) {
    problem(w, `volumeMount ${mount.name} uses subPath: a subPath mount never sees Secret updates`);
  }
  if (mount.readOnly !== true) problem(w, `volumeMount ${mount.name} is not readOnly`);
  // No Secret volume is mounted with subPath anywhere (a subPath mount never sees Secret updates).
  const secretVols = new Set((pod.volumes || []).filter((v) => v.secret).map((v) => v.name));
  for (const m of c.volumeMounts || []) {
    if (secretVols.has(m.name) && m !== mount && (m.subPath !== undefined || m.subPathExpr !== undefined)) {
      problem(w, `volumeMount ${m.name} mounts a Secret with subPath: it would never see Secret updates`);
    }
  }
  const vol = (pod.volumes || []).find((v) => v.name === mount.name);
  if (!get(vol, "secret.secretName")) return problem(w, `volume ${mount.name} is not a Secret volume`);
  if (get(vol, "secret.defaultMode") !== KEYS_FILE_MODE) {
    problem(where, `volume ${mount.name} defaultMode is not 0400 (YAML 1.1 octal, as the API server reads it)`);
  }
  ctx.secretRefs.push([w, vol.secret.secretName, path.posix.relative(mount.mountPath, keysFile)]);
}

function checkJob(where, j, ctx) {
  const spec = j.spec || {};
  const pod = get(spec, "template.spec") || {};
  labelsOk(where, get(spec, "template.metadata.labels"), "pod template");
  checkPodSecurity(where, pod);
  if (spec.backoffLimit === undefined) problem(where, "backoffLimit is not set");
  if (spec.ttlSecondsAfterFinished === undefined) problem(where, "ttlSecondsAfterFinished is not set");
  if (!["Never", "OnFailure"].includes(pod.restartPolicy)) problem(where, "restartPolicy is not Never or OnFailure");
  for (const c of pod.containers || []) {
    const w = `${where} container ${c.name}`;
    ctx.images.push([where, c.image]);
    const cmd = [...(c.command || []), ...(c.args || [])];
    if (!cmd.includes("migrate")) problem(w, "does not run `oscred migrate`");
    const ref = secretEnv(w, envOf(c), "OSCRED_DATABASE_URL");
    if (ref) ctx.secretRefs.push([w, ref.name, ref.key]);
  }
}

function checkService(where, s, ctx) {
  const spec = s.spec || {};
  if ((spec.type || "ClusterIP") !== "ClusterIP") problem(where, "type is not ClusterIP");
  if (!(spec.ports || []).some((p) => p.port === 8080)) problem(where, "no port 8080");
  ctx.later.push(() => {
    if (!selects(spec.selector, ctx.podLabels)) problem(where, "selector does not select the Deployment's pods");
  });
}

function checkPdb(where, p, ctx) {
  if (get(p, "spec.minAvailable") !== 1) problem(where, "spec.minAvailable is not 1");
  ctx.later.push(() => {
    if (!selects(get(p, "spec.selector.matchLabels"), ctx.podLabels)) {
      problem(where, "selector does not select the Deployment's pods");
    }
  });
}

function checkNetworkPolicy(where, n, ctx) {
  const spec = n.spec || {};
  for (const t of ["Ingress", "Egress"]) {
    if (!(spec.policyTypes || []).includes(t)) problem(where, `policyTypes lacks ${t}`);
  }
  const ingress = spec.ingress || [];
  if (!ingress.length) problem(where, "no ingress rule: nothing could reach oscred");
  for (const [i, r] of ingress.entries()) {
    if (!(r.from || []).length) problem(where, `ingress[${i}] allows every source`);
    const ports = r.ports || [];
    if (!ports.length || ports.some((p) => p.port !== 8080 && p.port !== "http")) {
      problem(where, `ingress[${i}] is not limited to port 8080`);
    }
  }
  const egressPorts = (spec.egress || []).flatMap((r) =>
    (r.ports || []).map((p) => `${p.protocol || "TCP"}/${p.port}`));
  for (const want of ["TCP/5432", "UDP/53"]) {
    if (!egressPorts.includes(want)) problem(where, `egress does not allow ${want}`);
  }
  if ((spec.egress || []).some((r) => !(r.ports || []).length)) problem(where, "an egress rule allows every port");
  ctx.later.push(() => {
    if (!selects(get(spec, "podSelector.matchLabels"), ctx.podLabels)) {
      problem(where, "podSelector does not select the Deployment's pods");
    }
  });
}

function checkSecret(where, s, file, ctx) {
  if (!/\.example\.ya?ml$/.test(file)) {
    problem(where, "a Secret in a manifest file: only *.example.yaml templates belong here");
  }
  const data = { ...(s.stringData || {}) };
  for (const [k, v] of Object.entries(s.data || {})) data[k] = Buffer.from(v, "base64").toString("utf8");
  ctx.secrets.set(get(s, "metadata.name"), new Set(Object.keys(data)));
  // A real key ring must never be committed: no value in an example may be base64 of 32 bytes.
  for (const [k, v] of Object.entries(data)) {
    for (const m of String(v).matchAll(/[A-Za-z0-9+/]{43}=/g)) {
      if (Buffer.from(m[0], "base64").length === 32) problem(where, `${k} holds what looks like a real 32-byte key`);
    }
  }
}

function checkKustomization(file, k, yamlFiles) {
  const where = path.basename(file);
  const listed = k.resources || [];
  const want = yamlFiles.filter((f) => f !== where && !/\.example\.ya?ml$/.test(f)).sort();
  for (const r of listed) {
    if (/\.example\.ya?ml$/.test(r)) problem(where, `lists the example ${r}: its fake values would be applied`);
    else if (!fs.existsSync(path.join(dir, r))) problem(where, `lists ${r}, which does not exist`);
  }
  for (const f of want) if (!listed.includes(f)) problem(where, `does not list ${f}`);
  if (k.namespace !== undefined) problem(where, "sets a namespace (leave it to the operator or an overlay)");
}

// ---- main ----
const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
if (!files.length) {
  problem(dir, "no YAML files");
}
const ctx = { podLabels: null, images: [], secretRefs: [], secrets: new Map(), later: [], kinds: new Set() };
const versions = new Set();
for (const f of files) {
  const file = path.join(dir, f);
  const docs = parseAllDocuments(fs.readFileSync(file, "utf8"), { version: "1.1", prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  let before = problems;
  for (const [i, doc] of list.entries()) {
    for (const e of [...doc.errors, ...doc.warnings]) problem(f, `YAML: ${e.message}`);
    if (doc.errors.length) continue;
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    if (f === "kustomization.yaml") {
      checkKustomization(file, obj, files);
      continue;
    }
    const name = get(obj, "metadata.name");
    const where = `${f}: ${obj.kind || "?"}/${name || `document ${i + 1}`}`;
    const entry = MODELS[`${obj.apiVersion} ${obj.kind}`];
    if (!entry) {
      problem(where, `apiVersion/kind ${obj.apiVersion} ${obj.kind} is not one this check knows`);
      continue;
    }
    const [Model, modulePath] = entry;
    try {
      new Model(obj).validate();
    } catch (e) {
      problem(where, `schema: ${e.message}`);
    }
    const rootIface = loadIface(rootDts(modulePath));
    if (!rootIface || !rootIface.props.size) problem(where, `cannot read the field list of ${modulePath}.d.ts`);
    checkFields(obj, rootIface, obj.kind, where);
    if (!name) problem(where, "metadata.name is missing");
    if (get(obj, "metadata.namespace") !== undefined) problem(where, "hard-codes metadata.namespace");
    labelsOk(where, get(obj, "metadata.labels"), "metadata");
    versions.add(get(obj, "metadata.labels")?.["app.kubernetes.io/version"]);
    ctx.kinds.add(obj.kind);
    switch (obj.kind) {
      case "Deployment": checkDeployment(where, obj, ctx); break;
      case "Job": checkJob(where, obj, ctx); break;
      case "Service": checkService(where, obj, ctx); break;
      case "PodDisruptionBudget": checkPdb(where, obj, ctx); break;
      case "NetworkPolicy": checkNetworkPolicy(where, obj, ctx); break;
      case "Secret": checkSecret(where, obj, f, ctx); break;
      default: break;
    }
  }
  if (problems === before) console.log(`ok ${f}`);
}
for (const fn of ctx.later) fn();
for (const k of ["Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "Job", "Secret"]) {
  if (!ctx.kinds.has(k)) problem(dir, `no ${k} found`);
}
if (files.length && !files.includes("kustomization.yaml")) problem(dir, "no kustomization.yaml");
// Every secretKeyRef and the key ring mount name a Secret and key that the example templates define.
for (const [where, name, key] of ctx.secretRefs) {
  if (!ctx.secrets.has(name)) problem(where, `uses Secret ${name}, which no *.example.yaml template shows`);
  else if (!ctx.secrets.get(name).has(key)) {
    problem(where, `uses key ${key} of Secret ${name}, missing from its example`);
  }
}
// One image and one version label everywhere, the tag matching the label.
const images = new Set(ctx.images.map(([, img]) => img));
if (images.size > 1) problem(dir, `the Deployment and the Job run different images: ${[...images].join(", ")}`);
if (versions.size > 1) problem(dir, `app.kubernetes.io/version differs between objects: ${[...versions].join(", ")}`);
for (const img of images) {
  const tag = /:([^/:@]+)$/.exec(img || "")?.[1];
  if (!versions.has(tag)) problem(dir, `image ${img}: tag is not the app.kubernetes.io/version label`);
}

if (problems) {
  console.log(`deploy/validate: ${problems} problem(s) in ${dir}`);
  process.exit(1);
}
console.log(`deploy/validate: ${files.length} files ok`);
