// The README example: run a command in a fresh container and read its output.
//   node examples/node/hello.mjs      (as root)
// In your own project: import { run, Container } from 'rcontainer'
import { run, Container } from '../../bindings-node/index.mjs'

const r = await run(['sh', '-c', 'echo "hello from $(hostname)"; ps -o pid,comm'], {
  capture: true,
  hostname: 'demo',
  memory: '64M',
  timeout: 10_000,
})
console.log(`exit ${r.code}\n${r.stdout}`)

const c = Container.create({ args: ['sleep', '60'] })
c.start()
c.kill('SIGKILL')
console.log(await c.wait()) // { code: null, signal: 'SIGKILL', oomKilled: false }
c.delete()
