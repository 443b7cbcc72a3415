// What PostgreSQL's pg_hba.conf decides for one connection, asked of the real server: a startup packet from
// a chosen source address (libpq cannot choose one), with or without TLS, and the server's first answer.
// An authentication request means a line admitted the connection (a password would be next); an error
// says which: a `reject` line, or no line at all. No password is ever sent.
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'

export interface HbaProbe {
  /** A TCP address, or a Unix socket path (starting with "/"). */
  host: string
  port: number
  /** The client's own address (any 127.0.0.0/8 address works on Linux loopback). */
  localAddress?: string
  user: string
  database?: string
  /** A physical replication connection (replication=true), what pg_basebackup and streaming open. */
  replication?: boolean
  tls?: boolean
}

/** 'password': admitted (the server asks to authenticate); 'reject': a reject line; 'none': no line matched. */
export type HbaVerdict = 'password' | 'reject' | 'none' | `other: ${string}`

function startupPacket(o: HbaProbe): Buffer {
  const fields = ['user', o.user, 'database', o.database ?? 'postgres']
  if (o.replication) fields.push('replication', 'true')
  const body = Buffer.from(`${fields.join('\0')}\0\0`, 'utf8')
  const head = Buffer.alloc(8)
  head.writeInt32BE(8 + body.length, 0)
  head.writeInt32BE(196608, 4) // protocol 3.0
  return Buffer.concat([head, body])
}

function firstByte(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    s.once('data', resolve)
    s.once('error', reject)
    s.once('close', () => reject(new Error('closed')))
  })
}

function verdictOf(answer: Buffer): HbaVerdict {
  const kind = String.fromCharCode(answer[0] ?? 0)
  if (kind === 'R') return 'password'
  if (kind !== 'E') return `other: message ${kind}`
  // ErrorResponse: fields of a type byte and a NUL-terminated string; M is the message.
  const text = answer.subarray(5).toString('utf8')
  const message = /(?:^|\0)M([^\0]*)/.exec(text)?.[1] ?? text
  if (/pg_hba\.conf rejects (replication )?connection/.test(message)) return 'reject'
  if (/no pg_hba\.conf entry/.test(message)) return 'none'
  return `other: ${message}`
}

export async function hbaVerdict(o: HbaProbe): Promise<HbaVerdict> {
  const raw = o.host.startsWith('/')
    ? netConnect({ path: `${o.host}/.s.PGSQL.${o.port}` })
    : netConnect({ host: o.host, port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) })
  raw.setTimeout(5000, () => raw.destroy(new Error('timeout')))
  let s: Socket = raw
  try {
    await new Promise<void>((resolve, reject) => {
      raw.once('connect', resolve)
      raw.once('error', reject)
    })
    if (o.tls) {
      const request = Buffer.alloc(8)
      request.writeInt32BE(8, 0)
      request.writeInt32BE(80877103, 4) // SSLRequest
      raw.write(request)
      const yes = await firstByte(raw)
      if (yes.toString() !== 'S') return `other: the server refused TLS (${yes.toString()})`
      // Who the server is does not matter here: the question is what pg_hba.conf says to this client.
      const secure = tlsConnect({ socket: raw, rejectUnauthorized: false })
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve)
        secure.once('error', reject)
      })
      s = secure
    }
    s.write(startupPacket(o))
    return verdictOf(await firstByte(s))
  } finally {
    s.destroy()
    raw.destroy()
  }
}
