// The certificates' expiry as a metric from the jail itself: a node_exporter textfile-collector file
// (Prometheus text format) with each TLS file's earliest notAfter, so an alert needs no TLS probe from
// outside. Pure, like the plan it is part of: the times come from the certificates, not from the clock,
// so a second start writes the same bytes.
import { at, PATHS, type Layout } from './layout.js'
import type { Params } from './params.js'
import type { DirEntry, FileEntry } from './plan.js'
import { renderTemplate } from './render.js'
import { parseCertificates } from './tls.js'

/** The earliest notAfter of a PEM bundle, in whole seconds since the epoch. */
export function earliestNotAfter(pem: string): number {
  const certs = parseCertificates(pem)
  // validate() has parsed every bundle already; this guards against a caller that did not.
  if (typeof certs === 'string') throw new Error(`certificate bundle: ${certs}`)
  return Math.min(...certs.map((c) => Math.floor(new Date(c.validTo).getTime() / 1000)))
}

/** node_exporter's rc.conf variable (the port's rc script passes it as --collector.textfile.directory). */
export function textfileRcConf(layout: Layout): Record<string, string> {
  return { node_exporter_textfile_dir: at(layout, PATHS.textfileDir) }
}

/**
 * The directory (node_exporter, running as nobody, must read it: 0755) and, with TLS on, the metrics file
 * (0644: only expiry times, no secret). node_exporter reads the file at every scrape: nothing restarts.
 */
export function certMetricsFiles(p: Params): { dirs: DirEntry[]; files: FileEntry[] } {
  const dirs: DirEntry[] = [{ path: PATHS.textfileDir, mode: 0o755, owner: 'root' }]
  if (p.TLS === 'off' || p.TLSCA === undefined || p.TLSCERT === undefined) return { dirs, files: [] }
  const certs = [
    { file: 'member', notAfter: earliestNotAfter(p.TLSCERT) },
    { file: 'ca', notAfter: earliestNotAfter(p.TLSCA) },
  ]
  return {
    dirs,
    files: [
      {
        path: PATHS.tlsExpiryMetrics,
        content: renderTemplate('cook-tls.prom', { certs }),
        mode: 0o644,
        owner: 'root',
        section: 'metrics',
        format: 'text',
      },
    ],
  }
}
