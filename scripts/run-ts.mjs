// Runs a TypeScript developer script (e.g. scripts/image.ts) on Node 20, which cannot strip types:
// esbuild bundles the script with its dependencies into one temporary ESM file and this imports it.
// `import.meta.url` is set to the entry's URL in every bundled module, so a module one folder below the
// project root (cook/, scripts/) resolves paths such as '../package.json' as it does from source.
import { build } from 'esbuild'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const [entry, ...args] = process.argv.slice(2)
if (!entry) {
  process.stderr.write('usage: node scripts/run-ts.mjs SCRIPT.ts [args...]\n')
  process.exit(64)
}
const source = resolve(entry)
const dir = mkdtempSync(join(tmpdir(), 'run-ts-'))
const outfile = join(dir, 'main.mjs')
try {
  await build({
    entryPoints: [source],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(source).href) },
    banner: {
      js: "import { createRequire as __runTsCreateRequire } from 'node:module'; const require = __runTsCreateRequire(import.meta.url);",
    },
  })
  process.argv = [process.argv[0], source, ...args]
  await import(pathToFileURL(outfile).href)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
