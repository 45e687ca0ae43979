'use strict'
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { stateRoot, stateDirs, removeRoot } = require('./helpers.js')
const { Container, run } = require('..')

const root = stateRoot('concurrency')
after(() => {
  assert.deepEqual(stateDirs(root), [])
  removeRoot(root)
})

test('20 containers awaited at once while a 10 ms timer keeps ticking', async () => {
  const containers = []
  for (let i = 0; i < 20; i++) {
    const c = Container.create({ args: ['sh', '-c', `sleep 1; exit ${i}`], root })
    c.start()
    containers.push(c)
  }
  let ticks = 0
  let maxGap = 0
  let last = Date.now()
  const timer = setInterval(() => {
    const now = Date.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
    ticks++
  }, 10)
  const t0 = Date.now()
  let results
  try {
    results = await Promise.all(containers.map((c) => c.wait()))
  } finally {
    clearInterval(timer)
    for (const c of containers) c.delete({ force: true })
  }
  const elapsed = Date.now() - t0
  assert.deepEqual(
    results.map((r) => r.code),
    containers.map((_, i) => i),
  )
  // ~1 s of waiting: a blocked loop would give 0 or 1 tick.
  const expected = elapsed / 10
  assert.ok(ticks >= expected * 0.5, `timer ticked ${ticks} times in ${elapsed} ms`)
  assert.ok(maxGap < 250, `the event loop stalled for ${maxGap} ms`)
})

test('20 concurrent run() calls with capture', async () => {
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => run(['sh', '-c', `echo ${i}`], { capture: true, root })))
  assert.deepEqual(
    rs.map((r) => r.stdout),
    rs.map((_, i) => `${i}\n`),
  )
})

test('10 MB on stdout and 10 MB on stderr captured without deadlock', async () => {
  const mb10 = 10 * 1024 * 1024
  const r = await run(['sh', '-c', `head -c ${mb10} /dev/zero | tr '\\0' a; head -c ${mb10} /dev/zero | tr '\\0' b >&2; echo done >&2`], {
    capture: true,
    root,
    timeout: 60000,
  })
  assert.equal(r.code, 0)
  assert.equal(r.stdout.length, mb10)
  assert.equal(r.stderr.length, mb10 + 5)
  assert.ok(/^a+$/.test(r.stdout))
  assert.ok(r.stderr.endsWith('bdone\n'))
})

test('interleaved 10 MB on both streams (a reader of only one would deadlock)', async () => {
  const r = await run(['sh', '-c', 'i=0; while [ $i -lt 160 ]; do head -c 65536 /dev/zero; head -c 65536 /dev/zero >&2; i=$((i+1)); done'], {
    capture: true,
    root,
    encoding: 'buffer',
    timeout: 60000,
  })
  assert.equal(r.code, 0)
  assert.equal(r.stdout.length, 160 * 65536)
  assert.equal(r.stderr.length, 160 * 65536)
})
