// The pure decisions above SWIM: membership rules with metadata, the member lifecycle, the
// split-brain policies and where a singleton lives. Table-driven.
import t from 'tap';
import { byAge, lifecycleEvents, toClusterMember } from '../../../src/cluster/lifecycle.js';
import type { ClusterMember } from '../../../src/cluster/lifecycle.js';
import { decide } from '../../../src/cluster/rules.js';
import { mayHost, singletonTarget } from '../../../src/cluster/singleton-rules.js';
import { decideQuorum, emptyQuorumState, survives } from '../../../src/cluster/split-brain.js';
import type { DowningPolicy, ReferenceMember } from '../../../src/cluster/split-brain.js';
import type { Member, MemberMeta } from '../../../src/cluster/types.js';
import type { WireMeta } from '../../../src/cluster/wire.js';

const up: MemberMeta = { state: 'up', roles: ['a'], upSince: 100 };
const wireUp: WireMeta = { st: 'up', roles: ['a'], up: 100 };
const member = (over: Partial<Member> = {}): Member => ({ id: 'm', address: 'h:1', incarnation: 1, status: 'alive', since: 0, meta: up, ...over });
const self = member({ id: 'self', address: 'h:0' });

t.test('rules: alive gossip with new metadata is an update; the same metadata is silent', async (t) => {
  const cases: [string, Member | undefined, WireMeta, number, string | undefined][] = [
    ['a new member joins', undefined, wireUp, 1, 'joined'],
    ['higher incarnation, same meta: no event', member(), wireUp, 2, undefined],
    ['higher incarnation, new state: updated', member(), { ...wireUp, st: 'leaving' }, 2, 'updated'],
    ['higher incarnation, new roles: updated', member(), { ...wireUp, roles: ['b'] }, 2, 'updated'],
    ['higher incarnation, stops hosting: updated', member(), { ...wireUp, h: 0 }, 2, 'updated'],
    ['a suspect that refutes: recovered', member({ status: 'suspect' }), wireUp, 2, 'recovered'],
    ['a dead member back with a new incarnation: joined', member({ status: 'dead' }), wireUp, 2, 'joined'],
  ];
  for (const [name, current, meta, inc, event] of cases) {
    const d = decide(current, self, false, { t: 'alive', id: 'm', addr: 'h:1', inc, meta }, 5);
    t.equal(d.kind, 'update', name);
    if (d.kind === 'update') {
      t.equal(d.event, event, `${name}: event`);
      t.equal(d.member.meta.state, meta.st, `${name}: state carried`);
    }
  }
  t.equal(decide(member(), self, false, { t: 'alive', id: 'm', addr: 'h:1', inc: 1, meta: { ...wireUp, st: 'leaving' } }, 5).kind, 'ignore', 'same incarnation: old news');
});

t.test('lifecycle: state and reachability from SWIM status and announced state', async (t) => {
  const cases: [string, Member, boolean, ClusterMember['state'], boolean][] = [
    ['alive, up', member(), false, 'up', true],
    ['suspect, up: unreachable but still up', member({ status: 'suspect' }), false, 'up', false],
    ['dead, not downed: still up, unreachable', member({ status: 'dead' }), false, 'up', false],
    ['dead and downed', member({ status: 'dead' }), true, 'down', false],
    ['left: removed', member({ status: 'left', meta: { ...up, state: 'exiting' } }), false, 'removed', false],
    ['alive, leaving', member({ meta: { ...up, state: 'leaving' } }), false, 'leaving', true],
    ['alive, joining', member({ meta: { state: 'joining', roles: [], upSince: 0 } }), false, 'joining', true],
  ];
  for (const [name, m, downed, state, reachable] of cases) {
    const c = toClusterMember(m, downed);
    t.same([c.state, c.reachable], [state, reachable], name);
  }
});

