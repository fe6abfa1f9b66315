// A class that outlives its server (artifact-worker/tests/browser_recording.rs): the present view goes
// live and records camera and microphone (an espeak-ng lecture); after KILL_AFTER_S seconds it prints
// KILL, the test kills cloud-api and starts it again 30 s later (and answers RESTARTED on stdin);
// meanwhile the slices wait in IndexedDB and the indicator says so; back up, they go up in order; at
// CLASS_S seconds the tab is killed without "End class".
// Env: BASE, SESSION, TEACHER_EMAIL, PASSWORD, WAV, SHOTS, CLASS_S, KILL_AFTER_S. Prints one JSON line.
import { createInterface } from 'node:readline';
import { env, launchWithMedia, signIn, report } from './common.mjs';

const [base, session, shots] = [env('BASE'), env('SESSION'), env('SHOTS')];
const [classS, killAfterS] = [Number(env('CLASS_S')), Number(env('KILL_AFTER_S'))];
const stdin = createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();
const browser = await launchWithMedia(env('WAV'));
const result = {};
const figures = (page) => page.evaluate(() => {
  const r = document.querySelector('#rec');
  return r && { saved: +r.dataset.saved, waiting: +r.dataset.waiting, offline: r.dataset.offline === 'true',
    text: r.textContent.trim(), uploadId: window.__studio?.recording?.uploadId ?? null, at: Date.now() };
});
const until = (page, fn, arg, timeout = 60000) => page.waitForFunction(fn, arg, { timeout, polling: 250 });
const sleepUntil = (t) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

await report(browser, result, async () => {
  const teacher = await signIn(browser, base, env('TEACHER_EMAIL'), env('PASSWORD'));
  await teacher.goto(`${base}/app/#/sessions/${session}/present`);
  await teacher.click('#go');
  await until(teacher, () => document.querySelector('#state')?.dataset.s === 'connected');
  result.recordingFrom = Date.now();
  await until(teacher, () => +document.querySelector('#rec')?.dataset.saved >= 2);
  result.before = await figures(teacher);

  // The server is killed mid-class and comes back 30 s later; the class goes on meanwhile.
  await sleepUntil(result.recordingFrom + killAfterS * 1000);
  console.log('KILL');
  await until(teacher, () => {
    const r = document.querySelector('#rec');
    return r?.dataset.offline === 'true' && +r.dataset.waiting >= 3;
  });
  result.offline = await figures(teacher);
  await teacher.screenshot({ path: `${shots}/present-server-down.png` });
  const answer = (await lines.next()).value || '';
  if (answer !== 'RESTARTED') throw new Error(`expected RESTARTED, got ${answer}`);
  result.restartedAt = Date.now();
  await until(teacher, () => {
    const r = document.querySelector('#rec');
    return r?.dataset.offline === 'false' && r.dataset.waiting === '0';
  }, null, 90000);
  result.backOnline = await figures(teacher);

  // The rest of the class, then the tab is killed without "End class".
  await sleepUntil(result.recordingFrom + classS * 1000);
  await until(teacher, () => document.querySelector('#rec')?.dataset.waiting === '0', null, 30000);
  result.endAt = Date.now();
  result.lastSeen = await figures(teacher);
  await teacher.screenshot({ path: `${shots}/present-after-outage.png` });
});
stdin.close();
