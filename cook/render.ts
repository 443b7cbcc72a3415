// Handlebars with strict lookups and no HTML escaping; every value goes through a format helper.
import { hcl, hcl1, ini, json, sh, sql, yaml } from './quote.js'
import { compile, hb } from './template-engine.js'

for (const [name, fn] of Object.entries({ yaml, json, hcl, hcl1, sh, sql, ini })) {
  // The last argument Handlebars passes is its options object; helpers take exactly one value.
  // Strict mode does not cover helper arguments, so the helpers themselves refuse a missing value.
  hb.registerHelper(name, (...args: unknown[]) => {
    const options = args[args.length - 1] as { loc?: { start?: { line?: number } } }
    const where = `line ${options.loc?.start?.line ?? '?'}`
    if (args.length !== 2) throw new Error(`${where}: {{${name}}} takes exactly one value`)
    try {
      return fn(args[0])
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`, { cause: e })
    }
  })
}

const compiled = new Map<string, HandlebarsTemplateDelegate>()

/** Renders templates/<name>.hbs; a value missing from `view` is an error, never an empty string. */
export function renderTemplate(name: string, view: object): string {
  let template = compiled.get(name)
  if (!template) {
    template = compile(name)
    compiled.set(name, template)
  }
  try {
    return template(view)
  } catch (e) {
    throw new Error(`template ${name}: ${(e as Error).message}`, { cause: e })
  }
}
