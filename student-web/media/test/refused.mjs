// The replay of a class the school's recogniser could not transcribe (artifact-worker/tests/languages.rs):
// the transcript pane says why, in words, where the transcript would be; axe-core; screenshots on desktop
// and phone. Env: BASE, SESSION, EMAIL, PASSWORD, SHOTS.
import { env, launch, signIn, axe, report } from './common.mjs';

const [base, session, shots] = [env('BASE'), env('SESSION'), env('SHOTS')];
const result = {};
const browser = await launch();
await report(browser, result, async () => {
  const page = await signIn(browser, base, env('EMAIL'), env('PASSWORD'));
  await page.goto(`${base}/app/#/sessions/${session}/replay`);
  await page.waitForSelector('#transcript-refused', { timeout: 15000 });
  result.refused = await page.evaluate(() => document.querySelector('#transcript-refused').textContent);
  result.transcriptLines = await page.evaluate(() => document.querySelectorAll('#transcript li').length);
  result.axe = await axe(page);
  await page.screenshot({ path: `${shots}/replay-refused.png` });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForSelector('#transcript-refused');
  await page.screenshot({ path: `${shots}/replay-refused-phone.png`, fullPage: true });
  result.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
});
