// A client that keeps inserting numbered rows through :5000 and records which inserts were acknowledged
// (the COMMIT returned). After failovers every acknowledged id must be on the leader: zero loss.
import type { Cluster } from './cluster.js'
import { sleep } from './procs.js'

export class Writer {
  /** Ids whose INSERT returned success to the client. */
  readonly acked: number[] = []
  attempts = 0
  private next = 1
  private running = false
  private loop: Promise<void> | undefined

  constructor(
    private readonly cluster: Cluster,
    readonly table: string,
  ) {}

  /** Creates the table through :5000 and starts writing; one insert per connection, as a reconnecting client would. */
  async start(): Promise<void> {
    await this.cluster.query(
      this.cluster.primaryConn(),
      `CREATE TABLE ${this.table} (id integer PRIMARY KEY)`,
    )
    this.running = true
    this.loop = this.run()
  }

  private async run(): Promise<void> {
    while (this.running) {
      const id = this.next++
      this.attempts++
      try {
        await this.cluster.query(this.cluster.primaryConn(), `INSERT INTO ${this.table} VALUES (${id})`)
        this.acked.push(id)
      } catch {
        // not acknowledged: the client would retry with a new id; a short pause while there is no primary
        await sleep(50)
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false
    await this.loop
  }

  /** Acknowledged ids missing from the table on `conn`'s server. */
  async lost(conn = this.cluster.primaryConn()): Promise<{ present: number; missing: number[] }> {
    const rows = await this.cluster.query(conn, `SELECT id FROM ${this.table}`)
    const present = new Set(rows.map((r) => Number(r[0])))
    return { present: present.size, missing: this.acked.filter((id) => !present.has(id)) }
  }
}