t.test('lifecycle: events for each transition', async (t) => {
  const c = (state: ClusterMember['state'], reachable = true): ClusterMember => ({ id: 'm', address: 'h:1', state, reachable, liveness: 'alive', roles: [], upSince: 1, hosting: true });
  const cases: [string, ClusterMember | undefined, ClusterMember | undefined, string[]][] = [
    ['first seen joining', undefined, c('joining'), ['member-joining']],
    ['first seen up', undefined, c('up'), ['member-up']],
    ['joining → up', c('joining'), c('up'), ['member-up']],
    ['up → unreachable', c('up'), c('up', false), ['unreachable']],
    ['unreachable → reachable', c('up', false), c('up'), ['reachable']],
    ['up → leaving → (exiting)', c('up'), c('leaving'), ['member-leaving']],
    ['exiting → removed', c('exiting'), c('removed', false), ['member-removed']],
    ['up → exiting: the skipped step is filled in', c('up'), c('exiting'), ['member-leaving', 'member-exiting']],
    ['up → removed (a leave seen late)', c('up'), c('removed', false), ['member-leaving', 'member-exiting', 'member-removed']],
    ['joining → removed: a member that never was up just goes', c('joining'), c('removed', false), ['member-removed']],
    ['unreachable → down (then removed)', c('up', false), c('down', false), ['member-down', 'member-removed']],
    ['forgotten after a down: nothing more', c('down', false), undefined, []],
    ['forgotten while up: removed', c('up', false), undefined, ['member-removed']],
    ['no change', c('up'), c('up'), []],
    ['came back up (a new up time): updated', c('up'), { ...c('up'), upSince: 2 }, ['member-updated']],
    ['stops hosting: updated', c('up'), { ...c('up'), hosting: false }, ['member-updated']],
    ['new roles: updated', c('up'), { ...c('up'), roles: ['x'] }, ['member-updated']],
    ['a new up time while turning unreachable: both', c('up'), { ...c('up', false), upSince: 2 }, ['member-updated', 'unreachable']],
    ['joining → up with an up time: member-up only', { ...c('joining'), upSince: 0 }, c('up'), ['member-up']],
    ['down with a new up time: down, not updated', c('down', false), { ...c('down', false), upSince: 2 }, []],
  ];
  for (const [name, prev, next, types] of cases) t.same(lifecycleEvents(prev, next).map((e) => e.type), types, name);
});

const ref = (id: string, address: string, upSince: number): ReferenceMember => ({ id, address, upSince });
const five = [ref('a', 'h:1', 10), ref('b', 'h:2', 20), ref('c', 'h:3', 30), ref('d', 'h:4', 40), ref('e', 'h:5', 50)];
const four = five.slice(0, 4);

t.test('split brain: which side survives, per policy', async (t) => {
  const majority: DowningPolicy = { kind: 'keep-majority' };
  const oldest: DowningPolicy = { kind: 'keep-oldest' };
  const cases: [string, DowningPolicy, ReferenceMember[], string[], boolean][] = [
    ['majority: 3 of 5', majority, five, ['c', 'd', 'e'], true],
    ['majority: 2 of 5', majority, five, ['a', 'b'], false],
    ['majority: 2 of 4 with the lowest address', majority, four, ['a', 'd'], true],
    ['majority: 2 of 4 without it', majority, four, ['b', 'c'], false],
    ['majority: all', majority, five, ['a', 'b', 'c', 'd', 'e'], true],
    ['oldest: the side with the oldest', oldest, five, ['a', 'b'], true],
    ['oldest: the side without it', oldest, five, ['c', 'd', 'e'], false],
    ['oldest: the oldest alone goes down', oldest, five, ['a'], false],
    ['oldest: ... and the rest survive', oldest, five, ['b', 'c', 'd', 'e'], true],
    ['oldest: two members, the oldest alone survives', oldest, five.slice(0, 2), ['a'], true],
    ['static quorum 3: 3 reachable', { kind: 'static-quorum', quorumSize: 3 }, five, ['a', 'b', 'e'], true],
    ['static quorum 3: 2 reachable', { kind: 'static-quorum', quorumSize: 3 }, five, ['d', 'e'], false],
  ];
  for (const [name, policy, reference, reachable, expected] of cases) t.equal(survives(policy, reference, new Set(reachable)), expected, name);
});

