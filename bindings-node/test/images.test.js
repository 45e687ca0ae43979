'use strict'
// Images, over real containers: a busybox OCI layout built offline and byte for byte the same on
// every run by tests/images/make-image.sh (from Debian's busybox-static), imported into a store
// of each test's own; containers on copy-on-write roots over its layers; pulls from Debian's
// docker-registry on 127.0.0.1 (tests/images/registry.sh, filled by push.sh with skopeo).
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const { stateRoot, stateDirs, removeRoot } = require('./helpers.js')
const { Container, run, pull, importImage, images, removeImage, prune, isContainerError } = require('..')

const tools = path.join(__dirname, '..', '..', 'tests', 'images')
const root = stateRoot('images')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rcontainer-node-images-'))
// The layout's directory name is the repository of its images: busybox:latest (Cmd sh),
// busybox:busybox-extra (a second layer, Entrypoint sh -c, Env FOO=bar, WorkingDir /extra, User
// app, StopSignal SIGINT, a whiteout of /etc/group) and busybox:multi (an index of two platforms).
const layout = path.join(tmp, 'busybox')
const made = {} // make-image.sh's output: NAME -> digest, 'platform' -> linux/ARCH
const registries = [] // dirs of registries to stop
const containers = new Set() // created here, deleted at the end whatever happened

after(() => {
  for (const c of containers) {
    try {
      c.delete({ force: true })
    } catch {
      // deleted already
    }
  }
  for (const dir of registries) spawnSync(path.join(tools, 'registry.sh'), ['stop', dir], { stdio: 'inherit', timeout: 60000 })
  const left = stateDirs(root)
  removeRoot(root)
  fs.rmSync(tmp, { recursive: true, force: true })
  assert.deepEqual(left, [], 'containers left in the state root')
})

before(() => {
  const out = execFileSync(path.join(tools, 'make-image.sh'), [layout, '--extra', '--no-check'], { encoding: 'utf8', timeout: 300000 })
  for (const line of out.trim().split('\n')) {
    const [name, value] = line.split(' ')
    made[name] = value
  }
  assert.match(made.latest, /^sha256:[0-9a-f]{64}$/, out)
})

let storeN = 0
/** A new store with the layout's images imported (or empty). */
async function store(imported = true) {
  const dir = path.join(tmp, `store-${++storeN}`)
  if (imported) await importImage(layout, { store: dir })
  return dir
}

/** A container of this file's (deleted at the end if a test does not get to it). */
function create(options) {
  const c = Container.create({ root, ...options })
  containers.add(c)
  return c
}

const roots = (s) => fs.readdirSync(path.join(s, 'containers'))
const layerDirs = (s) => fs.readdirSync(path.join(s, 'layers'))

/** run() from an image with its output captured. */
const sh = (s, image, script, options = {}) => run(script === null ? [] : ['sh', '-c', script], { root, store: s, image, capture: true, ...options })

