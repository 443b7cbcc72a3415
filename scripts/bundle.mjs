// Bundles the cook into one ESM file, dist/cook.mjs, for the jail image. The file is replaced whole (written
// beside it, then renamed): a build killed half-way, or two builds at once, never leave half a bundle.
// Templates are precompiled into the bundle: cook/template-engine.ts is swapped for a module on
// Handlebars' runtime, so a jail start neither parses templates nor loads the template compiler.
// zx and some of its dependencies are CommonJS inside: the banner gives them `require`.
import { build } from 'esbuild'
import Handlebars from 'handlebars'
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const TEMPLATES = new URL('../templates/', import.meta.url).pathname
// Must equal COMPILE_OPTIONS in cook/template-engine.ts (a unit test renders both ways and compares).
const COMPILE_OPTIONS = { strict: true, noEscape: true }
const OUTFILE = new URL('../dist/cook.mjs', import.meta.url).pathname

function templateFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? templateFiles(join(dir, e.name)) : e.name.endsWith('.hbs') ? [join(dir, e.name)] : [],
  )
}

const precompiledTemplates = {
  name: 'precompiled-templates',
  setup(b) {
    b.onLoad({ filter: /cook[\\/]template-engine\.ts$/ }, () => {
      const specs = templateFiles(TEMPLATES).map((file) => {
        const name = relative(TEMPLATES, file).replace(/\.hbs$/, '')
        const spec = Handlebars.precompile(readFileSync(file, 'utf8'), COMPILE_OPTIONS)
        return `  ${JSON.stringify(name)}: ${spec},`
      })
      return {
        loader: 'js',
        resolveDir: TEMPLATES,
        contents: [
          "import Handlebars from 'handlebars/runtime'",
          "export const TEMPLATE_DIR = new URL('../templates/', import.meta.url)",
          `export const COMPILE_OPTIONS = ${JSON.stringify(COMPILE_OPTIONS)}`,
          'export const hb = Handlebars.create()',
          `const SPECS = {\n${specs.join('\n')}\n}`,
          'export function compile(name) {',
          '  const spec = SPECS[name]',
          '  if (!spec) throw new Error(`no template ${name} in this build`)',
          '  return hb.template(spec)',
          '}',
        ].join('\n'),
      }
    })
  },
}

const { outputFiles } = await build({
  entryPoints: ['cook/main.ts'],
  outfile: OUTFILE,
  write: false,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  plugins: [precompiledTemplates],
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

const [output] = outputFiles
if (outputFiles.length !== 1 || !output)
  throw new Error(`esbuild made ${outputFiles.length} files, expected one`)
mkdirSync(dirname(OUTFILE), { recursive: true })
const partial = `${OUTFILE}.${process.pid}.partial`
writeFileSync(partial, output.contents, { mode: 0o644 })
renameSync(partial, OUTFILE)
