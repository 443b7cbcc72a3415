// The certificate a server presents right now: PostgreSQL after its SSLRequest (the protocol's STARTTLS),
// or an HTTPS/TLS port directly. Verified against the cluster's CA, as a careful client would.
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type PeerCertificate } from 'node:tls'

/** PostgreSQL's SSLRequest: length 8, code 80877103; the server answers one byte, 'S' for yes. */
function postgresStartTls(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host, port })
    sock.setTimeout(3000, () => sock.destroy(new Error(`${host}:${port}: no answer to SSLRequest`)))
    sock.once('error', reject)
    sock.once('connect', () => {
      const req = Buffer.alloc(8)
      req.writeInt32BE(8, 0)
      req.writeInt32BE(80877103, 4)
      sock.write(req)
    })
    sock.once('data', (b: Buffer) => {
      if (b.toString('latin1', 0, 1) === 'S') resolve(sock)
      else reject(new Error(`${host}:${port} refused TLS (answered "${b.toString('latin1', 0, 1)}")`))
    })
  })
}

export async function servedCertificate(
  host: string,
  port: number,
  o: { ca: string; postgres: boolean },
): Promise<PeerCertificate> {
  const socket = o.postgres ? await postgresStartTls(host, port) : undefined
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host, port, ca: o.ca, ...(socket ? { socket } : {}), rejectUnauthorized: true })
    s.setTimeout(3000, () => s.destroy(new Error(`${host}:${port}: TLS handshake timed out`)))
    s.once('error', reject)
    s.once('secureConnect', () => {
      const cert = s.getPeerCertificate()
      s.destroy()
      resolve(cert)
    })
  })
}
