// The account pages in Chromium: a pupil imported by roster opens the invite link, chooses a
// password (with the form's checks), lands on their courses; later changes the password from
// "Your account"; the used link says so. Then the studio's one-time hand-off link signs a browser in. axe-core on each page; screenshots at desktop and phone width.
import { launch, watch, axe, cspViolations } from './common.mjs';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const [link, email, shots] = [env('LINK'), env('EMAIL'), env('SHOTS')];
const result = { axe: {} };
const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  watch(page, email);
  await page.goto(link);
  await page.waitForSelector('#welcome h1');
  result.welcomeTitle = await page.textContent('#welcome h1');
  result.axe.welcome = await axe(page);
  await page.screenshot({ path: `${shots}/welcome-phone.png`, fullPage: true });

  // The form's own checks, before anything is sent.
  await page.fill('#new-password', 'short');
  await page.fill('#repeat-password', 'short');
  await page.click('#set-password');
  result.tooShort = await page.textContent('#welcome-error');
  await page.fill('#new-password', 'my first password');
  await page.fill('#repeat-password', 'my first passwort');
  await page.press('#repeat-password', 'Enter');
  result.mismatch = await page.textContent('#welcome-error');
  await page.fill('#repeat-password', 'my first password');
  await page.press('#repeat-password', 'Enter');
  await page.waitForSelector('#who');
  result.signedInAs = await page.textContent('#who');
  result.hashAfter = await page.evaluate(() => location.hash);
  await page.waitForSelector('.course h2');
  result.courses = await page.$$eval('.course h2', (hs) => hs.map((h) => h.textContent));

  // "Your account", by the email in the top bar.
  await page.click('#who');
  await page.waitForSelector('#account h1');
  result.axe.account = await axe(page);
  await page.fill('#current-password', 'not my password');
  await page.fill('#new-password', 'my second password');
  await page.fill('#repeat-password', 'my second password');
  await page.click('#change-password');
  await page.waitForFunction(() => document.querySelector('#account-error').textContent.length > 0);
  result.wrongCurrent = await page.textContent('#account-error');
  await page.fill('#current-password', 'my first password');
  await page.click('#change-password');
  await page.waitForFunction(() => document.querySelector('#account-ok').textContent.length > 0);
  result.changed = await page.textContent('#account-ok');
  result.fieldsCleared = await page.$eval('#new-password', (i) => i.value === '');
  await page.screenshot({ path: `${shots}/account-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: `${shots}/account-desktop.png` });

  // The same link again, in a fresh browser: used already.
  const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const again = await other.newPage();
  watch(again, 'second visit');
  await again.goto(link);
  await again.waitForSelector('#new-password');
  await again.fill('#new-password', 'yet another one');
  await again.fill('#repeat-password', 'yet another one');
  await again.click('#set-password');
  await again.waitForFunction(() => document.querySelector('#welcome-error').textContent.length > 0);
  result.reused = await again.textContent('#welcome-error');
  await again.screenshot({ path: `${shots}/welcome-used.png` });

  // The studio's hand-off link (made for the demo teacher by the test): a browser with no sign-in
  // lands on the route it names, signed in; the same link a second time is refused.
  const handoff = env('HANDOFF');
  const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const h = await fresh.newPage();
  watch(h, 'handoff');
  await h.goto(handoff);
  await h.waitForSelector('#account h1');
  result.handoffWho = await h.textContent('#who');
  result.handoffHash = await h.evaluate(() => location.hash);
  result.axe.handoff = await axe(h);
  const late = await (await browser.newContext()).newPage();
  watch(late, 'handoff again');
  await late.goto(handoff);
  await late.waitForFunction(() => (document.querySelector('#handoff-error') || {}).textContent?.length > 0);
  result.handoffReused = await late.textContent('#handoff-error');
  await late.screenshot({ path: `${shots}/handoff-used.png` });
  result.csp = cspViolations;
} catch (e) {
  result.error = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
