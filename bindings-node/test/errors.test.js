'use strict'
const { test, after } = require('node:test')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const assert = require('node:assert/strict')
const { stateRoot, stateDirs, removeRoot } = require('./helpers.js')
const { Container, run } = require('..')

const root = stateRoot('errors')
after(() => {
  assert.deepEqual(stateDirs(root), [], 'failed creates leave nothing behind')
  removeRoot(root)
})

function expectCode(fn, code, pattern) {
  let err
  try {
    fn()
  } catch (e) {
    err = e
  }
  assert.ok(err instanceof Error, `expected an Error with code ${code}`)
  assert.equal(err.code, code, err.message)
  if (pattern) assert.match(err.message, pattern)
  return err
}

test('bad input is EINVAL, and the message names the option and the value', () => {
  expectCode(() => Container.create(), 'EINVAL', /options object/)
  expectCode(() => Container.create({ root }), 'EINVAL', /options\.args is required/)
  expectCode(() => Container.create({ args: [], root }), 'EINVAL', /options\.args must not be empty/)
  expectCode(() => Container.create({ args: 'ls', root }), 'EINVAL', /args must be an array of strings, got "ls"/)
  expectCode(() => Container.create({ args: ['ls', 1], root }), 'EINVAL', /array of strings/)
  expectCode(() => Container.create({ args: ['true'], memroy: '1G', root }), 'EINVAL', /unknown option "memroy"/)
  expectCode(() => Container.create({ args: ['true'], memory: 'lots', root }), 'EINVAL', /options\.memory = lots/)
  expectCode(() => Container.create({ args: ['true'], memory: -5, root }), 'EINVAL', /options\.memory/)
  expectCode(() => Container.create({ args: ['true'], cpus: 'two', root }), 'EINVAL', /options\.cpus/)
  expectCode(() => Container.create({ args: ['true'], pids: 0, root }), 'EINVAL', /options\.pids/)
  expectCode(() => Container.create({ args: ['true'], namespaces: ['pid', 'bogus'], root }), 'EINVAL', /bogus/)
  expectCode(() => Container.create({ args: ['true'], stdio: ['pipe', 'tty'], root }), 'EINVAL', /options\.stdio\[1\]/)
  expectCode(() => Container.create({ args: ['true'], uidMap: '0:x', root }), 'EINVAL', /0:x/)
  expectCode(() => Container.create({ args: ['true'], user: 'no-such-user', root }), 'EINVAL', /options\.user = "no-such-user": no user/)
  expectCode(() => Container.create({ args: ['true'], user: { uid: 'x' }, root }), 'EINVAL', /options\.user/)
  expectCode(() => Container.create({ args: ['true'], network: 'bridge', root }), 'EINVAL', /options\.network/)
  expectCode(() => Container.create({ args: ['true'], env: { 'A=B': 'c' }, root }), 'EINVAL', /options\.env/)
  expectCode(() => Container.create({ args: ['true'], rootfs: '/nonexistent/rootfs', root }), 'EINVAL', /root\.path.*\/nonexistent\/rootfs/)
  expectCode(() => Container.create({ args: ['true'], id: 'bad/id', root }), 'EINVAL', /bad\/id/)
  expectCode(() => Container.create({ args: ['true'], spec: { ociVersion: '1.0.2', linux: { namespaces: [{ type: 'nope' }] } }, root }), 'EINVAL', /nope/)
  expectCode(() => Container.create({ args: ['true'], stdio: [12345], root }), 'EBADF', /stdio\[0\]/)
  const e = expectCode(() => Container.create({ args: ['true'], memory: 'lots', root }), 'EINVAL')
  assert.equal(e.kind, 'InvalidConfig')
  assert.equal(e.errno, 22)
})

test('a value of the wrong type names the option, what it must be and the value; null is the default', () => {
  expectCode(() => Container.create({ args: ['true'], hostname: 5, root }), 'EINVAL', /options\.hostname must be a string, got 5/)
  expectCode(() => Container.create({ args: ['true'], env: ['A=1', 5], root }), 'EINVAL', /options\.env must be .*, got \["A=1",5\]/)
  expectCode(() => Container.create({ args: ['true'], uidMap: [{ containerId: 0 }], root }), 'EINVAL', /options\.uidMap must be .*, got \[\{"containerId":0\}\]/)
  expectCode(() => Container.create({ args: ['true'], tty: true, ttySize: 'big', root }), 'EINVAL', /options\.ttySize must be \{ rows, cols \}, got "big"/)
  expectCode(() => Container.create({ args: ['true'], root: () => {} }), 'EINVAL', /options\.root must be a string, got a function/)
  // Numbers are checked whole and in range, not wrapped or cut.
  expectCode(() => Container.create({ args: ['true'], pids: 1.5, root }), 'EINVAL', /options\.pids .*got 1\.5/)
  expectCode(() => Container.create({ args: ['true'], user: -1, root }), 'EINVAL', /options\.user must be an integer 0\.\.2\^32, got -1/)
  expectCode(() => Container.create({ args: ['true'], tty: true, ttySize: { rows: 24.5, cols: 80 }, root }), 'EINVAL', /options\.ttySize/)
  // null is the option's default, as undefined is; a size past 2^32 bytes is a number like any other.
  const c = Container.create({ args: ['true'], root, hostname: null, env: null, stdio: null, memory: 8 * 2 ** 30, cpus: null, tty: null, spec: null })
  c.delete({ force: true })
})

