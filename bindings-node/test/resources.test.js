'use strict'
// Cgroup resources on real containers: OOM reported through oomKilled, live limit() changes,
// stats(), pause()/resume(), kill(signal, { all }), and the error codes of these calls.
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const { stateRoot, stateDirs, removeRoot, leftoverCgroups } = require('./helpers.js')
const { Container, run } = require('..')

const root = stateRoot('resources')
// Every container of this file has an id with this prefix, so its cgroups can be looked for.
const prefix = `nres-${process.pid}-`
let n = 0
const nextId = () => `${prefix}${n++}`
after(() => {
  assert.deepEqual(stateDirs(root), [], 'every container was deleted')
  assert.deepEqual(leftoverCgroups(prefix), [], 'no cgroup was left behind')
  removeRoot(root)
})

// Builds a 100 MB shell variable: far over a 32M limit.
const HOG = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo ${#x}"
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function expectCode(fn, code, message) {
  let err
  try {
    fn()
  } catch (e) {
    err = e
  }
  assert.ok(err instanceof Error, `expected a throw with code ${code}`)
  assert.equal(err.code, code, err.message)
  if (message) assert.match(err.message, message)
  return err
}

test('OOM: a container over its 32M memory limit is reported as oomKilled', async () => {
  const c = Container.create({ id: nextId(), args: ['sh', '-c', HOG], memory: '32M', root })
  try {
    c.start()
    const s = await c.wait()
    assert.equal(s.oomKilled, true, JSON.stringify(s))
    assert.equal(s.signal, 'SIGKILL')
    assert.equal(s.code, null)
    const st = c.stats()
    assert.ok(st.oomKills >= 1, JSON.stringify(st))
    assert.equal(st.memoryLimit, 32 * 1024 * 1024)
  } finally {
    c.delete({ force: true })
  }
})

test('OOM: run(..., { memory: "32M" }) resolves with oomKilled true; within the limit it is false', async () => {
  const r = await run(['sh', '-c', HOG], { id: nextId(), memory: '32M', capture: true, root })
  assert.equal(r.oomKilled, true, JSON.stringify(r))
  assert.equal(r.signal, 'SIGKILL')
  const ok = await run(['sh', '-c', 'x=$(head -c 1000000 /dev/zero | tr "\\0" a); echo ${#x}'], { id: nextId(), memory: 32 * 1024 * 1024, capture: true, root })
  assert.deepEqual(ok, { code: 0, signal: null, oomKilled: false, stdout: '1000000\n', stderr: '', stdoutTruncated: false, stderrTruncated: false })
})

test('limit(): raising the memory limit live lets a waiting hog finish', async () => {
  // The hog waits for a line on stdin, so the new limit is in force before it allocates.
  const c = Container.create({ id: nextId(), args: ['sh', '-c', `read line; ${HOG}`], memory: '32M', stdio: ['pipe', 'pipe', 'inherit'], root })
  try {
    c.start()
    assert.equal(c.stats().memoryLimit, 32 * 1024 * 1024)
    c.limit({ memory: '1G', memorySwap: -1 })
    assert.equal(c.stats().memoryLimit, 1024 * 1024 * 1024)
    let out = ''
    c.stdout.setEncoding('utf8').on('data', (d) => (out += d))
    const ended = once(c.stdout, 'end')
    c.stdin.end('go\n')
    const s = await c.wait()
    await ended
    assert.deepEqual(s, { code: 0, signal: null, oomKilled: false })
    assert.equal(out, '100000000\n')
  } finally {
    c.delete({ force: true })
  }
})

test('limit(): cpus and pids change live and show in stats()', async () => {
  const c = Container.create({ id: nextId(), args: ['sleep', '60'], pids: 20, root })
  try {
    c.start()
    assert.equal(c.stats().pidsLimit, 20)
    c.limit({ pids: 5, cpus: 0.5 })
    assert.equal(c.stats().pidsLimit, 5)
    c.limit({ pids: -1 })
    assert.equal(c.stats().pidsLimit, null)
  } finally {
    c.delete({ force: true })
  }
})

test('stats(): cpu usage moves while a busy loop runs', async () => {
  const c = Container.create({ id: nextId(), args: ['sh', '-c', 'while :; do :; done'], memory: '64M', root })
  try {
    c.start()
    const a = c.stats()
    for (const k of ['memoryUsage', 'memoryPeak', 'cpuUsageNs', 'cpuUserNs', 'cpuSystemNs', 'pidsCurrent', 'oomKills']) {
      assert.equal(typeof a[k], 'number', k)
    }
    assert.equal(a.memoryLimit, 64 * 1024 * 1024)
    assert.equal(a.pidsLimit, null)
    assert.equal(a.pidsCurrent, 1)
    assert.equal(a.oomKills, 0)
    await sleep(400)
    const b = c.stats()
    assert.ok(b.cpuUsageNs - a.cpuUsageNs > 100e6, `cpu moved only ${b.cpuUsageNs - a.cpuUsageNs} ns in 400 ms`)
    assert.ok(b.memoryUsage > 0)
  } finally {
    c.delete({ force: true })
  }
})

test('pause() stops cpu usage advancing, resume() restarts it; state is paused', async () => {
  const c = Container.create({ id: nextId(), args: ['sh', '-c', 'while :; do :; done'], root })
  try {
    c.start()
    await sleep(50)
    c.pause()
    assert.equal(c.state, 'paused')
    expectCode(() => c.pause(), 'ESTATE', /paused/)
    await sleep(50) // let the freeze settle
    const p1 = c.stats().cpuUsageNs
    await sleep(400)
    const p2 = c.stats().cpuUsageNs
    assert.ok(p2 - p1 < 20e6, `cpu advanced ${p2 - p1} ns while paused`)
    c.resume()
    assert.equal(c.state, 'running')
    expectCode(() => c.resume(), 'ESTATE', /running/)
    const r1 = c.stats().cpuUsageNs
    await sleep(400)
    const r2 = c.stats().cpuUsageNs
    assert.ok(r2 - r1 > 100e6, `cpu advanced only ${r2 - r1} ns after resume`)
  } finally {
    c.delete({ force: true })
  }
})

test('a paused container can be waited for after kill, and deleted with force', async () => {
  const c = Container.create({ id: nextId(), args: ['sleep', '60'], root })
  c.start()
  c.pause()
  c.delete({ force: true }) // thaws so SIGKILL lands
  assert.equal(c.state, 'deleted')
  const d = Container.create({ id: nextId(), args: ['sleep', '60'], root })
  d.start()
  d.pause()
  d.kill('KILL') // SIGKILL thaws a paused container (as runc), so it ends without resume()
  const s = await d.wait()
  assert.equal(s.signal, 'SIGKILL')
  d.delete()
})

test('kill(signal, { all: true }) signals every process of the container', async () => {
  // The init catches SIGTERM (a handler, which its children do not inherit, unlike an ignored signal).
  const c = Container.create({ id: nextId(), args: ['sh', '-c', "trap : TERM; sleep 60 & sleep 60 & wait; wait; echo done"], stdio: ['ignore', 'pipe', 'inherit'], root })
  try {
    c.start()
    for (let i = 0; i < 100 && c.stats().pidsCurrent < 3; i++) await sleep(10)
    assert.equal(c.stats().pidsCurrent, 3)
    let out = ''
    c.stdout.setEncoding('utf8').on('data', (d) => (out += d))
    const ended = once(c.stdout, 'end')
    c.kill('TERM', { all: true })
    const s = await c.wait()
    await ended
    assert.deepEqual(s, { code: 0, signal: null, oomKilled: false })
    assert.equal(out, 'done\n')
    expectCode(() => c.kill('KILL', { all: true }), 'ESTATE')
  } finally {
    c.delete({ force: true })
  }
})

test('limit(), stats(), pause(), resume(), kill() on a deleted container are ESTATE', async () => {
  const c = Container.create({ id: nextId(), args: ['true'], root })
  c.start()
  await c.wait()
  expectCode(() => c.limit({ memory: '64M' }), 'ESTATE', /stopped/)
  expectCode(() => c.pause(), 'ESTATE')
  c.delete()
  expectCode(() => c.limit({ memory: '64M' }), 'ESTATE', /limit container .*deleted/)
  expectCode(() => c.stats(), 'ESTATE', /deleted/)
  expectCode(() => c.pause(), 'ESTATE', /deleted/)
  expectCode(() => c.resume(), 'ESTATE', /deleted/)
  expectCode(() => c.kill('KILL', { all: true }), 'ESTATE', /deleted/)
})

test('bad limit() values are EINVAL naming the field', async () => {
  const c = Container.create({ id: nextId(), args: ['sleep', '60'], root })
  try {
    c.start()
    expectCode(() => c.limit({ memory: 'lots' }), 'EINVAL', /options\.memory = lots/)
    expectCode(() => c.limit({ memory: -5 }), 'EINVAL', /options\.memory/)
    expectCode(() => c.limit({ memory: 0 }), 'EINVAL', /options\.memory/)
    expectCode(() => c.limit({ memory: true }), 'EINVAL', /options\.memory/)
    expectCode(() => c.limit({ memorySwap: 'x' }), 'EINVAL', /options\.memorySwap/)
    expectCode(() => c.limit({ memory: '64M', memorySwap: '32M' }), 'EINVAL', /options\.memorySwap/)
    expectCode(() => c.limit({ cpus: 'two' }), 'EINVAL', /options\.cpus/)
    expectCode(() => c.limit({ cpus: 0 }), 'EINVAL', /options\.cpus/)
    expectCode(() => c.limit({ pids: 0 }), 'EINVAL', /options\.pids/)
    expectCode(() => c.limit({ pids: 1.5 }), 'EINVAL', /options\.pids/)
    expectCode(() => c.limit({ memroy: '64M' }), 'EINVAL', /unknown option "memroy"/)
    expectCode(() => c.limit({}), 'EINVAL', /nothing to change/)
    expectCode(() => c.limit(), 'EINVAL', /options object/)
    expectCode(() => c.limit('64M'), 'EINVAL', /options object/)
    expectCode(() => c.kill('TERM', { everything: true }), 'EINVAL', /unknown option "everything"/)
    expectCode(() => c.kill('TERM', { all: 'yes' }), 'EINVAL', /options\.all/)
    expectCode(() => Container.create({ args: ['true'], memorySwap: 'x', root }), 'EINVAL', /options\.memorySwap/)
    assert.equal(c.state, 'running', 'a refused limit() leaves the container alone')
  } finally {
    c.delete({ force: true })
  }
})

test('the sandbox preset: nobody, no capabilities, a read-only root, only lo, 64 processes; options given win', async () => {
  const script = 'id -u; grep CapEff /proc/self/status; touch /etc/x 2>/dev/null || echo ro; echo w > /tmp/w && echo tmp-ok; ls /sys/class/net; cat /sys/fs/cgroup/pids/pids.max'
  const r = await run(['sh', '-c', script], { root, capture: true, sandbox: true })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.stdout.split('\n').slice(0, 6), ['65534', 'CapEff:\t0000000000000000', 'ro', 'tmp-ok', 'lo', '64'])
  const mine = await run(['sh', '-c', 'id -u; cat /sys/fs/cgroup/pids/pids.max'], { root, capture: true, sandbox: true, user: 1000, pids: 10 })
  assert.deepEqual(mine.stdout.split(/\s+/).filter(Boolean), ['1000', '10'])
  await assert.rejects(run(['true'], { root, sandbox: 'yes' }), { code: 'EINVAL', message: /options\.sandbox/ })
})
