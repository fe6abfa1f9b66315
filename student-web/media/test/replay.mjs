// The replay page (artifact-worker/tests/browser_replay.rs): transcript and chapters visible, a chapter
// click seeks the player, the slide pane follows the playhead, search narrows the transcript, captions
// track present; axe-core; screenshots. Env: BASE, SESSION, EMAIL, PASSWORD, SHOTS, CHECK_AT, SEARCH.
import { env, launch, signIn, axe, cspViolations, titles } from './common.mjs';

const [base, session, shots] = [env('BASE'), env('SESSION'), env('SHOTS')];
const result = {};
const browser = await launch();
const until = (page, fn, arg, timeout = 15000) => page.waitForFunction(fn, arg, { timeout });
const seek = (page, t) => page.evaluate((t) => { document.querySelector('#player').currentTime = t; }, t);
const slide = (page) => page.evaluate(() => {
  const s = document.querySelector('.at-playhead #slide');
  return s ? { page: Number(s.dataset.page), asset: s.dataset.asset || null } : null;
});
try {
  const page = await signIn(browser, base, env('EMAIL'), env('PASSWORD'));
  await page.goto(`${base}/app/#/sessions/${session}/replay`);
  await until(page, () => document.querySelectorAll('#transcript li').length > 0 && document.querySelectorAll('#chapters li').length > 0);
  result.segments = await page.evaluate(() => document.querySelectorAll('#transcript li').length);
  result.titles = await titles(page);
  result.chapters = await page.evaluate(() => [...document.querySelectorAll('#chapters button')].map((b) => b.lastChild.textContent));
  result.captions = await page.evaluate(() => document.querySelector('#player track')?.getAttribute('src') || null);
  await until(page, () => document.querySelector('#player').readyState >= 1);
  // The log arrives after the transcript; then the slide pane shows slide 1 at the start.
  await until(page, () => document.querySelector('.at-playhead #slide'));
  result.slideAtStart = await slide(page);

  await page.click('#chapters li:nth-child(2) button');
  await until(page, () => document.querySelector('#player').currentTime > 0.5);
  result.afterChapterClick = await page.evaluate(() => document.querySelector('#player').currentTime);

  const at = Number(env('CHECK_AT'));
  await seek(page, at);
  await until(page, (at) => Math.abs(document.querySelector('#player').currentTime - at) < 0.1, at);
  await until(page, () => document.querySelector('.at-playhead #slide')?.dataset.page === '2');
  result.slideAt = await slide(page);
  result.activeSegment = await page.evaluate(() => {
    const now = document.querySelector('#transcript .segment.now');
    return now ? Number(now.dataset.seg) : null;
  });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${shots}/replay.png` });
  result.axe = await axe(page);

  const duration = await page.evaluate(() => document.querySelector('#player').duration);
  await seek(page, duration - 0.1);
  await until(page, () => document.querySelectorAll('#replay-chat li').length === 2);
  result.chatAtEnd = await page.evaluate(() => [...document.querySelectorAll('#replay-chat li')].map((li) => li.lastChild.textContent));

  await page.fill('#search', env('SEARCH'));
  await until(page, () => document.querySelector('.transcript p.muted[aria-live]'));
  result.searchHits = await page.evaluate(() => document.querySelectorAll('#transcript li').length);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.fill('#search', '');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${shots}/replay-phone.png`, fullPage: true });
  result.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
} catch (e) {
  result.error = String(e && e.stack || e);
  result.player = await browser.contexts()[0]?.pages()[0]?.evaluate(() => {
    const p = document.querySelector('#player');
    return p && { t: p.currentTime, ready: p.readyState, net: p.networkState, seekable: p.seekable.length ? [p.seekable.start(0), p.seekable.end(0)] : [], err: p.error && p.error.message, src: p.currentSrc };
  }).catch(() => null);
} finally {
  await browser.close();
}
result.csp = cspViolations;
console.log(JSON.stringify(result));
