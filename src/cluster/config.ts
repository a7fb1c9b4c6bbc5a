/**
 * Membership settings and their presets. `lan` follows memberlist's DefaultLANConfig (tuned
 * for a data-center network) but for a shorter minimum suspicion; `local` is for loopback and
 * tests: ten times faster probing, so a killed member is seen dead in well under a second.
 * All durations are milliseconds. `swimConfig` merges overrides into a preset and refuses a
 * combination that cannot work.
 */
import { CloudstateError } from '../core/index.js';

export interface SwimConfig {
  /** How often this node probes one member (scaled up by local health). */
  probeIntervalMs: number;
  /** How long a direct ping waits for its ack before indirect probes start. */
  probeTimeoutMs: number;
  /** Members asked to probe on this node's behalf (ping-req). */
  indirectChecks: number;
  /** Minimum suspicion = suspicionMult × log10(N) × probeInterval. */
  suspicionMult: number;
  /** Maximum suspicion (no confirmations) = this × the minimum. */
  suspicionMaxTimeoutMult: number;
  /** Gossip is piggybacked retransmitMult × ceil(log10(N+1)) times. */
  retransmitMult: number;
  /** How often gossip is sent on its own, to `gossipNodes` random members. */
  gossipIntervalMs: number;
  gossipNodes: number;
  /** Dead members still receive gossip this long (so they learn it and can refute). */
  gossipToTheDeadMs: number;
  /** How often full state is exchanged with one random member (heals partitions). */
  pushPullIntervalMs: number;
  /** Local health multiplier cap (Lifeguard): timeouts stretch up to this many times. */
  awarenessMaxMultiplier: number;
  /** Bytes of a packet; piggybacked gossip fills what the primary message leaves. */
  packetBudgetBytes: number;
  /** Timeout of a reliable exchange (push-pull, join). */
  exchangeTimeoutMs: number;
  /** Dead and left members are forgotten this long after their status changed. */
  deadReclaimMs: number;
}

export const presets = {
  lan: {
    probeIntervalMs: 1000,
    probeTimeoutMs: 500,
    indirectChecks: 3,
    // memberlist uses 4; 2 keeps detection at 20 members under 5 s (≈1.6 probe periods to
    // the first suspicion + 2.6 s), while Lifeguard's confirmations and the 6× maximum keep
    // a lone, possibly wrong accuser from killing anyone quickly (zero false positives in the
    // 10 %-loss simulation over 2,000 periods).
    suspicionMult: 2,
    suspicionMaxTimeoutMult: 6,
    retransmitMult: 4,
    gossipIntervalMs: 200,
    gossipNodes: 3,
    gossipToTheDeadMs: 30_000,
    pushPullIntervalMs: 30_000,
    awarenessMaxMultiplier: 8,
    packetBudgetBytes: 1400,
    exchangeTimeoutMs: 10_000,
    deadReclaimMs: 60_000,
  },
  local: {
    probeIntervalMs: 100,
    probeTimeoutMs: 50,
    indirectChecks: 3,
    suspicionMult: 3,
    suspicionMaxTimeoutMult: 4,
    retransmitMult: 3,
    gossipIntervalMs: 30,
    gossipNodes: 3,
    gossipToTheDeadMs: 3_000,
    pushPullIntervalMs: 2_000,
    awarenessMaxMultiplier: 8,
    packetBudgetBytes: 1400,
    exchangeTimeoutMs: 2_000,
    deadReclaimMs: 10_000,
  },
} satisfies Record<string, SwimConfig>;

/**
 * A preset with `overrides`, checked. Throws `ERR_CLUSTER_CONFIG` for a duration that is not a
 * positive number, or a probe timeout that is not shorter than the probe interval: the probe's
 * verdict comes at the end of the interval and indirect probes start after the timeout, so a
 * timeout as long as the interval leaves no time for them, and one slow ack makes a suspect of
 * a live member (as `{ probeTimeoutMs: 200 }` on the 100 ms `local` preset did).
 */
export function swimConfig(preset: keyof typeof presets, overrides: Partial<SwimConfig> = {}): SwimConfig {
  const config: SwimConfig = { ...presets[preset], ...overrides };
  for (const [key, value] of Object.entries(config)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && key !== 'indirectChecks')) {
      throw new CloudstateError('ERR_CLUSTER_CONFIG', `cluster setting ${key} must be a positive number, got ${String(value)}`);
    }
  }
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    throw new CloudstateError(
      'ERR_CLUSTER_CONFIG',
      `probeTimeoutMs (${config.probeTimeoutMs}) must be shorter than probeIntervalMs (${config.probeIntervalMs}): a probe's verdict comes at the end of its interval, ` +
        'and indirect probes need the time after the timeout. To be more patient, raise both (e.g. probeIntervalMs 500, probeTimeoutMs 200) or suspicionMult.',
    );
  }
  return config;
}
