// Every subcommand, in the order cook --help lists them. A new one is a module in this directory whose
// default export is defineCommand({ usage, summary, options, run }) (cook/command.ts), plus one line here.
import backup from './backup.js'
import check from './check.js'
import haproxy from './haproxy.js'
import render from './render.js'
import run from './run.js'
import status from './status.js'
import stop from './stop.js'

export const COMMANDS = { run, stop, check, status, render, haproxy, backup }

export type CommandName = keyof typeof COMMANDS