test('the options each call takes are the fields binding.d.ts declares for it', async () => {
  const dts = fs.readFileSync(path.join(__dirname, '..', 'binding.d.ts'), 'utf8')
  const fields = (...types) =>
    types.flatMap((t) => [...dts.match(new RegExp(`export interface ${t} \\{([\\s\\S]*?)\\n\\}`))[1].matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1])).sort()
  // The unknown-option error lists the options the call knows.
  const known = (e) => e.message.match(/unknown option "bogus" \(known: (.*)\)$/)[1].split(', ').sort()
  const c = Container.create({ args: ['true'], root })
  try {
    assert.deepEqual(known(expectCode(() => Container.create({ args: ['true'], root, bogus: 1 }), 'EINVAL')), fields('CreateOptions'))
    assert.deepEqual(known(expectCode(() => c.limit({ bogus: 1 }), 'EINVAL')), fields('LimitOptions'))
    assert.deepEqual(known(expectCode(() => c.exec(['true'], { bogus: 1 }), 'EINVAL')), fields('ExecOptions'))
    assert.deepEqual(known(expectCode(() => c.kill('KILL', { bogus: 1 }), 'EINVAL')), fields('KillOptions'))
    assert.deepEqual(known(await run(['true'], { root, bogus: 1 }).catch((e) => e)), fields('CreateOptions', 'RunOptions'))
    // The image functions' options.
    const { pull, importImage, images, removeImage, prune } = require('..')
    assert.deepEqual(known(await pull('busybox', { bogus: 1 }).catch((e) => e)), fields('PullOptions'))
    assert.deepEqual(known(await importImage('/nonexistent', null, { bogus: 1 }).catch((e) => e)), fields('StoreOptions'))
    assert.deepEqual(known(expectCode(() => images({ bogus: 1 }), 'EINVAL')), fields('StoreOptions'))
    assert.deepEqual(known(await removeImage('busybox', { bogus: 1 }).catch((e) => e)), fields('PruneOptions'))
    assert.deepEqual(known(await prune({ bogus: 1 }).catch((e) => e)), fields('PruneOptions'))
  } finally {
    c.delete({ force: true })
  }
})

test('run rejects bad input with EINVAL', async () => {
  await assert.rejects(run('true'), { code: 'EINVAL', message: /args must be an array of strings/ })
  await assert.rejects(run(['true'], { timeout: -1, root }), { code: 'EINVAL', message: /options\.timeout/ })
  await assert.rejects(run(['true'], { capture: 'yes', root }), { code: 'EINVAL', message: /options\.capture/ })
  await assert.rejects(run(['true'], { encoding: 'latin1', root }), { code: 'EINVAL', message: /options\.encoding/ })
})

test('wrong lifecycle state is ESTATE', async () => {
  const c = Container.create({ args: ['sleep', '60'], root })
  try {
    c.start()
    expectCode(() => c.start(), 'ESTATE', /cannot start container .*: it is running/)
    expectCode(() => c.delete(), 'ESTATE', /cannot delete container .*: it is running/)
    c.kill('KILL')
    await c.wait()
    expectCode(() => c.kill(), 'ESTATE', /kill container/)
    expectCode(() => c.start(), 'ESTATE', /stopped/)
  } finally {
    c.delete({ force: true })
  }
  expectCode(() => c.start(), 'ESTATE', /deleted/)
  expectCode(() => c.kill(), 'ESTATE', /deleted/)
})

test('bad signals are EINVAL', () => {
  const c = Container.create({ args: ['true'], root })
  try {
    expectCode(() => c.kill('SIGNOPE'), 'EINVAL', /SIGNOPE/)
    expectCode(() => c.kill(999), 'EINVAL', /999/)
    expectCode(() => c.delete({ force: 'yes' }), 'EINVAL', /force/)
  } finally {
    c.delete({ force: true })
  }
})

test('a user namespace whose root cannot reach the rootfs is EINVAL with a hint', async () => {
  const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'rcontainer-node-closed-')) // mode 0700
  const rootfs = path.join(closed, 'rootfs')
  fs.mkdirSync(rootfs)
  try {
    await assert.rejects(run(['true'], { root, rootfs, uidMap: '0:100000:65536' }), (e) => {
      assert.equal(e.code, 'EINVAL', e.message)
      assert.match(e.message, /not reachable by uid 100000/)
      assert.match(e.message, /chmod o\+x/)
      return true
    })
    assert.deepEqual(stateDirs(root), [])
  } finally {
    fs.rmSync(closed, { recursive: true, force: true })
  }
})

