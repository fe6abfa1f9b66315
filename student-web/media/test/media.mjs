// Headless Chromium: the teacher's present view publishes a microphone fed from a WAV file, a
// student's live room (another browser context) subscribes; audio bytes must arrive (WebRTC stats).
// The teacher shares the screen and stops; then ends the class and the recording is uploaded.
// Env: BASE, SESSION, TEACHER_EMAIL, STUDENT_EMAIL, PASSWORD, WAV, SHOTS. Prints one JSON line.
import { env, launchWithMedia, signIn, report } from './common.mjs';

const [base, session, wav, shots] = [env('BASE'), env('SESSION'), env('WAV'), env('SHOTS')];
const browser = await launchWithMedia(wav);
const result = { audioBytes: 0 };
await report(browser, result, async () => {
  const loggedIn = (email) => signIn(browser, base, email, env('PASSWORD'));
  const teacher = await loggedIn(env('TEACHER_EMAIL'));
  // The app's present view (the old /media/broadcast.html link leads there too).
  await teacher.goto(`${base}/app/#/sessions/${session}/present`);
  await teacher.click('#go');
  await teacher.waitForFunction(() => document.querySelector('#state')?.dataset.s === 'connected', null, { timeout: 20000 });

  const student = await loggedIn(env('STUDENT_EMAIL'));
  // An old link: /media/watch.html forwards to the app's live room.
  await student.goto(`${base}/media/watch.html?session=${session}`);
  await student.waitForURL(/\/app\/#\/sessions\//);
  await student.waitForFunction(() => document.querySelector('#state')?.dataset.s === 'connected', null, { timeout: 20000 });
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    result.audioBytes = await student.evaluate(() => window.__studio.room ? StudioMedia.inboundAudioBytes(window.__studio.room) : 0);
    if (result.audioBytes > 2000) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  result.caption = await student.evaluate(() => document.querySelector('#caption')?.textContent ?? null);
  await student.click('#cc');
  result.captionAfterToggle = await student.evaluate(() => document.querySelector('#caption')?.textContent ?? null);
  await student.click('#cc');
  result.audioElements = await student.evaluate(() => document.querySelectorAll('#media audio').length);
  await student.waitForFunction(() => document.querySelector('#media video'), null, { timeout: 10000 }).catch(() => {});
  result.videoElements = await student.evaluate(() => document.querySelectorAll('#media video').length);
  await teacher.screenshot({ path: `${shots}/teacher-broadcast.png` });
  await student.screenshot({ path: `${shots}/student-watch.png` });
  // The caption sits clear of the camera tile and of the stage, at desktop and phone widths.
  const overlap = () => student.evaluate(() => {
    const c = document.querySelector('#caption')?.getBoundingClientRect();
    const over = (el) => {
      const r = el.getBoundingClientRect();
      return c && r.width > 0 && c.left < r.right && r.left < c.right && c.top < r.bottom && r.top < c.bottom;
    };
    return { caption: !!c, camera: [...document.querySelectorAll('.item.camera')].some(over), stage: [...document.querySelectorAll('.stage-box')].some(over) };
  });
  result.captionDesktop = await overlap();
  await student.setViewportSize({ width: 390, height: 844 });
  result.captionPhone = await overlap();
  await student.screenshot({ path: `${shots}/student-watch-phone.png`, fullPage: true });
  await student.setViewportSize({ width: 1280, height: 800 });

  // The teacher shares the screen: it takes the students' stage (camera in its corner), and the
  // recording follows it (a new recorder run), then returns to the camera when sharing stops.
  result.shareBefore = await teacher.textContent('#share');
  await teacher.click('#share');
  await teacher.waitForFunction(() => window.__studio.recording?.shows === 'screen', null, { timeout: 15000 });
  await student.waitForFunction(() => document.querySelector('#media video[data-source="screen_share"]')?.videoWidth > 0, null, { timeout: 15000 });
  result.sharing = await teacher.evaluate(() => ({ button: document.querySelector('#share').textContent, rec: document.querySelector('#rec').textContent }));
  const onStage = () => student.evaluate(() => {
    const box = (el) => el && el.getBoundingClientRect();
    const [screen, camera, stage] = [box(document.querySelector('#media video[data-source="screen_share"]')),
      box(document.querySelector('#media video[data-source="camera"]')), box(document.querySelector('.stage-box'))];
    return { screenCoversStage: Math.abs(screen.width - stage.width) < 8 || Math.abs(screen.height - stage.height) < 40,
      cameraInCorner: !!camera && camera.width < stage.width / 3 && camera.right <= stage.right + 1 && camera.bottom <= stage.bottom + 1 };
  });
  result.screenDesktop = await onStage();
  await student.screenshot({ path: `${shots}/student-screen.png` });
  await student.setViewportSize({ width: 390, height: 844 });
  result.screenPhone = await onStage();
  await student.screenshot({ path: `${shots}/student-screen-phone.png`, fullPage: true });
  await student.setViewportSize({ width: 1280, height: 800 });
  await teacher.screenshot({ path: `${shots}/teacher-sharing.png` });
  // Two slices of the screen reach the server before sharing stops.
  const saved = await teacher.evaluate(() => window.__studio.recording.saved);
  await teacher.waitForFunction((n) => window.__studio.recording.saved >= n + 2, saved, { timeout: 20000 });
  await teacher.click('#share');
  await teacher.waitForFunction(() => window.__studio.recording?.shows === 'camera', null, { timeout: 15000 }).catch(async (e) => {
    result.stopSharing = await teacher.evaluate(() => ({ recording: window.__studio.recording, error: document.querySelector('#error')?.textContent, button: document.querySelector('#share').textContent }));
    throw e;
  });
  await student.waitForFunction(() => !document.querySelector('#media video[data-source="screen_share"]'), null, { timeout: 15000 }).catch(async (e) => {
    result.studentAfterStop = await student.evaluate(() => ({ media: document.querySelector('#media')?.innerHTML, pubs: [...window.__studio.room.remoteParticipants.values()].flatMap((p) => [...p.trackPublications.values()].map((t) => `${t.source}:${t.isSubscribed}`)) }));
    throw e;
  });
  result.shareAfter = await teacher.textContent('#share');
  const again = await teacher.evaluate(() => window.__studio.recording.saved);
  await teacher.waitForFunction((n) => window.__studio.recording.saved >= n + 1, again, { timeout: 20000 });

  await teacher.click('#end');
  await teacher.waitForFunction(() => window.__studio.uploaded, null, { timeout: 20000 });
  // The class is ended after the upload: wait for that too before closing the browser.
  await teacher.waitForFunction(() => window.__studio.ended, null, { timeout: 20000 });
  result.recording = await teacher.evaluate(() => window.__studio.uploaded);
  // After the end the present view turns into "this class has ended" with the replay link.
  await teacher.waitForSelector('.waiting #status', { timeout: 10000 });
  result.teacherAfterEnd = await teacher.evaluate(() => {
    const card = document.querySelector('.waiting');
    return card?.querySelector('a[href$="/replay"]') ? card.querySelector('#status').textContent : null;
  });
  // The replay plays the recording through its runs (camera, screen, camera): the picture's size
  // at each second, the player seeked there.
  await teacher.click('.waiting a[href$="/replay"]');
  await teacher.waitForFunction(() => { const v = document.querySelector('#player'); return v && v.readyState >= 1; }, null, { timeout: 20000 });
  result.replay = await teacher.evaluate(async () => {
    const v = document.querySelector('#player');
    const state = () => `at ${v.currentTime} of ${v.duration}, ready ${v.readyState}, network ${v.networkState}, error ${v.error && v.error.message}`;
    // Each step waits for its event; one that never comes fails with the player's state.
    const when = (what, start) => new Promise((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no ${what}: ${state()}`)), 15000);
      start(() => { clearTimeout(timer); done(); });
    });
    v.muted = true;
    const widths = [];
    if (!Number.isFinite(v.duration)) return { duration: String(v.duration), widths, error: state() };
    for (let t = 0.5; t < v.duration; t += 1) {
      await when(`seek to ${t}`, (done) => { v.addEventListener('seeked', done, { once: true }); v.currentTime = t; });
      // Played from there until a frame is presented: that frame's own size.
      let width = null;
      await when(`a frame at ${t}`, (done) => {
        v.requestVideoFrameCallback((_, frame) => { width = frame.width; done(); });
        // Seeked into the recording's last moment (12.5 s of 12.505): it ends before another frame
        // is presented, and that second has no sample.
        v.addEventListener('ended', done, { once: true });
        v.play().catch(() => {});
      });
      v.pause();
      widths.push([Math.round(t * 10) / 10, width]);
    }
    return { duration: v.duration, widths, error: v.error && v.error.message };
  });
});
