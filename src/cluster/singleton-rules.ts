/**
 * Where a cluster singleton lives, as pure functions (after Akka's ClusterSingletonManager):
 * on the oldest member of its role that is up or leaving. A leaving oldest member still
 * counts, so the next one cannot start until the leaving one has stopped its instance and
 * announced `exiting`: at most one instance at a time, hand-over included. An oldest member
 * that is unreachable but not yet downed also still counts: nobody can know it stopped, so
 * nobody else starts one until the downing policy has removed it. A member that announced it
 * hosts nothing (it lost quorum) is passed over: it has stopped its instance before saying so.
 */
import { byAge, hasRole, type ClusterMember } from './lifecycle.js';

/** The member that hosts (or is about to host) the singleton of `role`, if any. */
export function singletonTarget(members: readonly ClusterMember[], role: string | undefined): ClusterMember | undefined {
  return members.filter((m) => (m.state === 'up' || m.state === 'leaving') && m.hosting && hasRole(m, role)).sort(byAge)[0];
}

/** Whether this node may run the singleton now: it is up, has quorum, has the role and is the target. */
export function mayHost(self: ClusterMember, members: readonly ClusterMember[], role: string | undefined, hasQuorum: boolean): boolean {
  return self.state === 'up' && hasQuorum && hasRole(self, role) && singletonTarget(members, role)?.id === self.id;
}
