/**
 * A real headless browser for the integration tests: the system's Chromium (Debian's `chromium`
 * package, which `npm test` installs when missing through scripts/system-deps.sh) driven by
 * playwright-core, which downloads nothing. No Chromium is a failure with the way to get one,
 * never a silent skip: the browser tests are part of what `npm test` proves.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where a Chromium binary is looked for: `CHROMIUM_PATH` first, then Debian's and others' paths. */
export function chromiumCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return [env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => p !== undefined && p !== '');
}

/** The first executable of `candidates`, or undefined. */
export function findChromium(candidates: string[] = chromiumCandidates()): string | undefined {
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Launches headless Chromium (the first of `candidates`); throws with the way to install it when there is none. */
export async function launchBrowser(candidates: string[] = chromiumCandidates()): Promise<Browser> {
  const executablePath = findChromium(candidates);
  if (executablePath === undefined) {
    throw new Error(
      `no Chromium for the browser tests (looked at ${candidates.join(', ')}). ` +
        "Install Debian's chromium package: `npm test` does it when run as root (scripts/system-deps.sh), " +
        'or run `apt-get install chromium` as root, or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
  // Chromium's sandbox refuses to run as root (CI containers); /dev/shm is small in containers.
  const args = ['--disable-dev-shm-usage', ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])];
  return chromium.launch({ executablePath, headless: true, args, timeout: 60_000 });
}

/** A new page at `url` that records the page's uncaught errors and console errors. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  await page.goto(url);
  return { page, errors };
}
