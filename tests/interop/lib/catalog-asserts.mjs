// Assertions on the catalog contract (tools, resources, prompts), shared by
// the SDK v1 and v2 suites.

import assert from 'node:assert/strict';

export const TOOL_NAMES = ['search_products', 'get_product', 'list_categories', 'compare_products', 'check_availability'];
export const AVAILABILITY = ['in-stock', 'limited', 'out-of-stock'];

// The four iPhone handsets of the demo catalog (dummyjson ids 121..124).
export const IPHONES = ['iPhone 5s', 'iPhone 6', 'iPhone 13 Pro', 'iPhone X'];

export function assertProduct(p, where = 'product') {
  assert.equal(typeof p, 'object', `${where} is an object`);
  assert.ok(p !== null, `${where} is not null`);
  assert.equal(typeof p.id, 'string', `${where}.id is a string`);
  assert.equal(typeof p.sku, 'string', `${where}.sku is a string`);
  assert.equal(typeof p.name, 'string', `${where}.name is a string`);
  assert.ok(p.brand === null || typeof p.brand === 'string', `${where}.brand is a string or null`);
  assert.equal(typeof p.category, 'string', `${where}.category is a string`);
  assert.equal(typeof p.price, 'object', `${where}.price is an object`);
  assert.ok(Number.isInteger(p.price.amountMinor), `${where}.price.amountMinor is an integer (got ${p.price.amountMinor})`);
  assert.equal(p.price.currency, 'USD', `${where}.price.currency`);
  assert.equal(typeof p.price.formatted, 'string', `${where}.price.formatted is a string`);
  assert.ok(AVAILABILITY.includes(p.availability), `${where}.availability is one of ${AVAILABILITY} (got ${p.availability})`);
  assert.ok(Number.isInteger(p.stock), `${where}.stock is an integer`);
  assert.equal(typeof p.rating, 'number', `${where}.rating is a number`);
  assert.equal(typeof p.description, 'string', `${where}.description is a string`);
  assert.ok(Array.isArray(p.tags), `${where}.tags is an array`);
  assert.ok(p.attributes && typeof p.attributes === 'object' && !Array.isArray(p.attributes), `${where}.attributes is an object`);
  assert.equal(typeof p.updatedAt, 'string', `${where}.updatedAt is a string`);
}

// Product 1 of the demo catalog, as seeded.
export function assertProductOne(p) {
  assertProduct(p, 'product 1');
  assert.equal(p.id, '1');
  assert.equal(p.name, 'Essence Mascara Lash Princess');
  assert.equal(p.brand, 'Essence');
  assert.equal(p.category, 'beauty');
  assert.equal(p.price.amountMinor, 999);
}

// The JSON text of a single-content resource read.
export function resourceJson(result, uri) {
  assert.ok(Array.isArray(result.contents) && result.contents.length >= 1, `${uri}: contents is a non-empty array`);
  const c = result.contents[0];
  assert.equal(c.uri, uri, `${uri}: contents[0].uri`);
  assert.equal(c.mimeType, 'application/json', `${uri}: contents[0].mimeType`);
  assert.equal(typeof c.text, 'string', `${uri}: contents[0].text is a string`);
  try {
    return JSON.parse(c.text);
  } catch (e) {
    assert.fail(`${uri}: contents[0].text is not JSON (${e.message}): ${c.text.slice(0, 200)}`);
  }
}

// All the text a prompt result carries (text content and embedded resources).
export function promptText(result) {
  return JSON.stringify(result.messages);
}
