/**
 * The Cloudstate chat sample's presence service as a CRDT entity: one entity per user, its state
 * a `Vote` that the proxies replicate across their nodes. Each node's user function casts that
 * node's vote: for, while at least one `Connect` stream of the user is open on the node. A user
 * is online while at least one node votes for (`atLeastOne`), so a user connected on node 1 is
 * online for a `Monitor` on node 2 too. `Monitor` answers the status at once, then each change.
 */
import { fileURLToPath } from 'node:url';
import { CrdtEntity, Vote, type CrdtCommandContext } from '@cloudstate/cluster/function';

/** The directory of the sample's .proto files. */
export const protoDir = fileURLToPath(new URL('./proto', import.meta.url));

/** `cloudstate.samples.chat.presence.User`. */
interface User {
  name: string;
}

/** A new presence entity type, ready to be served. */
export function presenceEntity(): CrdtEntity<Vote> {
  /** Open Connect streams on this node, by user (entity id): the vote goes when the last one does. */
  const connections = new Map<string, number>();

  return new CrdtEntity<Vote>({
    serviceName: 'cloudstate.samples.chat.presence.Presence',
    protoFiles: ['presence.proto'],
    includeDirs: [protoDir],
    persistenceId: 'presence',
    commandHandlers: {
      /** Online while the stream lasts: votes for now, withdraws the vote when the client cancels. */
      Connect(_user: User, ctx: CrdtCommandContext<Vote>) {
        if (!ctx.streamed) ctx.fail('Connect keeps the user online while its stream is open: call it as a server-streaming call');
        const vote = (ctx.state ??= new Vote());
        connections.set(ctx.entityId, (connections.get(ctx.entityId) ?? 0) + 1);
        vote.vote(true);
        ctx.onStreamCancel = (state) => {
          const left = (connections.get(ctx.entityId) ?? 1) - 1;
          if (left > 0) return void connections.set(ctx.entityId, left);
          connections.delete(ctx.entityId);
          state?.vote(false);
        };
        // An answer at once, so that HTTP clients get their response headers now.
        return {};
      },
      /** The user's status now, then every time it changes. */
      Monitor(_user: User, ctx: CrdtCommandContext<Vote>) {
        let online = ctx.state?.atLeastOne ?? false;
        if (ctx.streamed) {
          ctx.onStateChange = (state) => {
            if (state.atLeastOne === online) return undefined;
            online = state.atLeastOne;
            return { online };
          };
        }
        return { online };
      },
    },
  });
}
