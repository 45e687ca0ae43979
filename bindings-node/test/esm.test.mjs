import { test } from 'node:test'
import assert from 'node:assert/strict'
import rc, { Container, run, pull, importImage, images, removeImage, prune } from 'rcontainer'
import { stateRoot, stateDirs, removeRoot } from './helpers.js'

test('ESM import: named and default exports', async () => {
  assert.equal(typeof Container.create, 'function')
  assert.equal(rc.run, run)
  for (const [name, f] of Object.entries({ pull, importImage, images, removeImage, prune })) assert.equal(f, rc[name], name)
  const root = stateRoot('esm')
  try {
    const r = await run(['echo', 'esm'], { capture: true, root })
    assert.equal(r.stdout, 'esm\n')
    assert.deepEqual(stateDirs(root), [])
  } finally {
    removeRoot(root)
  }
})