test('a user namespace on the default root works under a state root only root can reach (the skeleton is in the cache)', async () => {
  const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'rcontainer-node-closed-')) // mode 0700
  try {
    const r = await run(['id', '-u'], { root: closed, uidMap: '0:100000:65536', capture: true })
    assert.equal(r.code, 0, JSON.stringify(r))
    assert.equal(r.stdout.trim(), '0')
    assert.deepEqual(stateDirs(closed), [])
  } finally {
    removeRoot(closed)
  }
})

test('a taken id is EEXIST', () => {
  const c = Container.create({ args: ['true'], root, id: 'node-dup' })
  try {
    expectCode(() => Container.create({ args: ['true'], root, id: 'node-dup' }), 'EEXIST', /node-dup/)
  } finally {
    c.delete({ force: true })
  }
})

test('a command that does not exist: ENOENT naming the command, nothing left behind', async () => {
  await assert.rejects(run(['/no/such/binary'], { root }), (e) => {
    assert.ok(e instanceof Error)
    assert.equal(e.code, 'ENOENT')
    assert.equal(e.errno, 2)
    assert.match(e.message, /\/no\/such\/binary/)
    return true
  })
})

test('timeout kills the container and rejects with ETIMEDOUT and the partial output', async () => {
  const t0 = Date.now()
  await assert.rejects(run(['sh', '-c', 'echo started; sleep 30'], { root, capture: true, timeout: 300 }), (e) => {
    assert.equal(e.code, 'ETIMEDOUT')
    assert.match(e.message, /timed out after 300 ms/)
    assert.equal(e.stdout, 'started\n')
    assert.equal(e.result.signal, 'SIGKILL')
    assert.equal(e.timedOut, true)
    assert.equal(e.result.timedOut, true)
    return true
  })
  assert.ok(Date.now() - t0 < 5000)
})

test('captured output is bounded by maxBuffer and the cut is reported', async () => {
  const r = await run(['sh', '-c', 'head -c 5000 /dev/zero; echo err >&2; exit 2'], { root, capture: true, maxBuffer: 1000, encoding: 'buffer' })
  assert.equal(r.code, 2)
  assert.equal(r.stdout.length, 1000)
  assert.equal(r.stdoutTruncated, true)
  assert.equal(r.stderr.toString(), 'err\n')
  assert.equal(r.stderrTruncated, false)
  const exact = await run(['head', '-c', '1000', '/dev/zero'], { root, capture: true, maxBuffer: 1000 })
  assert.equal(exact.stdout.length, 1000)
  assert.equal(exact.stdoutTruncated, false)
  for (const bad of [-1, 1.5, '10', 2 ** 40]) {
    await assert.rejects(run(['true'], { root, capture: true, maxBuffer: bad }), { code: 'EINVAL', message: /options\.maxBuffer/ })
  }
})

test('a container printing without end cannot exhaust our memory: yes for 2 s keeps 16 MiB', () => {
  // In a Node process of its own: maxRSS is a process's peak. Before the bound, this captured
  // gigabytes and rejected with "Failed to convert rust String into napi string".
  const script = `
    const { run } = require(${JSON.stringify(require.resolve('..'))})
    run(['yes'], { root: ${JSON.stringify(root)}, capture: true, timeout: 2000 }).then(
      () => console.log('resolved'),
      (e) => console.log(JSON.stringify({ code: e.code, message: e.message, length: e.stdout.length, cut: e.result.stdoutTruncated, maxRSS: process.resourceUsage().maxRSS })),
    )`
  const out = require('node:child_process').execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 })
  const r = JSON.parse(out)
  assert.equal(r.code, 'ETIMEDOUT', out)
  assert.match(r.message, /timed out after 2000 ms \(the container was killed\)/)
  assert.equal(r.length, 16 << 20)
  assert.equal(r.cut, true)
  assert.ok(r.maxRSS < 300 * 1024, `peak memory ${Math.round(r.maxRSS / 1024)} MiB while capturing yes`)
})

test('isContainerError tells rcontainer errors from others', async () => {
  const { isContainerError } = require('..')
  const e = await run(['true'], { root, memory: 'lots' }).catch((x) => x)
  assert.equal(isContainerError(e), true)
  assert.equal(e.kind, 'InvalidConfig')
  const c = Container.create({ args: ['sleep', '60'], root })
  c.start()
  const t = await c.wait({ timeout: 100 }).catch((x) => x)
  assert.equal(isContainerError(t), true)
  assert.equal(t.kind, 'Timeout')
  c.delete()
  assert.equal(isContainerError(new Error('x')), false)
  assert.equal(isContainerError(Object.assign(new Error('x'), { code: 'EINVAL' })), false)
  assert.equal(isContainerError('EINVAL'), false)
})
