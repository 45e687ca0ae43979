// ESM entry: import { Container, run } from 'rcontainer'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const rcontainer = require('./index.js')

export const { Container, run, version } = rcontainer
export default rcontainer
