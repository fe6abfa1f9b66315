// Headless Chromium: the teacher goes live in the present view (microphone from a WAV), adds an RTMP
// destination in the stream panel, streams to it through the real egress, and stops. Screenshots at
// desktop and phone width. Env: BASE, SESSION, TEACHER_EMAIL, PASSWORD, WAV, SHOTS, RTMP_URL,
// STREAM_KEY, RECEIVED_FILE (what the receiver writes: streaming goes on until media arrives there),
// AUDIO_ONLY (optional: camera off). Prints one JSON line.
import { statSync } from 'node:fs';
import { env, launchWithMedia, signIn, report } from './common.mjs';

const [base, session, wav, shots] = [env('BASE'), env('SESSION'), env('WAV'), env('SHOTS')];
const browser = await launchWithMedia(wav);
const result = {};
const text = (page, sel) => page.evaluate((s) => document.querySelector(s)?.textContent ?? null, sel);
await report(browser, result, async () => {
  const teacher = await signIn(browser, base, env('TEACHER_EMAIL'), env('PASSWORD'));
  await teacher.goto(`${base}/app/#/sessions/${session}/present`);
  await teacher.waitForSelector('#no-destinations');
  result.emptyState = await text(teacher, '#no-destinations');
  result.statusBefore = await text(teacher, '#stream-status');
  // Media first (with the fake camera unless AUDIO_ONLY), then the destination.
  if (process.env.AUDIO_ONLY) await teacher.uncheck('#camera');
  await teacher.click('#go');
  await teacher.waitForFunction(() => document.querySelector('#state')?.dataset.s === 'connected', null, { timeout: 20000 });
  await teacher.click('.stream-panel summary');
  await teacher.fill('.stream-panel input[placeholder="YouTube"]', 'Local receiver');
  await teacher.fill('.stream-panel input[placeholder^="rtmp://"]', env('RTMP_URL'));
  await teacher.fill('.stream-panel input[type="password"]', env('STREAM_KEY'));
  await teacher.click('.stream-panel button[type="submit"]');
  await teacher.waitForSelector('.destination');
  result.keyHint = await text(teacher, '.destination .muted');
  result.keyCleared = await teacher.evaluate(() => document.querySelector('.stream-panel input[type="password"]').value === '');
  await teacher.click('.destination input[type="checkbox"]');
  await teacher.click('#stream-go');
  await teacher.waitForFunction(() => document.querySelector('#stream-status')?.textContent === 'Streaming', null, { timeout: 30000 });
  await teacher.waitForSelector('.destination[data-live="true"]', { timeout: 10000 });
  result.streaming = await text(teacher, '#stream-status');
  result.badge = await text(teacher, '.destination .badge');
  console.error(JSON.stringify({ event: 'live' }));
  // "Live" is Egress's word; the media reaches the receiver when its pipeline has started, which on
  // a loaded machine takes a while: wait until the receiver holds some of it, then stream on a little.
  const size = () => { try { return statSync(env('RECEIVED_FILE')).size; } catch { return 0; } };
  // (The test decides what it means when nothing comes: see egress.rs.)
  const live = Date.now();
  while (size() < 20000 && Date.now() - live < 30000) await new Promise((r) => setTimeout(r, 200));
  result.mediaAfterLiveMs = size() >= 20000 ? Date.now() - live : null;
  await new Promise((r) => setTimeout(r, 4000));
  await teacher.screenshot({ path: `${shots}/present-streaming.png`, fullPage: true });
  await teacher.setViewportSize({ width: 390, height: 844 });
  await teacher.screenshot({ path: `${shots}/present-streaming-phone.png`, fullPage: true });
  await teacher.setViewportSize({ width: 1280, height: 800 });
  await teacher.click('#stream-stop');
  await teacher.waitForFunction(() => document.querySelector('#stream-status')?.textContent === 'Not streaming', null, { timeout: 20000 });
  await teacher.waitForSelector('.destination[data-live="false"]', { timeout: 10000 });
  result.statusAfter = await text(teacher, '#stream-status');
  result.badgeAfter = await text(teacher, '.destination .badge');
  result.error = (await text(teacher, '#stream-error')) || null;
});
