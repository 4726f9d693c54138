// A writer candidate for the lock race test (kms.test.mjs): on "go PATH" it tries to
// open the store and answers "held" or the error code; on "close" it lets go.
import { createInterface } from 'node:readline';
import { Kms } from 'strongroom';

let kms;
const say = (s) => process.stdout.write(`${s}\n`);
const lines = createInterface({ input: process.stdin });
say('ready');
for await (const line of lines) {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'go') {
    try {
      kms = await Kms.open({ path: arg, passphrase: 'pw' });
      say('held');
    } catch (e) {
      say(e.code ?? String(e));
    }
  } else if (cmd === 'close') {
    await kms?.close();
    kms = undefined;
    say('closed');
  } else if (cmd === 'exit') {
    await kms?.close();
    process.exit(0);
  }
}
