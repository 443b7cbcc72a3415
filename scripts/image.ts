// npm run image -- [--freebsd 15.1] [--pg auto|N] [--nomad] [--out DIR] [--dry-run] [--stage-only] [--flavour-dir DIR]
// Builds the pot image of this project on FreeBSD: stages the flavour into pot's flavour directory, then
// `pot create`, `pot snapshot`, `pot export -c`, and checks the three files export leaves behind.
import { accessSync, constants, existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { machine } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { execa } from 'execa'
import {
  checkOptions,
  DEFAULT_FREEBSD,
  exportFiles,
  FLAVOUR,
  freebsdArch,
  lintFlavour,
  MIN_POT_VERSION,
  NOMAD_FLAVOUR,
  potName,
  potSteps,
  stageSteps,
  stepLine,
  type ImageOptions,
  type Step,
  versionAtLeast,
} from './image-plan.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

const USAGE = `usage: npm run image -- [--freebsd ${DEFAULT_FREEBSD}] [--pg auto|N] [--nomad] [--out DIR] [--dry-run]
                      [--stage-only] [--flavour-dir DIR]
  --freebsd REL      FreeBSD release of the jail, 14.3 or later (default ${DEFAULT_FREEBSD})
  --pg auto|N        the one PostgreSQL major of the image; auto (the default): the major the
                     repository's psycopg2 package is built against (the package set's default)
  --nomad            the Nomad (blocking) variant: adds the ${NOMAD_FLAVOUR} flavour
  --out DIR          where pot export writes the image (default dist/image, or dist/image-nomad)
  --dry-run          print every command, one per line, and run none
  --stage-only       stage the flavour for "pot create -f ${FLAVOUR}" and stop
  --flavour-dir DIR  pot's flavour directory (default: etc/pot/flavours beside pot's bin/)`

class BuildError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let values
  try {
    values = parseArgs({
      args: argv,
      options: {
        freebsd: { type: 'string', default: DEFAULT_FREEBSD },
        pg: { type: 'string', default: 'auto' },
        nomad: { type: 'boolean', default: false },
        out: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        'stage-only': { type: 'boolean', default: false },
        'flavour-dir': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values
  } catch (e) {
    process.stderr.write(`image: ${(e as Error).message}\n${USAGE}\n`)
    return 64
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const dryRun = values['dry-run']
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const potPath = findOnPath('pot')
  const options: ImageOptions = {
    freebsd: values.freebsd,
    pg: values.pg === 'auto' ? 'auto' : Number(values.pg),
    nomad: values.nomad,
    out: resolve(values.out ?? join(ROOT, values.nomad ? 'dist/image-nomad' : 'dist/image')),
    flavourDir: resolve(values['flavour-dir'] ?? potFlavourDir(potPath)),
    version: pkg.version,
    arch: freebsdArch(machine()),
  }
  const problems = [...checkOptions(options), ...checkSources(pkg.version)]
  if (problems.length) {
    for (const p of problems) process.stderr.write(`image: ${p}\n`)
    return 78
  }
  const pot = potName(options)
  const stage = [...(bundleIsStale() ? [npmBuild()] : []), ...stageSteps(ROOT, options)]
  const steps = values['stage-only'] ? stage : [...stage, ...potSteps(options)]

  if (dryRun) {
    for (const step of steps) process.stdout.write(`${stepLine(step)}\n`)
    return 0
  }
  try {
    if (!values['stage-only']) await preflight(potPath, pot)
    await runSteps(steps, pot)
    if (values['stage-only']) {
      process.stdout.write(`Staged the flavour in ${options.flavourDir}: pot create ... -f ${FLAVOUR}\n`)
      return 0
    }
    await verifyOutputs(options.out, pot, options.version)
    return 0
  } catch (e) {
    if (!(e instanceof BuildError)) throw e
    process.stderr.write(`image: ${e.message}\n`)
    return 1
  }
}

function npmBuild(): Step {
  return { kind: 'run', argv: ['npm', 'run', 'build'], cwd: ROOT }
}

/** The flavour files must hold only what pot accepts, and the manifest the package's version. */
function checkSources(version: string): string[] {
  const dir = join(ROOT, 'jail-image')
  const problems = [FLAVOUR, NOMAD_FLAVOUR].flatMap((f) => lintFlavour(f, readFileSync(join(dir, f), 'utf8')))
  const ini = readFileSync(join(dir, `${FLAVOUR}.ini`), 'utf8')
  const iniVersion = /^version\s*=\s*"([^"]*)"/m.exec(ini)?.[1]
  if (iniVersion !== version)
    problems.push(
      `jail-image/${FLAVOUR}.ini: version "${iniVersion}" differs from package.json's "${version}"`,
    )
  return problems
}

/** The bundle is rebuilt when it is missing or older than what goes into it. */
function bundleIsStale(): boolean {
  const bundle = join(ROOT, 'dist/cook.mjs')
  if (!existsSync(bundle)) return true
  const built = statSync(bundle).mtimeMs
  const inputs = [
    ...listFiles(join(ROOT, 'cook')),
    ...['package.json', 'package-lock.json', 'scripts/bundle.mjs'].map((f) => join(ROOT, f)),
  ]
  return inputs.some((f) => existsSync(f) && statSync(f).mtimeMs > built)
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  )
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, command)
    try {
      accessSync(candidate, constants.X_OK)
      if (statSync(candidate).isFile()) return candidate
    } catch {
      // not in this directory
    }
  }
  return undefined
}

