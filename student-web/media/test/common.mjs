// Shared by the app's browser tests: launch Chromium, sign in through the form, run axe-core.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

export const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };

export async function launch(extra = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', ...extra],
  });
}

/** Chromium with a fake camera and a microphone that plays `wav` (the media tests). */
export const launchWithMedia = (wav) => launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${wav}`]);

/** Run a test's steps, which fill `result`; whatever happens, close the browser and print `result` as one
 * JSON line, with the error that stopped the steps (if one did) and the page's CSP violations. */
export async function report(browser, result, steps) {
  try {
    await steps();
  } catch (e) {
    result.error = String(e && e.stack || e);
  } finally {
    await browser.close();
  }
  result.csp = cspViolations;
  console.log(JSON.stringify(result));
}

/** What the server's Content-Security-Policy blocked on any watched page (tests assert it stays empty). */
export const cspViolations = [];

/** Log a page's errors, and keep its CSP violations. */
export function watch(page, who) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    console.error(`[${who}] ${m.text()}`);
    if (m.text().includes('Content Security Policy')) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => console.error(`[${who}] page error: ${e}`));
}

/** A fresh context signed in through the sign-in form; the page is on the course list. */
export async function signIn(browser, base, email, password, viewport = { width: 1280, height: 800 }) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  watch(page, email);
  await page.goto(`${base}/`);
  await page.waitForSelector('#email');
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#signin');
  await page.waitForSelector('#who');
  return page;
}

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it is now. */
export async function axe(page) {
  // Evaluated through the DevTools protocol, not as a script tag: the server's CSP refuses inline script.
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Press Tab until `selector` has focus (keyboard only); false if it never does. */
export async function tabTo(page, selector, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return true;
  }
  return false;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** What a class page says it is: the tab's title, the heading, the course line, the status badge. */
export const titles = (page) => page.evaluate(() => ({
  tab: document.title,
  heading: document.querySelector('#class-title')?.textContent || null,
  course: document.querySelector('#class-course')?.textContent || null,
  status: document.querySelector('#status')?.dataset.status || null,
}));
