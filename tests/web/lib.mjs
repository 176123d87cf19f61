// Shared pieces of the web tests: where the built page is (PW_WEB_ROOT, set
// by tests/web/meson.build to BUILDDIR/web), where screenshots go
// (PW_ARTIFACTS, BUILDDIR/tests/web/artifacts), and the browser: Debian's
// /usr/bin/chromium driven by playwright-core from tests/interop (no
// browser download), headless, bounded in time.
//
// SPDX-License-Identifier: MIT

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const playwrightUrl = new URL('../interop/node_modules/playwright-core/index.mjs', import.meta.url);
export const { chromium } = await import(playwrightUrl.href);

export const CHROMIUM = process.env.PW_CHROMIUM ?? '/usr/bin/chromium';

export function webRoot() {
  const dir = process.env.PW_WEB_ROOT;
  if (!dir) throw new Error('PW_WEB_ROOT is not set; run with `meson test --suite web`');
  if (!existsSync(join(dir, 'app.js')) || !existsSync(join(dir, 'index.html'))) {
    throw new Error(`${dir} has no built page (app.js, index.html): the web target was not ` +
      'built; its npm packages are installed by scripts/setup (see web/meson.build)');
  }
  return dir;
}

export function artifactsDir() {
  const dir = process.env.PW_ARTIFACTS ?? new URL('../../artifacts/web', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/setup does)`);
  }
  // --no-sandbox: the suite may run as root, where chromium refuses its sandbox.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}
