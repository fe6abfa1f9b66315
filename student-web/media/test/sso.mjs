// "Sign in with your school" in Chromium (tests/tests/sso.rs): the sign-in page's button, the school's
// real OpenID provider's login form, its redirects back, the hand-off — and the person lands in the app,
// signed in; then someone with no account here gets the page that says so. Screenshots, desktop and
// phone; axe-core on the sign-in page. Env: BASE, EMAIL, USERNAME, REFUSED_EMAIL, REFUSED_USERNAME, SHOTS.
import { env, launch, axe, report, watch } from './common.mjs';

const [base, shots] = [env('BASE'), env('SHOTS')];
const result = {};
const browser = await launch();

async function throughProvider(page, email, username) {
  await page.goto(`${base}/`);
  await page.waitForSelector('#email');
  await page.fill('#email', email);
  await page.click('#sso');
  await page.waitForSelector('input[name="password"]', { timeout: 15000 });
  result.providerHost = new URL(page.url()).host;
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', 'verysecure');
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"], input[type="submit"]')]);
}

await report(browser, result, async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  watch(page, 'sso');
  await page.goto(`${base}/`);
  await page.waitForSelector('#sso');
  result.axeSignIn = await axe(page);
  // The button without an email says what to do.
  await page.click('#sso');
  result.noEmail = await page.textContent('#signin-error');
  await page.screenshot({ path: `${shots}/signin-with-school.png` });

  await throughProvider(page, env('EMAIL'), env('USERNAME'));
  await page.waitForSelector('#who', { timeout: 15000 });
  result.who = await page.textContent('#who');
  result.landedAt = new URL(page.url()).hash;
  await page.screenshot({ path: `${shots}/signed-in-with-school.png` });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const p2 = await phone.newPage();
  watch(p2, 'sso-refused');
  await throughProvider(p2, env('REFUSED_EMAIL'), env('REFUSED_USERNAME'));
  await p2.waitForSelector('#sso-refused', { timeout: 15000 });
  result.refused = await p2.evaluate(() => ({
    reason: document.querySelector('#sso-refused').dataset.reason,
    words: document.querySelector('#sso-refused').textContent,
  }));
  result.refusedOverflow = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  result.axeRefused = await axe(p2);
  await p2.screenshot({ path: `${shots}/signin-refused-phone.png`, fullPage: true });
});
