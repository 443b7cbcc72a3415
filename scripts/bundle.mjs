// Bundles the cook into one ESM file, dist/cook.mjs, for the jail image.
// zx and some of its dependencies are CommonJS inside: the banner gives them `require`.
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))

await build({
  entryPoints: ['cook/main.ts'],
  outfile: 'dist/cook.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  define: { __COOK_VERSION__: JSON.stringify(pkg.version) },
  banner: {
    js: [
      '#!/usr/bin/env node',
      "import { createRequire as __cookCreateRequire } from 'node:module';",
      'const require = __cookCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  logLevel: 'warning',
})
