// Checks of a 2026-07-28 session that read the same on every transport (the
// v2 SDK client over stdio in tests/interop, over ws and http in
// tests/server): a product change written by another process reaches a
// subscriptions/listen stream, and check_availability's multi-round-trip
// call goes through the client's elicitation handler.

import assert from 'node:assert/strict';
import { serverEnv, runPw, waitFor, structured } from './env.mjs';

// Listens to catalog://products/1, sets its stock to 3 with `pennyworth
// catalog set` on the server's database, and waits for the update.
export async function checkListenUpdate(client, dbPath) {
  const seen = [];
  client.setNotificationHandler('notifications/resources/updated', (n) => {
    seen.push(n.params.uri);
  });
  const sub = await client.listen({ resourceSubscriptions: ['catalog://products/1'] });
  const r = await runPw(['catalog', 'set', '1', '--stock', '3'], serverEnv(dbPath));
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => (seen.includes('catalog://products/1') ? true : undefined), 5000,
    'notifications/resources/updated for catalog://products/1');
  await sub.close();
}

// Product 1 has 3 in stock (checkListenUpdate set it): asking for 10 makes
// the server ask, once, for a smaller quantity; the handler answers 2.
// `asked()` counts the elicitation handler's calls. Returns the result.
export async function checkMultiRoundTrip(client, asked) {
  const res = await client.callTool({ name: 'check_availability', arguments: { id: '1', quantity: 10 } });
  const sc = structured(res, 'check_availability');
  assert.equal(asked(), 1, 'the server asked once');
  assert.equal(sc.requested, 2);
  return sc;
}
