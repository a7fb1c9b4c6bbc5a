/**
 * The Scaler SPI: how the autoscaler's decisions reach the platform that runs the nodes. A
 * scaler only carries out a count; it decides nothing. Implementations: `NoScaler` (here: logs
 * and does nothing, for clusters resized by hand or by another controller),
 * `KubernetesDeploymentScaler` (./kubernetes-scaler.ts) and `LocalProcessScaler`
 * (./local-process-scaler.ts).
 */

/** What the platform says of the nodes it runs. */
export interface ScalerStatus {
  /** Members the platform is asked to run (a Deployment's `spec.replicas`). */
  readonly desired: number;
  /** Members running and ready, when the platform knows. */
  readonly ready?: number;
  /** A new version is rolling out: concurrency is unreliable until it is done. */
  readonly upgrading: boolean;
}

/** Carries out scaling decisions. Calls come one at a time from the autoscaler singleton. */
export interface Scaler {
  /**
   * Asks the platform for `members` members in all. Resolves once the platform accepted the
   * request, not once the members are up; rejects (with a `CloudstateError` whose code names
   * the scaler) when it could not. Asking for the count the platform already has is harmless.
   */
  scale(members: number): Promise<void>;
  /** The platform's view, if the scaler can read it (polled by the autoscaler, every `statusIntervalMs`). */
  status?(): Promise<ScalerStatus>;
  /** Releases what the scaler holds (it stops nothing it started unless its own docs say so). */
  close?(): Promise<void>;
}

/** A scaler that does nothing: decisions are logged and exported as metrics only. */
export class NoScaler implements Scaler {
  /** The last count asked for, for tests and dashboards. */
  lastRequested: number | undefined;

  async scale(members: number): Promise<void> {
    this.lastRequested = members;
  }
}
