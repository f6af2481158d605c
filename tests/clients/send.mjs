// Sends events to Kizuna with Segment's Node library (@segment/analytics-node), as an
// application would: node send.mjs URL WRITE_KEY COUNT MODE. MODE "good": a group, an
// identify and COUNT track calls; "bad": one track Kizuna refuses. Prints what the
// library reported as JSON: {"errors": [...]} (one entry per 'error' event).
import { Analytics } from '@segment/analytics-node'

const [url, writeKey, count, mode] = process.argv.slice(2)
const analytics = new Analytics({ writeKey, host: url, flushAt: 50, flushInterval: 200, maxRetries: 3 })
const errors = []
analytics.on('error', (err) => errors.push({ code: err.code, reason: String(err.reason ?? err) }))

if (mode === 'good') {
  analytics.group({ userId: 'node-user', groupId: 'ACC-NODE', traits: { name: 'Node Inc.' } })
  analytics.identify({ userId: 'node-user', traits: { name: 'Node User' }, context: { groupId: 'ACC-NODE' } })
  for (let i = 0; i < Number(count); i++) {
    analytics.track({ userId: 'node-user', event: 'Report Created', properties: { n: i }, context: { groupId: 'ACC-NODE' } })
  }
} else {
  analytics.track({ userId: 'node-user', event: 'x'.repeat(300), context: { groupId: 'ACC-NODE' } })
}
await analytics.closeAndFlush({ timeout: 60000 })
console.log(JSON.stringify({ errors }))
