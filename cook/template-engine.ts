// The Handlebars engine as the source tree uses it: templates compile from templates/ on first use.
// The bundle replaces this module (scripts/bundle.mjs) with the same interface on Handlebars' runtime
// and templates precompiled at build time, so a jail start parses no template and loads no compiler.
import { readFileSync } from 'node:fs'
import Handlebars from 'handlebars'

/** The project's templates/ folder, beside cook/. */
export const TEMPLATE_DIR = new URL('../templates/', import.meta.url)

/** Compile options; the bundle's precompiled templates are built with the same ones. */
export const COMPILE_OPTIONS = { strict: true, noEscape: true } as const

export const hb = Handlebars.create()

export function compile(name: string): HandlebarsTemplateDelegate {
  const source = readFileSync(new URL(`${name}.hbs`, TEMPLATE_DIR), 'utf8')
  return hb.compile(source, COMPILE_OPTIONS)
}
