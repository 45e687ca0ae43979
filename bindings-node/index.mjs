// ESM entry: import { Container, Process, run } from 'rcontainer'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const rcontainer = require('./index.js')

export const { Container, Process, run, isContainerError, version } = rcontainer
export default rcontainer
