// The named error codes the package exports are the protocol's table
// (docs/protocol.md 6.1, itself checked against the protocol crate).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode } from '../../dist/node.js';
import { root } from '../support.mjs';

test('ErrorCode names every row of the error code table, and nothing else', () => {
  const spec = readFileSync(path.join(root, 'docs', 'protocol.md'), 'utf8');
  const section = spec.slice(spec.indexOf('### 6.1 Error codes'), spec.indexOf('### 6.2'));
  const rows = [...section.matchAll(/^\| (\d+) \| `([a-z_]+)` \|/gm)].map(([, code, name]) => [name.toUpperCase(), Number(code)]);
  assert.ok(rows.length >= 20, `the table was found (${rows.length} rows)`);
  assert.deepEqual(Object.entries(ErrorCode).sort(), rows.sort());
});
