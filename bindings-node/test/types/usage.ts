// Type checks of index.d.ts (test/types.test.js runs tsc on this file): right calls compile, and
// each wrong one must be an error where it is marked with @ts-expect-error (tsc fails on a mark
// that has no error under it).
import { Container, run, isContainerError, RunResult, ExitStatus, pull, importImage, images, removeImage, prune, Image, PruneReport } from '../..'

async function typed(): Promise<void> {
  const c = Container.create({ args: ['true'], network: 'none', sandbox: true, user: 'nobody' })
  c.kill('SIGKILL')
  c.kill('TERM')
  c.kill(9)
  // @ts-expect-error a misspelt signal name
  c.kill('SIGKIL')
  Container.create({ args: ['true'], network: 'host' })
  Container.create({ args: ['true'], network: '/var/run/netns/blue' })
  // @ts-expect-error Docker's bridge network is not one of these options
  Container.create({ args: ['true'], network: 'bridge' })
  // The options' types are generated from the binding's structs (binding.d.ts).
  Container.create({ args: ['true'], env: { A: 'a', N: 1 }, user: { uid: 1000 }, namespaces: { user: true, pid: '/proc/1/ns/pid' } })
  Container.create({ args: ['true'], env: ['A=a'], user: '1000:1000', uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }, '1:1:1'], memory: '64M', pids: 10 })
  c.limit({ memory: 64 << 20, memorySwap: -1, cpus: 0.5 })
  c.exec(['true'], { env: { A: 'a' }, user: 0, tty: true, ttySize: { rows: 24, cols: 80 } })
  // @ts-expect-error a memory limit is a number of bytes or a size such as '64M'
  Container.create({ args: ['true'], memory: true })
  // @ts-expect-error environment values are strings, numbers or booleans
  Container.create({ args: ['true'], env: { A: {} } })
  // @ts-expect-error a uid map entry has a containerId, a hostId and a size
  Container.create({ args: ['true'], uidMap: { containerId: 0, hostId: 100000 } })
  const st: ExitStatus = await c.wait({ timeout: 1000, signal: AbortSignal.timeout(5000) })
  // @ts-expect-error the timeout is a number of milliseconds
  await c.wait({ timeout: '5s' })
  const r: RunResult = (await run(['true'], { capture: true, maxBuffer: 1 << 20, timeout: 2000 })) as RunResult
  const cut: boolean = r.stdoutTruncated || r.stderrTruncated
  // @ts-expect-error maxBuffer is a number of bytes
  await run(['true'], { capture: true, maxBuffer: '1M' })
  void st
  void cut
}
void typed

async function results(): Promise<void> {
  // run()'s output typed by its options: strings by default, Buffers with 'buffer', null without capture.
  const text = await run(['true'], { capture: true })
  const s: string = text.stdout
  const bytes = await run(['true'], { capture: true, encoding: 'buffer' })
  const b: Buffer = bytes.stdout
  const none = await run(['true'])
  const n: null = none.stdout
  // @ts-expect-error without capture there is no output
  const wrong: string = none.stdout
  try {
    await run(['true'], { timeout: 10 })
  } catch (e: unknown) {
    if (isContainerError(e)) {
      const code: string = e.code
      const timedOut: boolean | undefined = e.result?.timedOut
      void code
      void timedOut
    }
  }
  void s
  void b
  void n
  void wrong
}
void results

async function imageCalls(): Promise<void> {
  // Containers from images, and the image functions.
  const c = Container.create({ image: 'busybox', args: ['sh'], entrypoint: ['/bin/sh', '-c'], readOnly: true, store: '/tmp/store' })
  const signal: string = c.stopSignal
  Container.create({ image: 'busybox', entrypoint: '' })
  const r = await run([], { image: 'busybox', capture: true, plainHttp: true, credentials: { username: 'u', password: 'p' } })
  const out: string = r.stdout
  const img: Image = await pull('127.0.0.1:5000/tools/busybox:1', { store: '/tmp/store', plainHttp: true, credentials: { username: 'u', password: 'p' } })
  const tag: string | null = img.tag
  const size: number = img.size
  const imported: Image[] = await importImage('/tmp/busybox.tar', { store: '/tmp/store' })
  await importImage('/tmp/busybox.tar', 'busybox:1', { store: '/tmp/store' })
  await importImage('/tmp/busybox.tar', null)
  const list: Image[] = images({ store: '/tmp/store' })
  const removed = await removeImage(img.id, { store: '/tmp/store', root: '/run/rcontainer' })
  const freed: number = removed.pruned.bytes
  const report: PruneReport = await prune()
  // @ts-expect-error an image is named by a string
  Container.create({ image: 5 })
  // @ts-expect-error credentials are { username, password }
  await pull('busybox', { credentials: 'u:p' })
  // @ts-expect-error the registry options are run()'s and pull()'s: Container.create never pulls
  Container.create({ image: 'busybox', plainHttp: true })
  // @ts-expect-error images() is synchronous
  await images().then(() => {})
  void signal
  void out
  void tag
  void size
  void imported
  void list
  void freed
  void report
}
void imageCalls
