/**
 * The autoscaler's public surface (`src/autoscale`): `startAutoscaling` wires it into a node
 * (the proxy calls it once); `MetricsRecorder` is what the proxy's hot path calls; `decide` and
 * the settings are the pure decision logic; `Scaler` is the SPI with its three implementations.
 */
export { scalerFromEnv, startAutoscaling } from './start.js';
export type { Autoscaling, AutoscalingCluster, AutoscalingOptions } from './start.js';
export { Autoscaler } from './autoscaler.js';
export type { AutoscalerMessage, AutoscalerOptions, AutoscalerReply } from './autoscaler.js';
export { adjustedRequestConcurrency, cap, decide, nodesFor, stableState } from './decide.js';
export type { AutoscalerState, DecideOutcome, DecisionReason, ScalingDecision } from './decide.js';
export { LoadWindow } from './load.js';
export type { ClusterLoad } from './load.js';
export { MetricsRecorder } from './metrics.js';
export type { MetricsReport } from './metrics.js';
export { MetricsReporter } from './reporter.js';
export type { MetricsReporterOptions } from './reporter.js';
export { AutoscalerPrometheus, autoscalerPrometheus } from './prometheus.js';
export { NoScaler } from './scaler.js';
export type { Scaler, ScalerStatus } from './scaler.js';
export { KubernetesDeploymentScaler } from './kubernetes-scaler.js';
export type { KubernetesScalerOptions } from './kubernetes-scaler.js';
export { LocalProcessScaler } from './local-process-scaler.js';
export type { LocalNode, LocalProcessScalerEvents, LocalProcessScalerOptions } from './local-process-scaler.js';
export { autoscalerEnabled, autoscalerSettingsFromEnv, defaultAutoscalerSettings, parseDuration, resolveSettings } from './settings.js';
export type { AutoscalerSettings } from './settings.js';
