// The class recording survives the network and a reload (artifact-worker/tests/browser_recording.rs):
// the present view records camera and microphone in slices kept in IndexedDB; while the API is
// unreachable the slices wait and the indicator says so; back online they go up in order; a reload
// resumes the same upload with a new recorder run; then the tab is killed without "End class".
// Env: BASE, SESSION, TEACHER_EMAIL, PASSWORD, WAV, SHOTS. Prints one JSON line.
import { env, launchWithMedia, signIn, report } from './common.mjs';

const [base, session, shots] = [env('BASE'), env('SESSION'), env('SHOTS')];
const browser = await launchWithMedia(env('WAV'));
const result = {};
const figures = (page) => page.evaluate(() => {
  const r = document.querySelector('#rec');
  return r && { saved: +r.dataset.saved, waiting: +r.dataset.waiting, offline: r.dataset.offline === 'true',
    text: r.textContent.trim(), uploadId: window.__studio?.recording?.uploadId ?? null };
});
const until = (page, fn, arg, timeout = 45000) => page.waitForFunction(fn, arg, { timeout, polling: 200 });
const rec = () => document.querySelector('#rec');

await report(browser, result, async () => {
  const teacher = await signIn(browser, base, env('TEACHER_EMAIL'), env('PASSWORD'));
  await teacher.goto(`${base}/app/#/sessions/${session}/present`);
  await teacher.click('#go');
  await until(teacher, () => document.querySelector('#state')?.dataset.s === 'connected');
  result.recordingFrom = Date.now();
  await until(teacher, () => +document.querySelector('#rec')?.dataset.saved >= 2);
  result.before = await figures(teacher);

  // The API is unreachable (LiveKit is not): slices are kept in this browser and the teacher is told.
  await teacher.route('**/api/**', (route) => route.abort('connectionrefused'));
  await until(teacher, () => {
    const r = document.querySelector('#rec');
    return r?.dataset.offline === 'true' && +r.dataset.waiting >= 2;
  });
  result.offline = await figures(teacher);
  await teacher.screenshot({ path: `${shots}/present-recording-offline.png` });
  await teacher.setViewportSize({ width: 390, height: 844 });
  await teacher.screenshot({ path: `${shots}/present-recording-offline-phone.png`, fullPage: true });
  await teacher.setViewportSize({ width: 1280, height: 800 });
  await teacher.unroute('**/api/**');
  await until(teacher, () => {
    const r = document.querySelector('#rec');
    return r?.dataset.offline === 'false' && r.dataset.waiting === '0';
  });
  result.backOnline = await figures(teacher);

  // A reload: what was kept goes up first, and going live again continues the same upload.
  await teacher.reload();
  await teacher.waitForSelector('#go:not([disabled])');
  await teacher.click('#go');
  await until(teacher, () => document.querySelector('#state')?.dataset.s === 'connected');
  await until(teacher, (n) => +document.querySelector('#rec')?.dataset.saved >= n + 2, result.backOnline.saved);
  // Recording again, and a part of the new run is on the server (the kept parts sent after the
  // reload can meet the count above on their own on a loaded machine).
  await until(teacher, () => document.querySelector('#rec')?.textContent.startsWith('recording'));
  const resumed = await teacher.evaluate(() => {
    const d = document.querySelector('#rec').dataset;
    return +d.saved + +d.waiting;
  });
  await until(teacher, (n) => +document.querySelector('#rec')?.dataset.saved > n, resumed);
  result.afterReload = await figures(teacher);
  await teacher.screenshot({ path: `${shots}/present-recording.png` });

  // The tab is killed without "End class": whatever the server acknowledged is the recording.
  result.endAt = Date.now();
  result.lastSeen = await figures(teacher);
});