function expectThrow(fn, code, pattern) {
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

test("importImage: a layout's images named by its directory, images() lists them; a name for one image; bad archives", async () => {
  const s = await store(false)
  const imported = await importImage(layout, { store: s })
  const byTag = Object.fromEntries(imported.map((i) => [i.tag, i]))
  assert.deepEqual(Object.keys(byTag).sort(), ['busybox-extra', 'latest', 'multi'])
  const latest = byTag.latest
  assert.equal(latest.name, 'docker.io/library/busybox:latest')
  assert.equal(latest.repository, 'busybox')
  assert.equal(latest.digest, made.latest)
  assert.match(latest.id, /^sha256:[0-9a-f]{64}$/)
  assert.equal(latest.layers, 1)
  assert.equal(byTag['busybox-extra'].layers, 2)
  assert.ok(latest.size > 100000, `size ${latest.size}`)
  assert.equal(latest.created, '2024-01-01T00:00:00Z')
  const sorted = (l) => [...l].sort((a, b) => a.name.localeCompare(b.name))
  assert.deepEqual(sorted(images({ store: s })), sorted(imported))
  // Layer 1 is shared by the three images: unpacked once.
  assert.equal(layerDirs(s).length, 3)

  // A layout of one image takes a name.
  const one = path.join(tmp, 'one')
  fs.cpSync(layout, one, { recursive: true })
  const index = JSON.parse(fs.readFileSync(path.join(one, 'index.json'), 'utf8'))
  index.manifests = index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'latest')
  fs.writeFileSync(path.join(one, 'index.json'), JSON.stringify(index))
  const [named] = await importImage(one, 'tools/mybox:v1', { store: s })
  assert.equal(named.name, 'docker.io/tools/mybox:v1')
  assert.equal(named.id, latest.id)
  await assert.rejects(importImage(layout, 'mybox', { store: s }), { code: 'EINVAL', message: /holds 3 images/ })
  await assert.rejects(importImage(path.join(tmp, 'no-such-layout'), { store: s }), (e) => {
    assert.equal(e.code, 'ENOENT', e.message)
    assert.match(e.message, /no-such-layout/)
    return true
  })
  const empty = fs.mkdtempSync(path.join(tmp, 'empty-'))
  await assert.rejects(importImage(empty, null, { store: s }), { code: 'EINVAL', message: /neither an OCI image layout .* nor a docker save archive/ })
  await assert.rejects(importImage(layout, 5), { code: 'EINVAL', message: /name must be a string, got 5/ })
})

test("run from an image: PID 1, the image's Entrypoint, Cmd, Env, WorkingDir and User, and the options that override them", async () => {
  const s = await store()
  const extra = 'busybox:busybox-extra'
  const out = async (image, script, options) => {
    const r = await sh(s, image, script, options)
    assert.equal(r.code, 0, JSON.stringify(r))
    return r.stdout
  }
  assert.equal(await out('busybox', 'echo $$'), '1\n')
  // The image's own command (Entrypoint sh -c + Cmd), its second layer and whiteout.
  assert.equal(await out(extra, null), 'from-extra\nhello from layer 2\n')
  assert.equal(await run([], { root, store: s, image: extra, capture: true }).then((r) => r.stdout), 'from-extra\nhello from layer 2\n')
  assert.equal(await out('busybox', 'test -e /etc/group && echo group'), 'group\n')
  const whiteout = await run(['test ! -e /etc/group && test -e /etc/passwd && echo whited-out'], { root, store: s, image: extra, capture: true })
  assert.equal(whiteout.stdout, 'whited-out\n')
  // args replace Cmd (the Entrypoint stays); Env, WorkingDir and User (a name of the image's passwd).
  const env = (opts) => run(['echo $FOO $NEW $(pwd) $(id -un) $$'], { root, store: s, image: extra, capture: true, ...opts }).then((r) => r.stdout)
  assert.equal(await env({}), 'bar /extra app 1\n')
  // env adds and replaces, cwd and user win.
  assert.equal(await env({ env: { FOO: 'mine', NEW: 'x' }, cwd: '/tmp', user: 0 }), 'mine x /tmp root 1\n')
  assert.equal(await env({ env: ['FOO=list'], user: 'nobody' }), 'list /extra nobody 1\n')
  // entrypoint replaces the image's and drops its Cmd; '' clears it; an array is a command with its first arguments.
  const ep = (args, entrypoint) => run(args, { root, store: s, image: extra, capture: true, entrypoint }).then((r) => r.stdout)
  assert.equal(await ep(['a', 'b'], '/bin/echo'), 'a b\n')
  assert.equal(await ep([], '/bin/pwd'), '/extra\n')
  assert.equal(await ep(['id', '-u'], ''), '1000\n')
  assert.equal(await ep(['y'], ['/bin/echo', '-n', 'x']), 'x y')
  assert.equal(await ep(['id', '-un'], []), 'app\n')
  // The exit status is the command's; the image can be named by its id (whole or 12 digits).
  assert.equal((await run(['exit 7'], { root, store: s, image: extra })).code, 7)
  const { id } = images({ store: s }).find((i) => i.tag === 'latest')
  assert.equal(await out(id, 'echo by-id'), 'by-id\n')
  assert.equal(await out(id.slice(7, 19), 'echo by-short-id'), 'by-short-id\n')
  // The sandbox preset over an image: nobody, a read-only root, a writable /tmp.
  assert.equal(await out('busybox', 'id -u; touch /x 2>/dev/null || echo ro; touch /tmp/x && echo tmp', { sandbox: true }), '65534\nro\ntmp\n')
  // exec into a container from an image runs as its process does (the image's Env, WorkingDir, User).
  const c = create({ store: s, image: extra, args: ['sleep 60'] })
  try {
    c.start()
    const p = await c.exec(['sh', '-c', 'echo $FOO $(pwd) $(id -un)'], { capture: true }).wait()
    assert.equal(p.stdout, 'bar /extra app\n')
  } finally {
    c.delete({ force: true })
  }
  assert.deepEqual(roots(s), [])
})

