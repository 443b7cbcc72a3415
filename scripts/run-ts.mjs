// Runs one of the TypeScript developer scripts (scripts/cluster.ts, ...) with node: esbuild bundles it into
// dist/<name>.mjs, beside the cook's own bundle, so `templates/` resolves the same way; then it runs.
// Usage: node scripts/run-ts.mjs scripts/NAME.ts [args...]
import { build } from 'esbuild'
import { basename } from 'node:path'
import { pathToFileURL } from 'node:url'

const [entry, ...args] = process.argv.slice(2)
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs scripts/NAME.ts [args...]')
  process.exit(64)
}
const outfile = `dist/${basename(entry, '.ts')}.mjs`
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  logLevel: 'warning',
})
process.argv = [process.argv[0], outfile, ...args]
await import(pathToFileURL(outfile).href)
