// `npx tsx benchmarks/cluster/messaging-main.ts [--quick]`: the messaging benchmark alone;
// prints its progress and the result as JSON (benchmarks/cluster.ts runs it with the others).
import { benchMessaging } from './messaging.js';

const result = await benchMessaging({ quick: process.argv.includes('--quick'), progress: (line) => process.stderr.write(`${line}\n`) });
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
process.exit(0);