test("copy-on-write: what a container writes, changes or deletes is its own; the image's layer is untouched", async () => {
  const s = await store()
  const lower = fs.readdirSync(path.join(s, 'layers')).map((d) => path.join(s, 'layers', d)).find((d) => fs.existsSync(path.join(d, 'bin', 'su-test')))
  const passwd = fs.readFileSync(path.join(lower, 'etc', 'passwd'), 'utf8')
  const a = create({ store: s, image: 'busybox', args: ['sleep', '60'] })
  const b = create({ store: s, image: 'busybox', args: ['sleep', '60'] })
  try {
    a.start()
    b.start()
    const inA = (script) => a.exec(['sh', '-c', script], { capture: true }).wait()
    const inB = (script) => b.exec(['sh', '-c', script], { capture: true }).wait()
    const w = await inA('echo changed >> /etc/passwd && echo new > /new && rm /bin/su-test /bin/ls && echo written')
    assert.equal(w.stdout, 'written\n', w.stderr)
    assert.equal((await inA('cat /new; tail -n1 /etc/passwd; test -e /bin/su-test || echo su-test-gone')).stdout, 'new\nchanged\nsu-test-gone\n')
    // b sees the image as it is.
    const r = await inB('test -e /new && echo seen || echo unseen; grep -c changed /etc/passwd; ls -l /bin/su-test | cut -c1-10; test -e /bin/ls && echo ls-here')
    assert.equal(r.stdout, 'unseen\n0\n-rwsr-xr-x\nls-here\n')
    // The layer in the store is untouched; a's changes are in its own upper directory.
    assert.equal(fs.readFileSync(path.join(lower, 'etc', 'passwd'), 'utf8'), passwd)
    assert.equal(fs.existsSync(path.join(lower, 'new')), false)
    assert.equal(fs.statSync(path.join(lower, 'bin', 'su-test')).mode & 0o7777, 0o4755)
    assert.equal(fs.lstatSync(path.join(lower, 'bin', 'ls')).isSymbolicLink(), true)
    assert.equal(fs.readFileSync(path.join(s, 'containers', a.id, 'upper', 'new'), 'utf8'), 'new\n')
    assert.equal(fs.existsSync(path.join(s, 'containers', b.id, 'upper', 'new')), false)
  } finally {
    a.delete({ force: true })
    b.delete({ force: true })
  }
  // A new container sees the image as it is.
  assert.equal((await sh(s, 'busybox', 'test -e /new || echo fresh')).stdout, 'fresh\n')
  assert.deepEqual(roots(s), [])
})

