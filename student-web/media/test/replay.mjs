// The replay page (artifact-worker/tests/browser_replay.rs): transcript and chapters visible, a chapter
// click seeks the player, the slide pane follows the playhead, search narrows the transcript, captions
// track present; axe-core; screenshots; then the course search finds the word and its hit opens the replay at that second. Env: BASE, SESSION, EMAIL, PASSWORD, SHOTS, CHECK_AT, SEARCH.
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

  // Course search: the same word across the course's lectures; a hit opens the replay at its second.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${base}/app/#/courses`);
  await page.waitForSelector('.course-search input');
  // "/" goes to the search box; results come as the student types (no Enter).
  await page.click('h1');
  await page.keyboard.press('/');
  result.slashFocus = await page.evaluate(() => document.activeElement?.matches('.course-search input') || false);
  await page.keyboard.type(env('SEARCH'), { delay: 40 });
  await page.waitForSelector('.search-hit, .search-empty', { timeout: 15000 });
  result.courseHits = await page.evaluate(() => [...document.querySelectorAll('.search-hit a')].map((a) => ({
    at: Number(a.dataset.at), kind: a.dataset.kind, badge: a.querySelector('.hit-kind')?.textContent || null,
    href: a.getAttribute('href'), marked: [...a.querySelectorAll('mark')].map((m) => m.textContent),
    lang: a.querySelector('.snippet')?.getAttribute('lang') || null })));
  await page.screenshot({ path: `${shots}/course-search.png` });
  result.axeSearch = await axe(page);
  if (result.courseHits.length) {
    // The first thing said (a slide or a question may rank above it).
    await page.click('.search-hit a[data-kind="speech"]');
    await until(page, () => document.querySelector('#player')?.readyState >= 1 && document.querySelector('#player').currentTime > 0);
    await until(page, () => !!document.querySelector('#transcript .segment.now'));
    result.afterSearchClick = await page.evaluate(() => document.querySelector('#player').currentTime);
    result.markedLine = await page.evaluate(() => Number(document.querySelector('#transcript .segment.now')?.dataset.seg));
    await page.screenshot({ path: `${shots}/replay-from-search.png` });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/app/#/courses`);
    await page.waitForSelector('.course-search input');
    await page.fill('.course-search input', env('SEARCH'));
    await page.waitForSelector('.search-hit', { timeout: 15000 });
    await page.screenshot({ path: `${shots}/course-search-phone.png`, fullPage: true });
    result.searchPhoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  }
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