t.test('split brain: the reducer downs the dead only on the surviving side, and keeps the reference otherwise', async (t) => {
  const cm = (id: string, liveness: Member['status'], reachable: boolean, upSince: number): ClusterMember => ({ id, address: `h:${id}`, state: 'up', reachable, liveness, roles: [], upSince, hosting: true });
  const all = ['a', 'b', 'c', 'd', 'e'].map((id, i) => cm(id, 'alive', true, i + 1));
  let d = decideQuorum({ kind: 'keep-majority' }, emptyQuorumState, all, 'a', 0, 0);
  t.same([d.hasQuorum, d.down, d.state.reference.size], [true, [], 5], 'everyone up: quorum, nothing to down');

  // a and b are cut off from c, d, e. On a's side, c, d, e turn dead: no quorum, nothing downed.
  const minority = [...all.slice(0, 2), ...all.slice(2).map((m) => cm(m.id, 'dead', false, m.upSince))];
  d = decideQuorum({ kind: 'keep-majority' }, d.state, minority, 'a', 0, 0);
  t.same([d.hasQuorum, d.down, d.state.reference.size], [false, [], 5], 'minority: no quorum, nobody downed');
  // SWIM forgets c, d, e: still in the reference, still missing.
  d = decideQuorum({ kind: 'keep-majority' }, d.state, all.slice(0, 2), 'a', 0, 0);
  t.same([d.hasQuorum, d.state.reference.size], [false, 5], 'forgotten members still count as missing');
  // The partition heals.
  d = decideQuorum({ kind: 'keep-majority' }, d.state, all, 'a', 0, 0);
  t.ok(d.hasQuorum, 'quorum regained once the majority is reachable again');

  // On c's side, a and b are dead: quorum, both downed and dropped from the reference.
  const majority = [...all.slice(0, 2).map((m) => cm(m.id, 'dead', false, m.upSince)), ...all.slice(2)];
  const before = decideQuorum({ kind: 'keep-majority' }, emptyQuorumState, all, 'c', 0, 1000);
  const early = decideQuorum({ kind: 'keep-majority' }, before.state, majority, 'c', 5000, 1000);
  t.same([early.hasQuorum, early.down], [true, []], 'majority: quorum, but nobody downed before the picture is stable');
  const m = decideQuorum({ kind: 'keep-majority' }, early.state, majority, 'c', 6000, 1000);
  t.same([m.hasQuorum, [...m.down].sort(), m.state.reference.size], [true, ['a', 'b'], 3], 'stable for stableAfterMs: the dead downed');
  const changed = decideQuorum({ kind: 'keep-majority' }, early.state, [...majority.slice(0, 4), cm('e', 'suspect', false, 5)], 'c', 6000, 1000);
  t.same(changed.down, [], 'a new unreachable member restarts the stable period');
  // Suspects are not downed: SWIM's suspicion has not run out.
  const s = decideQuorum({ kind: 'keep-majority' }, m.state, [...all.slice(2, 4), cm('e', 'suspect', false, 5)], 'c', 99_000, 0);
  t.same([s.hasQuorum, s.down], [true, []], 'a suspect is unreachable, not downed');
});