test('readOnly: the layers alone (no writable layer); a rootfs read-only', async () => {
  const s = await store()
  const c = create({ store: s, image: 'busybox', readOnly: true, args: ['sleep', '60'] })
  try {
    const dir = fs.readdirSync(path.join(s, 'containers', c.id)).sort()
    assert.ok(!dir.includes('upper') && !dir.includes('work'), `no writable layer: ${dir}`)
    c.start()
    const r = await c.exec(['sh', '-c', 'touch /x; cat /etc/hostname 2>/dev/null; echo $?'], { capture: true }).wait()
    assert.match(r.stderr, /Read-only file system/)
  } finally {
    c.delete({ force: true })
  }
  const r = await sh(s, 'busybox', 'echo hi > /etc/x', { readOnly: true })
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /Read-only file system/)
  // A root filesystem directory (the image's unpacked layer) read-only: nothing lands in it.
  const lower = path.join(s, 'layers', layerDirs(s).find((d) => fs.existsSync(path.join(s, 'layers', d, 'bin', 'busybox'))))
  const ro = await run(['sh', '-c', 'touch /written'], { root, rootfs: lower, readOnly: true, capture: true })
  assert.notEqual(ro.code, 0)
  assert.match(ro.stderr, /Read-only file system/)
  assert.equal(fs.existsSync(path.join(lower, 'written')), false)
  assert.deepEqual(roots(s), [])
})

test("a container's copy-on-write root goes with it: delete, run(), a create that fails, an id taken, Node's exit", async () => {
  const s = await store()
  const c = create({ store: s, image: 'busybox', args: ['true'] })
  assert.deepEqual(fs.readdirSync(path.join(s, 'containers', c.id)).sort(), ['owner.json', 'rcontainer-container-dir', 'rootfs', 'state-dir', 'upper', 'work'])
  c.start()
  await c.wait()
  c.delete()
  assert.deepEqual(roots(s), [])
  assert.equal((await sh(s, 'busybox', 'echo x > /y')).code, 0)
  assert.deepEqual(roots(s), [])
  // Creates that fail after the root was prepared release it.
  await assert.rejects(sh(s, 'busybox', 'true', { user: 'no-such-user' }), { code: 'EINVAL', message: /no-such-user/ })
  await assert.rejects(run(['/no/such/binary'], { root, store: s, image: 'busybox' }), { code: 'ENOENT', message: /\/no\/such\/binary/ })
  expectThrow(() => create({ store: s, image: 'busybox', stdio: [12345] }), 'EBADF', /stdio\[0\]/)
  expectThrow(() => create({ store: s, image: 'busybox', args: ['true'], hostname: 'x', namespaces: ['mount'] }), 'EINVAL', /hostname/)
  assert.deepEqual(roots(s), [])
  // An id in use: EEXIST, and the first container's root stays its own.
  const first = create({ store: s, image: 'busybox', args: ['true'], id: 'node-img-dup' })
  expectThrow(() => create({ store: s, image: 'busybox', args: ['true'], id: 'node-img-dup' }), 'EEXIST', /node-img-dup/)
  expectThrow(() => create({ args: ['true'], id: 'node-img-dup' }), 'EEXIST', /node-img-dup/)
  assert.deepEqual(roots(s), ['node-img-dup'])
  first.delete({ force: true })
  assert.deepEqual(roots(s), [])
  // Node exits with a running container from an image: killed, deleted, its root gone.
  const child = spawnSync(
    process.execPath,
    [
      '-e',
      `const { Container } = require(${JSON.stringify(path.join(__dirname, '..'))})
       const c = Container.create({ image: 'busybox', store: ${JSON.stringify(s)}, root: ${JSON.stringify(root)}, args: ['sleep', '600'] })
       c.start()
       console.log(require('fs').readdirSync(${JSON.stringify(path.join(s, 'containers'))}).join())
       process.exit(0)`,
    ],
    { encoding: 'utf8', timeout: 30000 },
  )
  assert.equal(child.status, 0, child.stderr)
  assert.match(child.stdout, /^rc-[0-9a-f]{12}\n$/)
  assert.deepEqual(roots(s), [])
  assert.deepEqual(stateDirs(root), [])
})

