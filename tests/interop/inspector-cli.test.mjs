// The official MCP Inspector in CLI mode (@modelcontextprotocol/inspector-cli)
// against `PW_BIN stdio`: tools/list and tools/call, checking the JSON the
// inspector prints on stdout.
//
// The inspector's bin (build/cli.js) re-spawns `node build/index.js`; PATH
// starts with the pinned node's directory so that child is the pinned node
// too, not the system one.
//
// It runs with its build/ directory as the working directory: inspector-cli
// 1.0.3 picks the package.json it reads its client name from with
// fs.existsSync('../package.json') (relative to the working directory) but
// imports it relative to its own module, so from anywhere else it fails with
// "Cannot find module .../@modelcontextprotocol/package.json".
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { pwBin, freshDatabase, serverEnv, PINNED_NODE, INTEROP_DIR, TEST_TIMEOUT_MS } from './lib/env.mjs';
import { TOOL_NAMES, IPHONES, assertProduct } from './lib/catalog-asserts.mjs';
import { loadSchema } from './lib/schema.mjs';

const require = createRequire(join(INTEROP_DIR, 'package.json'));
const INSPECTOR_BIN = join(dirname(require.resolve('@modelcontextprotocol/inspector-cli/package.json')), 'build', 'cli.js');
// The inspector's SDK (ours, hoisted) offers this revision.
const REVISION = '2025-11-25';

const running = new Set();

// Runs the inspector in its own process group (it has children of its own);
// resolves with {code, signal, stdout, stderr}.
function inspector(args, env, timeoutMs = TEST_TIMEOUT_MS - 5000) {
  return new Promise((resolve, reject) => {
    const child = spawn(PINNED_NODE, [INSPECTOR_BIN, '--cli', ...args], {
      env, cwd: dirname(INSPECTOR_BIN), stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    running.add(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      killGroup(child.pid);
      reject(new Error(`inspector ${args.join(' ')} timed out after ${timeoutMs} ms\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child.pid);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

function parseOutput(r, what) {
  assert.equal(r.code, 0, `inspector ${what} exited ${r.code}${r.signal ? ` (${r.signal})` : ''}\nstderr: ${r.stderr}\nstdout: ${r.stdout}`);
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    assert.fail(`inspector ${what} printed no JSON (${e.message}):\n${r.stdout}\nstderr: ${r.stderr}`);
  }
}

function assertSchema(def, value, what) {
  const errs = loadSchema(REVISION).check(def, value);
  assert.deepEqual(errs, [], `${what} as printed by the inspector is not a valid ${REVISION} ${def}`);
}

describe('@modelcontextprotocol/inspector-cli against pennyworth stdio', () => {
  let db;
  let env;

  before(() => {
    db = freshDatabase('inspector');
    env = serverEnv(db.path, { PATH: `${dirname(PINNED_NODE)}:${process.env.PATH ?? '/usr/bin:/bin'}` });
  });

  after(() => {
    for (const pid of running) killGroup(pid);
    db?.cleanup();
  });

  it('--method tools/list lists the five tools', { timeout: TEST_TIMEOUT_MS }, async () => {
    const out = parseOutput(await inspector([pwBin(), 'stdio', '--method', 'tools/list'], env), 'tools/list');
    assertSchema('ListToolsResult', out, 'tools/list');
    const names = out.tools.map((t) => t.name);
    for (const n of TOOL_NAMES) assert.ok(names.includes(n), `${n} listed (got ${names.join(', ')})`);
    for (const t of out.tools) {
      if (!TOOL_NAMES.includes(t.name)) continue;
      assert.equal(t.inputSchema?.type, 'object', `${t.name}.inputSchema`);
      assert.equal(t.outputSchema?.type, 'object', `${t.name}.outputSchema`);
    }
  });

  it('--method tools/call --tool-name search_products --tool-arg query=iphone', { timeout: TEST_TIMEOUT_MS }, async () => {
    const out = parseOutput(await inspector(
      [pwBin(), 'stdio', '--method', 'tools/call', '--tool-name', 'search_products', '--tool-arg', 'query=iphone'],
      env), 'tools/call');
    assertSchema('CallToolResult', out, 'tools/call');
    assert.notEqual(out.isError, true, `search_products returned isError: ${JSON.stringify(out.content)}`);
    const sc = out.structuredContent;
    assert.ok(sc && Array.isArray(sc.products) && sc.products.length > 0, 'structuredContent.products is non-empty');
    sc.products.forEach((p, i) => assertProduct(p, `products[${i}]`));
    assert.match(sc.products[0].name, /iphone/i, `first result is an iPhone (got ${sc.products[0].name})`);
    assert.ok(sc.total >= IPHONES.length, `total >= ${IPHONES.length}`);
    assert.ok(out.content.some((c) => c.type === 'text' && /iphone/i.test(c.text)), 'the text content mentions the iPhones');
  });
});