t.test('split brain: a loss of quorum counts only once it has lasted lossGraceMs', async (t) => {
  const cm = (id: string, address: string, reachable: boolean, upSince: number): ClusterMember => ({ id, address, state: 'up', reachable, liveness: reachable ? 'alive' : 'suspect', roles: [], upSince, hosting: true });
  // Two members: on a tie the lowest address survives, and the joiner has it.
  const both = [cm('old', 'h:2', true, 1), cm('new', 'h:1', true, 2)];
  const blip = [cm('old', 'h:2', true, 1), cm('new', 'h:1', false, 2)];
  const decide = (state: typeof emptyQuorumState, view: ClusterMember[], now: number) => decideQuorum({ kind: 'keep-majority' }, state, view, 'old', now, 2000, 500);
  const start = decide(emptyQuorumState, both, 0);
  t.ok(start.hasQuorum, 'both reachable: quorum');

  const lost = decide(start.state, blip, 1000);
  t.same([lost.hasQuorum, lost.state.lostAt], [true, 1000], 'the joiner missed a probe: still hosting, the loss noted');
  const still = decide(lost.state, blip, 1499);
  t.ok(still.hasQuorum, '499 ms into the loss: still hosting');
  const back = decide(still.state, both, 1600);
  t.same([back.hasQuorum, back.state.lostAt], [true, undefined], 'it answered again within the grace: nothing happened');

  // A new loss starts its own grace, however recent the last one was.
  const again = decide(back.state, blip, 1700);
  t.ok(decide(again.state, blip, 2199).hasQuorum, 'a second loss: its own 500 ms');
  const over = decide(decide(again.state, blip, 2199).state, blip, 2200);
  t.same([over.hasQuorum, over.down], [false, []], 'lasted 500 ms: no quorum, nobody downed');
  t.notOk(decide(over.state, blip, 9000).hasQuorum, 'and it stays lost while the picture holds');
  t.ok(decide(over.state, both, 9001).hasQuorum, 'regained at once when the member answers');

  // Without a grace the first unreachable verdict counts (the reducer's default).
  t.notOk(decideQuorum({ kind: 'keep-majority' }, start.state, blip, 'old', 1000, 2000).hasQuorum, 'grace 0: lost at once');
  // The surviving side's downing does not wait for anyone's grace: only stableAfterMs.
  const dead = [{ ...cm('old', 'h:2', false, 1), liveness: 'dead' as const }, cm('new', 'h:1', true, 2)];
  const seen = decideQuorum({ kind: 'keep-majority' }, emptyQuorumState, both, 'new', 0, 2000, 500);
  const early = decideQuorum({ kind: 'keep-majority' }, seen.state, dead, 'new', 1000, 2000, 500);
  t.same([early.hasQuorum, early.down], [true, []], 'the joiner, with the lowest address, keeps quorum and waits');
  t.same(decideQuorum({ kind: 'keep-majority' }, early.state, dead, 'new', 3000, 2000, 500).down, ['old'], 'and downs the oldest once the picture held stableAfterMs');
});

t.test('singleton: on the oldest up (or leaving) member of the role', async (t) => {
  const c = (id: string, state: ClusterMember['state'], upSince: number, roles: string[] = []): ClusterMember => ({ id, address: `h:${id}`, state, reachable: true, liveness: 'alive', roles, upSince, hosting: true });
  const members = [c('b', 'up', 20), c('a', 'up', 10), c('c', 'up', 30, ['x']), c('j', 'joining', 0)];
  t.equal(singletonTarget(members, undefined)?.id, 'a', 'the oldest');
  t.equal(singletonTarget(members, 'x')?.id, 'c', 'the oldest of the role');
  t.equal(singletonTarget(members, 'y'), undefined, 'no member of the role');
  t.equal(singletonTarget([c('a', 'leaving', 10), c('b', 'up', 20)], undefined)?.id, 'a', 'a leaving oldest still holds it until it exits');
  t.equal(singletonTarget([c('a', 'exiting', 10), c('b', 'up', 20)], undefined)?.id, 'b', 'then the next oldest');
  t.equal(singletonTarget([{ ...c('a', 'up', 10), hosting: false }, c('b', 'up', 20)], undefined)?.id, 'b', 'an oldest member that announced it hosts nothing is passed over');
  t.ok(mayHost(c('a', 'up', 10), members, undefined, true), 'the oldest hosts');
  t.notOk(mayHost(c('a', 'up', 10), members, undefined, false), 'not without quorum');
  t.notOk(mayHost(c('b', 'up', 20), members, undefined, true), 'not a younger one');
  t.notOk(mayHost(c('a', 'leaving', 10), [c('a', 'leaving', 10)], undefined, true), 'not while leaving');
  t.same([...members].sort(byAge).map((m) => m.id), ['a', 'b', 'c', 'j'], 'age order: members not up last');
});
