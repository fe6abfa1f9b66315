// Headless Chromium: the teacher's broadcast page publishes a microphone fed from a WAV file, a
// student's watch page (another browser context) subscribes; audio bytes must arrive (WebRTC stats).
// Then the teacher ends the class and the local MediaRecorder recording is uploaded.
// Env: BASE, SESSION, TEACHER_EMAIL, STUDENT_EMAIL, PASSWORD, WAV, SHOTS. Prints one JSON line.
import { chromium } from 'playwright-core';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const [base, session, wav, shots] = [env('BASE'), env('SESSION'), env('WAV'), env('SHOTS')];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`,
    '--autoplay-policy=no-user-gesture-required',
  ],
});
const result = { audioBytes: 0 };
try {
  async function loggedIn(email) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && console.error(`[${email}] ${m.text()}`));
    await page.goto(`${base}/`);
    const status = await page.evaluate(async ([email, password]) => {
      const r = await fetch('/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }) });
      return r.status;
    }, [email, env('PASSWORD')]);
    if (status !== 200) throw new Error(`login ${email}: ${status}`);
    return page;
  }
  const teacher = await loggedIn(env('TEACHER_EMAIL'));
  await teacher.goto(`${base}/media/broadcast.html?session=${session}`);
  await teacher.click('#go');
  await teacher.waitForFunction(() => document.querySelector('#state')?.dataset.s === 'connected', null, { timeout: 20000 });

  const student = await loggedIn(env('STUDENT_EMAIL'));
  await student.goto(`${base}/media/watch.html?session=${session}`);
  await student.waitForFunction(() => document.querySelector('#state')?.dataset.s === 'connected', null, { timeout: 20000 });
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    result.audioBytes = await student.evaluate(() => window.__studio.room ? StudioMedia.inboundAudioBytes(window.__studio.room) : 0);
    if (result.audioBytes > 2000) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  result.audioElements = await student.evaluate(() => document.querySelectorAll('#media audio').length);
  await student.waitForFunction(() => document.querySelector('#media video'), null, { timeout: 10000 }).catch(() => {});
  result.videoElements = await student.evaluate(() => document.querySelectorAll('#media video').length);
  await teacher.screenshot({ path: `${shots}/teacher-broadcast.png` });
  await student.screenshot({ path: `${shots}/student-watch.png` });

  await teacher.click('#end');
  await teacher.waitForFunction(() => window.__studio.uploaded, null, { timeout: 20000 });
  // The class is ended after the upload: wait for that too before closing the browser.
  await teacher.waitForFunction(() => window.__studio.ended, null, { timeout: 20000 });
  result.recording = await teacher.evaluate(() => window.__studio.uploaded);
  result.teacherState = await teacher.evaluate(() => document.querySelector('#rec').textContent);
} catch (e) {
  result.error = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