test("the image's StopSignal is kill()'s default (and the state's annotation, for `rcontainer kill`)", async () => {
  const s = await store()
  const trap = 'trap "echo got-signal; exit 3" INT TERM; echo ready; while :; do sleep 0.1; done'
  const c = create({ store: s, image: 'busybox:busybox-extra', args: [trap], stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    assert.equal(c.stopSignal, 'SIGINT')
    const state = JSON.parse(fs.readFileSync(path.join(root, c.id, 'state.json'), 'utf8'))
    assert.equal(state.annotations['org.opencontainers.image.stopSignal'], 'SIGINT')
    let out = ''
    c.stdout.on('data', (d) => (out += d))
    c.start()
    for (let i = 0; i < 100 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50))
    c.kill()
    const st = await c.wait({ timeout: 10000 })
    assert.deepEqual(st, { code: 3, signal: null, oomKilled: false })
    assert.equal(out, 'ready\ngot-signal\n')
  } finally {
    c.delete({ force: true })
  }
  // An image without one, and a container without an image: SIGTERM.
  const plain = create({ store: s, image: 'busybox', args: ['true'] })
  assert.equal(plain.stopSignal, 'SIGTERM')
  plain.delete({ force: true })
  const none = create({ args: ['true'] })
  assert.equal(none.stopSignal, 'SIGTERM')
  none.delete({ force: true })
})

test('images() and removeImage(): the name goes, then what only it used (a running container keeps its layers); prune', async () => {
  const s = await store()
  const removed = await removeImage('busybox:busybox-extra', { store: s, root })
  assert.equal(removed.name, 'docker.io/library/busybox:busybox-extra')
  // Its second layer (blob and unpacked), its manifest and config; layer 1 stays (latest, multi).
  assert.equal(removed.pruned.layers, 1)
  assert.ok(removed.pruned.blobs >= 3, JSON.stringify(removed))
  assert.ok(removed.pruned.bytes > 0)
  assert.deepEqual(images({ store: s }).map((i) => i.tag).sort(), ['latest', 'multi'])
  await assert.rejects(removeImage('busybox:busybox-extra', { store: s, root }), { code: 'ENOENT', message: /busybox:busybox-extra/ })
  const multi = images({ store: s }).find((i) => i.tag === 'multi')
  assert.equal((await removeImage(multi.id, { store: s, root })).name, 'docker.io/library/busybox:multi')
  // A container of the last image keeps its layer through removeImage and prune.
  const c = create({ store: s, image: 'busybox', args: ['sleep', '60'] })
  try {
    c.start()
    const last = await removeImage('busybox', { store: s, root })
    assert.equal(last.pruned.layers, 0)
    assert.deepEqual(images({ store: s }), [])
    assert.equal((await prune({ store: s, root })).layers, 0)
    assert.equal(layerDirs(s).length, 1)
    assert.equal((await c.exec(['sh', '-c', 'echo still-here'], { capture: true }).wait()).stdout, 'still-here\n')
  } finally {
    c.delete({ force: true })
  }
  const report = await prune({ store: s, root })
  assert.equal(report.layers, 1)
  assert.ok(report.bytes > 1000000, JSON.stringify(report))
  assert.deepEqual(layerDirs(s), [])
  assert.deepEqual(fs.readdirSync(path.join(s, 'blobs', 'sha256')), [])
  assert.deepEqual(await prune({ store: s, root }), { blobs: 0, layers: 0, containers: 0, bytes: 0 })
})

