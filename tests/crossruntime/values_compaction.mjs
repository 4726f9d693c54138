// Values-file compaction across runtimes (docs/FORMAT.md §Values file): Node makes a
// file store, deletes a secret and compacts (generation 1); the CLI (native core) then
// reads and compacts it again (generation 2); Node reads every value back.
// Usage: node values_compaction.mjs make|check STORE (passphrase: STRONGROOM_PASSPHRASE)
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Kms } from '../../npm/dist/node.mjs';

const [mode, path] = process.argv.slice(2);
const passphrase = process.env.STRONGROOM_PASSPHRASE;
const kms = await Kms.open({ path, passphrase });
try {
  if (mode === 'make') {
    await kms.createSecret({ secretName: 'vc/a', secretData: 'a'.repeat(2000) });
    await kms.putSecretValue({ secretName: 'vc/a', versionId: 'v2', secretData: 'second from node' });
    await kms.createSecret({ secretName: 'vc/gone', secretData: 'g'.repeat(5000) });
    await kms.deleteSecret({ secretName: 'vc/gone', forceDeleteWithoutRecovery: true });
    await kms.compactStore();
    assert.ok(existsSync(`${path}.values.1`) && !existsSync(`${path}.values`));
    console.log('ok - Node compacted its values file to generation 1');
  } else {
    assert.equal((await kms.getSecretValue({ secretName: 'vc/a', versionId: 'v1' })).secretData, 'a'.repeat(2000));
    assert.equal((await kms.getSecretValue({ secretName: 'vc/a' })).secretData, 'second from node');
    assert.equal((await kms.getSecretValue({ secretName: 'vc/cli' })).secretData, 'from the cli');
    assert.ok(existsSync(`${path}.values.2`) && !existsSync(`${path}.values.1`));
    console.log('ok - Node read every value of the store the CLI compacted again (generation 2)');
  }
} finally {
  await kms.close();
}
