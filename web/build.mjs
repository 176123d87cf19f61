// Builds the storefront page for `pennyworth serve` (run by the meson
// target in web/meson.build, with the node that scripts/setup installs):
//
//   node web/build.mjs --out DIR --modules NODE_MODULES
//
// - bundles web/app/main.js and what it imports, including the official
//   MCP TypeScript SDK client from NODE_MODULES (tests/interop/node_modules,
//   pinned by its package-lock.json), into DIR/app.js with esbuild: one ES
//   module for the browser, minified, no source map, no run-time fetches;
// - copies index.html, style.css and placeholder.svg next to it;
// - writes DIR/licenses.txt with the name, version, licence and licence
//   text of every npm package that ended up in the bundle (taken from the
//   bundle's own metafile, so the list cannot drift from what ships).
//
// The output depends only on the inputs (esbuild is deterministic and the
// licence list is sorted), so a rebuild with nothing changed is identical.
//
// SPDX-License-Identifier: MIT

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const STATIC_FILES = ['index.html', 'style.css', 'placeholder.svg'];

function args(argv) {
  const out = {};
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i];
    const v = argv[i + 1];
    if (!['--out', '--modules'].includes(k) || v === undefined) {
      throw new Error(`usage: build.mjs --out DIR --modules NODE_MODULES (bad '${k}')`);
    }
    out[k.slice(2)] = resolve(v);
  }
  if (!out.out || !out.modules) throw new Error('usage: build.mjs --out DIR --modules NODE_MODULES');
  return out;
}

// The package root ("…/node_modules/@scope/name" or "…/node_modules/name")
// of a bundled file, or null for our own sources.
function packageRoot(file) {
  const marker = `${sep}node_modules${sep}`;
  const at = file.lastIndexOf(marker);
  if (at < 0) return null;
  const rest = file.slice(at + marker.length).split(sep);
  const depth = rest[0].startsWith('@') ? 2 : 1;
  return file.slice(0, at + marker.length) + rest.slice(0, depth).join(sep);
}

function licenceText(root) {
  const name = readdirSync(root).sort().find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  return name ? readFileSync(join(root, name), 'utf8').trim() : '(no licence file in the package)';
}

function licences(metafile, cwd) {
  const roots = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const root = packageRoot(resolve(cwd, input));
    if (root) roots.add(root);
  }
  const blocks = [...roots].map((root) => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    return { id: `${pkg.name}@${pkg.version}`, licence: pkg.license ?? 'unknown', text: licenceText(root) };
  }).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const head = 'Third-party software bundled into app.js of the Pennyworth storefront page.\n';
  return head + blocks.map((b) => `\n${'='.repeat(72)}\n${b.id} (${b.licence})\n${'='.repeat(72)}\n${b.text}\n`).join('');
}

async function main() {
  const { out, modules } = args(process.argv);
  const src = dirname(fileURLToPath(import.meta.url));
  const esbuildMain = join(modules, 'esbuild', 'lib', 'main.js');
  if (!existsSync(esbuildMain)) {
    throw new Error(`${esbuildMain} is missing: install the npm packages (scripts/setup, or npm ci in tests/interop)`);
  }
  const esbuild = await import(pathToFileURL(esbuildMain).href);
  mkdirSync(out, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: src,
    entryPoints: [join(src, 'app', 'main.js')],
    outfile: join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none', // the licences go to licenses.txt in full
    nodePaths: [modules],
    metafile: true,
    logLevel: 'warning',
  });
  for (const f of STATIC_FILES) copyFileSync(join(src, f), join(out, f));
  writeFileSync(join(out, 'licenses.txt'), licences(result.metafile, src));
}

main().catch((e) => {
  console.error(`web/build.mjs: ${e.message}`);
  process.exit(1);
});
