// The ports agree across modules: what the rendered files make the services listen on is where the
// cook's probes and `cook haproxy` look for them (cook/ports.ts holds them all).
import t from 'tap'
import { parse } from 'yaml'
import { parseMembers } from '../../cook/haproxy.js'
import { PATHS } from '../../cook/layout.js'
import { validate } from '../../cook/params.js'
import { plan } from '../../cook/plan.js'
import { CONSUL_HTTP, patroniUrl } from '../../cook/probes.js'
import { basicEnv } from '../helpers.js'
import { hcl2json } from '../hostile.js'

const p = validate(basicEnv())
const pl = plan(p)
const file = (path: string) => pl.files.find((f) => f.path === path)?.content ?? ''

t.test("Patroni listens where the cook's probes and cook haproxy ask", async (t) => {
  const yml = parse(file(PATHS.patroniYml)) as Record<string, Record<string, string>>
  t.equal(`http://${yml.restapi?.listen}`, patroniUrl(p), 'the REST API')
  t.equal(`http://${yml.consul?.host}`, CONSUL_HTTP, 'Patroni and the cook ask the same Consul agent')
  const [member] = parseMembers(p.MYIP).members
  t.equal(`${p.MYIP}:${member?.restPort}`, yml.restapi?.listen, 'cook haproxy checks that REST API')
  t.equal(`${p.MYIP}:${member?.pgPort}`, yml.postgresql?.listen, 'and routes to that PostgreSQL')
})

t.test('Consul checks node_exporter where rc.conf makes it listen', async (t) => {
  const agent = await hcl2json(file(PATHS.consulAgent))
  const [service] = agent.service as { port: number; check: { tcp: string }[] }[]
  t.equal(`${p.MYIP}:${service?.port}`, pl.rcConf.node_exporter_listen_address)
  t.equal(service?.check[0]?.tcp, pl.rcConf.node_exporter_listen_address)
})