/** Where pot itself looks for flavours: etc/pot/flavours beside the bin/ that holds the real pot (bin/pot). */
function potFlavourDir(potPath: string | undefined): string {
  if (!potPath) return '/usr/local/etc/pot/flavours'
  return resolve(dirname(realpathSync(potPath)), '../etc/pot/flavours')
}

async function preflight(potPath: string | undefined, pot: string): Promise<void> {
  if (!potPath)
    throw new BuildError('pot is not installed (not on PATH): build the image on FreeBSD with pot')
  if (process.getuid?.() !== 0) throw new BuildError('pot needs root: run the build as root (or with sudo)')
  const version = (await execa('pot', ['version', '-q'], { reject: false })).stdout.trim()
  if (!versionAtLeast(version, MIN_POT_VERSION))
    throw new BuildError(
      `pot ${version || '(unknown version)'} is too old: the flavour sets exec_stop and stop_timeout, ` +
        `which need pot >= ${MIN_POT_VERSION}`,
    )
  // Never destroy a pot this build did not create: refuse instead of overwriting an earlier one.
  if ((await execa('pot', ['info', '-q', '-p', pot], { reject: false })).exitCode === 0)
    throw new BuildError(
      `a pot named ${pot} exists already (an earlier build?); remove it with: pot destroy -p ${pot} -F`,
    )
}

async function runSteps(steps: Step[], pot: string): Promise<void> {
  let potCreated = false
  for (const step of steps) {
    process.stdout.write(`+ ${stepLine(step)}\n`)
    if (step.kind === 'write') {
      await writeFile(step.path, step.content, { mode: 0o644 })
      continue
    }
    const [command, ...args] = step.argv as [string, ...string[]]
    if (step.pot) potCreated = true
    const result = await execa(command, args, { cwd: step.cwd, stdio: 'inherit', reject: false })
    if (result.exitCode !== 0) {
      const why = `${stepLine(step)} failed: exit code ${result.exitCode ?? result.signal}`
      if (potCreated) await destroyPot(pot)
      throw new BuildError(why)
    }
  }
}

/** pot create cleans up after a failing flavour, but not after a later step: remove the half-built pot. */
async function destroyPot(pot: string): Promise<void> {
  // A failing flavour makes pot create remove the pot itself; only destroy what is still there.
  if ((await execa('pot', ['info', '-q', '-p', pot], { reject: false })).exitCode !== 0) return
  process.stderr.write(
    `image: a step failed; destroying the half-built pot ${pot}\n+ pot destroy -p ${pot} -F\n`,
  )
  const r = await execa('pot', ['destroy', '-p', pot, '-F'], { stdio: 'inherit', reject: false })
  if (r.exitCode !== 0)
    process.stderr.write(`image: pot destroy -p ${pot} -F failed too; remove it by hand\n`)
}

async function verifyOutputs(out: string, pot: string, tag: string): Promise<void> {
  const files = exportFiles(pot, tag).map((f) => join(out, f))
  const missing = files.filter((f) => !existsSync(f) || statSync(f).size === 0)
  if (missing.length) {
    // pot export exits 0 even when writing .meta or .skein failed; an image without them cannot be imported.
    await destroyPot(pot)
    for (const f of files) await rm(f, { force: true })
    throw new BuildError(
      `pot export reported success, but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing or ` +
        `empty; removed the incomplete image`,
    )
  }
  const skein = readFileSync(files[2]!, 'utf8').trim()
  const lines = [
    `Image ${pot}, tag ${tag}, in ${out}:`,
    ...files.map(
      (f) =>
        `  ${f.slice(out.length + 1).padEnd(pot.length + tag.length + 12)} ${humanSize(statSync(f).size)}`,
    ),
    `  skein1024 checksum: ${skein}`,
    `Import it with: pot import -p ${pot} -t ${tag} -U <URL of ${out}>`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
}

function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let size = bytes
  let unit = 0
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} bytes` : `${size.toFixed(1)} ${units[unit]} (${bytes} bytes)`
}

process.exitCode = await main(process.argv.slice(2))