test('errors: a missing image, a bad reference, image with rootfs, options that need an image, bad options', async () => {
  const s = await store()
  // Container.create never pulls: a missing image is ENOENT naming it, the store and pull().
  const missing = expectThrow(() => create({ store: s, image: 'nosuch:1' }), 'ENOENT', /no image "nosuch:1" in the store .*: pull it first/)
  assert.equal(missing.kind, 'NotFound')
  assert.equal(isContainerError(missing), true)
  // run() pulls it: no registry there, a clear error naming the image.
  const port = await closedPort()
  await assert.rejects(run(['true'], { root, store: s, image: `127.0.0.1:${port}/nosuch:1`, plainHttp: true }), (e) => {
    assert.equal(isContainerError(e), true)
    assert.equal(e.code, 'ECONNREFUSED', e.message)
    assert.equal(e.kind, 'Os')
    assert.match(e.message, new RegExp(`image "127\\.0\\.0\\.1:${port}/nosuch:1" is not in the store .*, and pulling it failed: .*127\\.0\\.0\\.1:${port}`))
    return true
  })
  await assert.rejects(pull(`127.0.0.1:${port}/nosuch:1`, { store: s, plainHttp: true }), { code: 'ECONNREFUSED', message: /pull "127\.0\.0\.1:\d+\/nosuch:1"/ })
  // A reference that is no image name.
  expectThrow(() => create({ store: s, image: 'Bad Ref' }), 'EINVAL', /invalid image reference "Bad Ref"/)
  await assert.rejects(run(['true'], { root, store: s, image: 'Bad Ref' }), { code: 'EINVAL', message: /invalid image reference "Bad Ref"/ })
  await assert.rejects(pull('Bad Ref', { store: s }), { code: 'EINVAL', message: /invalid image reference "Bad Ref"/ })
  await assert.rejects(pull(5), { code: 'EINVAL', message: /reference must be a string, got 5/ })
  // image and rootfs; options that go with an image.
  expectThrow(() => create({ store: s, image: 'busybox', rootfs: tmp }), 'EINVAL', /options\.image and options\.rootfs cannot both be given/)
  expectThrow(() => create({ args: ['true'], entrypoint: 'sh' }), 'EINVAL', /options\.entrypoint goes with options\.image/)
  expectThrow(() => create({ args: ['true'], store: s }), 'EINVAL', /options\.store goes with options\.image/)
  await assert.rejects(run(['true'], { root, plainHttp: true }), { code: 'EINVAL', message: /options\.plainHttp goes with options\.image/ })
  expectThrow(() => create({ store: s, image: 'busybox', plainHttp: true }), 'EINVAL', /unknown option "plainHttp"/)
  // No command: a new entrypoint drops the image's Cmd.
  expectThrow(() => create({ store: s, image: 'busybox', entrypoint: '' }), 'EINVAL', /has no command/)
  // Wrong types, named.
  expectThrow(() => create({ store: s, image: 5 }), 'EINVAL', /options\.image must be an image name or id \(a string\), got 5/)
  expectThrow(() => create({ store: s, image: 'busybox', entrypoint: 5 }), 'EINVAL', /options\.entrypoint must be a string or an array of strings, got 5/)
  await assert.rejects(pull('busybox', { store: s, credentials: 'u:p' }), { code: 'EINVAL', message: /options\.credentials must be \{ username, password \}/ })
  await assert.rejects(pull('busybox', { store: s, credentials: { username: '', password: 'p' } }), { code: 'EINVAL', message: /username must not be empty/ })
  await assert.rejects(pull('busybox', { store: s, plainhttp: true }), { code: 'EINVAL', message: /unknown option "plainhttp"/ })
  assert.throws(() => images({ store: path.join(tmp, 'a,b') }), { code: 'EINVAL', message: /store path.*cannot contain/ })
  await assert.rejects(removeImage('nosuch', { store: s }), { code: 'ENOENT', message: /no image "nosuch"/ })
  assert.deepEqual(roots(s), [])
})

