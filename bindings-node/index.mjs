// ESM entry: import { Container, Process, run, pull, images } from 'rcontainer'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const rcontainer = require('./index.js')

export const { Container, Process, run, pull, importImage, images, removeImage, prune, isContainerError, version } = rcontainer
export default rcontainer
