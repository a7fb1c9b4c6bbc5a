// The Kubernetes Deployment scaler against a local HTTPS server on 127.0.0.1 that plays the API
// server and records the exact requests (method, path, headers, body). No real Kubernetes API
// was available where this was written; the paths, verbs, merge-patch body and service-account
// files are those of the Kubernetes API reference (apps/v1 Deployment `scale` subresource). The
// certificate is made for the test with openssl (the CA the scaler trusts is the server's own
// self-signed certificate, as a pod's ca.crt is the cluster CA).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { KubernetesDeploymentScaler } from '../../../src/autoscale/kubernetes-scaler.js';
import { NoScaler } from '../../../src/autoscale/scaler.js';
import { scalerFromEnv } from '../../../src/autoscale/start.js';

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const dir = mkdtempSync(join(tmpdir(), 'k8s-scaler-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'ca.crt'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
writeFileSync(join(dir, 'token'), 'token-one\n');
writeFileSync(join(dir, 'namespace'), 'shop\n');

const seen: Seen[] = [];
let replicas = 2;
let conditions: { type: string; reason: string }[] = [{ type: 'Progressing', reason: 'NewReplicaSetAvailable' }];
let forbidden = false;
const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.crt')) }, (req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    seen.push({ method: req.method!, path: req.url!, headers: req.headers, body });
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (forbidden) return json(403, { kind: 'Status', reason: 'Forbidden', message: 'deployments.apps "cart" is forbidden' });
    const base = '/apis/apps/v1/namespaces/shop/deployments/cart';
    if (req.url === `${base}/scale` && req.method === 'GET') return json(200, { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'cart', namespace: 'shop' }, spec: { replicas }, status: { replicas } });
    if (req.url === `${base}/scale` && req.method === 'PATCH') {
      replicas = (JSON.parse(body) as { spec: { replicas: number } }).spec.replicas;
      return json(200, { kind: 'Scale', spec: { replicas } });
    }
    if (req.url === base && req.method === 'GET') return json(200, { kind: 'Deployment', metadata: { name: 'cart' }, spec: { replicas }, status: { readyReplicas: replicas - 1, conditions } });
    json(404, { kind: 'Status', reason: 'NotFound' });
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
const port = (server.address() as { port: number }).port;

const paths = { tokenPath: join(dir, 'token'), caPath: join(dir, 'ca.crt'), namespacePath: join(dir, 'namespace') };
const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) };

t.test('scale: GET the scale subresource, then a merge PATCH of spec.replicas, with the service account token', async (t) => {
  seen.length = 0;
  const scaler = new KubernetesDeploymentScaler({ deployment: 'cart', env, ...paths });
  t.equal(scaler.namespace, 'shop', 'namespace from the service account');
  await scaler.scale(3);
  t.equal(seen.length, 2);
  t.match(seen[0], { method: 'GET', path: '/apis/apps/v1/namespaces/shop/deployments/cart/scale', headers: { authorization: 'Bearer token-one', accept: 'application/json' }, body: '' });
  t.match(seen[1], {
    method: 'PATCH',
    path: '/apis/apps/v1/namespaces/shop/deployments/cart/scale',
    headers: { authorization: 'Bearer token-one', 'content-type': 'application/merge-patch+json', 'content-length': '23' },
    body: '{"spec":{"replicas":3}}',
  });
  t.equal(seen[1]!.body, '{"spec":{"replicas":3}}', 'exactly this body');
  t.equal(replicas, 3);
  seen.length = 0;
  await scaler.scale(3);
  t.same(seen.map((s) => s.method), ['GET'], 'already at that count: no PATCH');
  writeFileSync(join(dir, 'token'), 'token-two\n');
  seen.length = 0;
  await scaler.scale(1);
  t.same(seen.map((s) => s.headers.authorization), ['Bearer token-two', 'Bearer token-two'], 'the rotated token is read again');
  t.equal(replicas, 1);
});

t.test('status: desired, ready, and a rollout from the Progressing condition', async (t) => {
  const scaler = new KubernetesDeploymentScaler({ deployment: 'cart', env, ...paths });
  replicas = 3;
  conditions = [{ type: 'Available', reason: 'MinimumReplicasAvailable' }, { type: 'Progressing', reason: 'NewReplicaSetAvailable' }];
  seen.length = 0;
  t.same(await scaler.status(), { desired: 3, ready: 2, upgrading: false });
  t.match(seen[0], { method: 'GET', path: '/apis/apps/v1/namespaces/shop/deployments/cart', headers: { authorization: 'Bearer token-two' } });
  conditions = [{ type: 'Progressing', reason: 'ReplicaSetUpdated' }];
  t.same(await scaler.status(), { desired: 3, ready: 2, upgrading: true }, 'a new replica set rolling out');
});

t.test('errors: forbidden names the RBAC; an untrusted certificate is refused; no API host', async (t) => {
  forbidden = true;
  const scaler = new KubernetesDeploymentScaler({ deployment: 'cart', env, ...paths });
  await t.rejects(scaler.scale(2), { code: 'ERR_AUTOSCALER_KUBERNETES_FORBIDDEN', message: /403.*deployments\/scale.*rbac/ });
  forbidden = false;
  const untrusting = new KubernetesDeploymentScaler({ deployment: 'cart', env, ...paths, caPath: join(dir, 'missing.crt') });
  await t.rejects(untrusting.scale(2), { code: 'ERR_AUTOSCALER_KUBERNETES', message: /certificate/ }, 'the system CAs do not know the test certificate');
  t.throws(() => new KubernetesDeploymentScaler({ deployment: 'cart', env: {} }), { code: 'ERR_AUTOSCALER_KUBERNETES', message: /KUBERNETES_SERVICE_HOST/ });
  const defaults = new KubernetesDeploymentScaler({ deployment: 'cart', env, namespacePath: join(dir, 'none') });
  t.equal(defaults.namespace, 'default', 'no namespace file: default');
});

t.test('scalerFromEnv: Kubernetes when AUTOSCALER_DEPLOYMENT is set, otherwise none', async (t) => {
  t.ok(scalerFromEnv({})() instanceof NoScaler);
  const k = scalerFromEnv({ AUTOSCALER_DEPLOYMENT: 'cart', ...env })();
  t.ok(k instanceof KubernetesDeploymentScaler);
  t.match((k as KubernetesDeploymentScaler).scalePath, /\/deployments\/cart\/scale$/);
});