/** A port of 127.0.0.1 nothing listens on (it was free a moment ago). */
function closedPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function hasCommand(name) {
  return (process.env.PATH || '').split(':').some((d) => {
    try {
      fs.accessSync(path.join(d, name), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** Starts a registry (registry.sh) in a directory of its own; its address. */
function startRegistry(name, ...auth) {
  const dir = path.join(tmp, name)
  registries.push(dir)
  return execFileSync(path.join(tools, 'registry.sh'), ['start', dir, ...auth], { encoding: 'utf8', timeout: 120000 }).trim()
}

function push(ref, dest, creds) {
  execFileSync(path.join(tools, 'push.sh'), [layout, dest, ref], { env: { ...process.env, ...(creds ? { PUSH_CREDS: creds } : {}) }, timeout: 120000 })
}

const noRegistry = hasCommand('docker-registry') ? false : 'the docker-registry binary (Debian package docker-registry) is not installed'

test('pull from a registry on 127.0.0.1: the manifest digest, a manifest list, run() pulling a missing image, errors, basic auth', { skip: noRegistry }, async () => {
  const addr = startRegistry('registry')
  push('latest', `${addr}/tools/busybox:1`)
  push('busybox-extra', `${addr}/tools/extra:1`)
  push('multi', `${addr}/tools/multi:1`)
  const s = await store(false)
  const img = await pull(`${addr}/tools/busybox:1`, { store: s, plainHttp: true })
  assert.equal(img.name, `${addr}/tools/busybox:1`)
  assert.equal(img.repository, `${addr}/tools/busybox`)
  assert.equal(img.digest, made.latest)
  assert.deepEqual(images({ store: s }), [img])
  assert.equal((await sh(s, `${addr}/tools/busybox:1`, 'echo $$')).stdout, '1\n')
  // A manifest list whose first entry is another platform's: this machine's image.
  await pull(`${addr}/tools/multi:1`, { store: s, plainHttp: true })
  assert.equal((await sh(s, `${addr}/tools/multi:1`, null)).stdout, `${made.platform}\n`)
  // run() pulls an image the store lacks, as `rcontainer run IMAGE` does; Container.create does not.
  const s2 = await store(false)
  expectThrow(() => create({ store: s2, image: `${addr}/tools/extra:1` }), 'ENOENT', /pull it first/)
  const r = await run(['echo $FOO $(pwd)'], { root, store: s2, image: `${addr}/tools/extra:1`, plainHttp: true, capture: true })
  assert.equal(r.stdout, 'bar /extra\n', JSON.stringify(r))
  assert.deepEqual(images({ store: s2 }).map((i) => i.name), [`${addr}/tools/extra:1`])
  assert.deepEqual(roots(s2), [])
  // What the registry does not have; https to a plain http registry.
  await assert.rejects(pull(`${addr}/tools/nosuch:1`, { store: s, plainHttp: true }), (e) => {
    assert.equal(e.code, 'ENOENT', e.message)
    assert.equal(e.kind, 'NotFound')
    assert.match(e.message, /tools\/nosuch:1.*manifest unknown/)
    return true
  })
  await assert.rejects(pull(`${addr}/tools/busybox:nosuchtag`, { store: s, plainHttp: true }), { code: 'ENOENT', message: /nosuchtag/ })
  // https to a plain http registry: it cannot be reached (an errno of kind 'Os', not 'ENOENT').
  await assert.rejects(pull(`${addr}/tools/busybox:1`, { store: s }), (e) => {
    assert.equal(e.kind, 'Os', e.message)
    assert.match(e.code, /^E[A-Z]+$/)
    assert.match(e.message, new RegExp(`https://${addr}`))
    return true
  })
})

test('pull with credentials from a registry with basic auth: anonymous and a wrong password are EACCES', { skip: noRegistry }, async () => {
  const secured = startRegistry('registry-basic', '--basic', 'tester:s3cret')
  push('latest', `${secured}/tools/busybox:1`, 'tester:s3cret')
  const s3 = await store(false)
  for (const credentials of [undefined, { username: 'tester', password: 'wrong' }]) {
    await assert.rejects(pull(`${secured}/tools/busybox:1`, { store: s3, plainHttp: true, credentials }), (e) => {
      assert.equal(e.code, 'EACCES', e.message)
      assert.match(e.message, /tools\/busybox:1/)
      return true
    })
  }
  const ok = await pull(`${secured}/tools/busybox:1`, { store: s3, plainHttp: true, credentials: { username: 'tester', password: 's3cret' } })
  assert.equal(ok.digest, made.latest)
  const viaRun = await run(['true'], { root, store: await store(false), image: `${secured}/tools/busybox:1`, plainHttp: true, credentials: { username: 'tester', password: 's3cret' } })
  assert.equal(viaRun.code, 0)
})
