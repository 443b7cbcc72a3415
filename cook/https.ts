// One HTTP(S) request for the probes: Node's fetch cannot be given a CA or a client certificate without an
// extra package, node:https can. The CA is the cluster's (TLSCA), never the system's: a probe that trusted
// any public CA would accept a stranger on the member's address.
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'

export interface TlsClient {
  /** PEM of the CA(s) the server must chain to. */
  ca: string
  /** A client certificate and key (PEM), for servers that ask for one (etcd with client-cert-auth). */
  cert?: string | undefined
  key?: string | undefined
}

export interface HttpOptions {
  method?: string
  body?: string
  headers?: Record<string, string>
  tls?: TlsClient | undefined
  timeoutMs?: number
}

export interface HttpResponse {
  status: number
  text: string
}

export function httpCall(url: string, o: HttpOptions = {}): Promise<HttpResponse> {
  const u = new URL(url)
  if (u.protocol === 'https:' && !o.tls)
    return Promise.reject(new Error(`${url}: HTTPS without a CA to verify it`))
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: o.method ?? 'GET',
        headers: { ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
        timeout: o.timeoutMs ?? 3000,
        ...(u.protocol === 'https:' && o.tls
          ? { ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, rejectUnauthorized: true, agent: false }
          : { agent: false }),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        )
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${o.timeoutMs ?? 3000} ms`)))
    req.on('error', reject)
    req.end(o.body)
  })
}
