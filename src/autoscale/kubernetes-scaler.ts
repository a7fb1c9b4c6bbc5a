/**
 * `KubernetesDeploymentScaler`: scales the Deployment that runs the nodes through the
 * Kubernetes API, from inside the cluster. The count goes through the Deployment's `scale`
 * subresource (GET, then a JSON merge PATCH of `spec.replicas` when it differs); the status
 * (desired, ready, and whether a rollout is in progress) comes from the Deployment itself.
 * Credentials are the pod's service account: the token (re-read for every request, since the
 * kubelet rotates it), the cluster CA and the namespace under
 * `/var/run/secrets/kubernetes.io/serviceaccount/`, the API server at
 * `KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT`. All of it can be injected (tests). The RBAC
 * it needs is in `deploy/kubernetes/rbac.yaml`: `get`, `patch`, `update` on `deployments/scale`
 * and `get` on `deployments`.
 *
 * A rollout is in progress, as the reference reads it, unless the Deployment's `Progressing`
 * condition has the reason `NewReplicaSetAvailable`.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { CloudstateError, describeError } from '../core/index.js';
import type { Scaler, ScalerStatus } from './scaler.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubernetesScalerOptions {
  /** The Deployment's name. */
  deployment: string;
  /** Its namespace (default: the pod's, read from `namespacePath`; else `default`). */
  namespace?: string;
  /** API server host and port (default `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT` from `env`). */
  apiHost?: string;
  apiPort?: number;
  /** `https` (default); `http` only for tests against a plain local server. */
  protocol?: 'https' | 'http';
  /** A fixed bearer token (default: read from `tokenPath` for every request). */
  token?: string;
  /** The API server's CA, PEM (default: read from `caPath`). */
  ca?: string | Buffer;
  tokenPath?: string;
  caPath?: string;
  namespacePath?: string;
  /** Where `KUBERNETES_SERVICE_*` are read (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Per request, ms (default 10 s). */
  requestTimeoutMs?: number;
}

interface ApiResponse {
  status: number;
  body: string;
}

/** Scales a Deployment through its `scale` subresource; see the module comment. */
export class KubernetesDeploymentScaler implements Scaler {
  readonly namespace: string;
  private readonly host: string;
  private readonly port: number;
  private readonly ca: string | Buffer | undefined;
  private readonly options: KubernetesScalerOptions;

  constructor(options: KubernetesScalerOptions) {
    this.options = options;
    const env = options.env ?? process.env;
    const host = options.apiHost ?? env.KUBERNETES_SERVICE_HOST;
    if (!host) throw new CloudstateError('ERR_AUTOSCALER_KUBERNETES', 'KUBERNETES_SERVICE_HOST is not set: the Kubernetes scaler runs inside a pod (or give apiHost)');
    this.host = host;
    this.port = options.apiPort ?? Number(env.KUBERNETES_SERVICE_PORT ?? 443);
    this.namespace = options.namespace ?? readOptional(options.namespacePath ?? `${SA_DIR}/namespace`) ?? 'default';
    this.ca = options.ca ?? (options.protocol === 'http' ? undefined : readOptional(options.caPath ?? `${SA_DIR}/ca.crt`));
  }

  /** The Deployment's `scale` subresource path. */
  get scalePath(): string {
    return `${this.deploymentPath}/scale`;
  }

  get deploymentPath(): string {
    return `/apis/apps/v1/namespaces/${encodeURIComponent(this.namespace)}/deployments/${encodeURIComponent(this.options.deployment)}`;
  }

  async scale(members: number): Promise<void> {
    const current = parse<{ spec?: { replicas?: number } }>(await this.call('GET', this.scalePath), 'scale');
    if (current.spec?.replicas === members) return;
    const patch = JSON.stringify({ spec: { replicas: members } });
    await this.call('PATCH', this.scalePath, patch, 'application/merge-patch+json');
  }

  async status(): Promise<ScalerStatus> {
    type Deployment = {
      spec?: { replicas?: number };
      status?: { readyReplicas?: number; conditions?: { type?: string; reason?: string }[] };
    };
    const d = parse<Deployment>(await this.call('GET', this.deploymentPath), 'deployment');
    const settled = (d.status?.conditions ?? []).some((c) => c.type === 'Progressing' && c.reason === 'NewReplicaSetAvailable');
    return { desired: d.spec?.replicas ?? 0, ready: d.status?.readyReplicas ?? 0, upgrading: !settled };
  }

  private async call(method: string, path: string, body?: string, contentType?: string): Promise<ApiResponse> {
    const token = this.options.token ?? (await readFile(this.options.tokenPath ?? `${SA_DIR}/token`, 'utf8').catch(() => '')).trim();
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      headers['Content-Type'] = contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const transport = this.options.protocol === 'http' ? http : https;
    const response = await new Promise<ApiResponse>((resolve, reject) => {
      const req = transport.request(
        { hostname: this.host, port: this.port, path, method, headers, ca: this.ca, timeout: this.options.requestTimeoutMs ?? 10_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.requestTimeoutMs ?? 10_000} ms`)));
      req.on('error', reject);
      req.end(body);
    }).catch((err: unknown) => {
      throw new CloudstateError('ERR_AUTOSCALER_KUBERNETES', `${method} ${path} on the Kubernetes API at ${this.host}:${this.port} failed: ${describeError(err)}`, { cause: err });
    });
    if (response.status === 401 || response.status === 403) {
      throw new CloudstateError(
        'ERR_AUTOSCALER_KUBERNETES_FORBIDDEN',
        `${method} ${path}: ${response.status} from the Kubernetes API; the pod's service account needs get/patch on deployments/scale and get on deployments (deploy/kubernetes/rbac.yaml): ${excerpt(response.body)}`,
      );
    }
    if (response.status < 200 || response.status >= 300) {
      throw new CloudstateError('ERR_AUTOSCALER_KUBERNETES', `${method} ${path}: ${response.status} from the Kubernetes API: ${excerpt(response.body)}`);
    }
    return response;
  }
}

function parse<T>(response: ApiResponse, what: string): T {
  try {
    return JSON.parse(response.body) as T;
  } catch {
    throw new CloudstateError('ERR_AUTOSCALER_KUBERNETES', `the Kubernetes API sent a ${what} that is not JSON: ${excerpt(response.body)}`);
  }
}

/** A file's trimmed text, or undefined when it cannot be read (not in a pod). Read once, at construction. */
function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

const excerpt = (body: string) => (body.length > 300 ? `${body.slice(0, 300)}…` : body);
