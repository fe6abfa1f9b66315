// An LTI 1.3 launch in Chromium (tests/tests/lti.rs): the learning platform's course page link, its
// login initiation, the platform's auto-posted launch, the hand-off — the instructor lands in the
// present view (and starts the class) and the learner (on a phone) in it, each signed in as themselves; someone the
// platform gives no course role gets the page that says why. Env: BASE, PLATFORM, SHOTS.
import { env, launch, axe, report, watch } from './common.mjs';

const [platform, shots] = [env('PLATFORM'), env('SHOTS')];
const result = {};
const browser = await launch();

async function fromCoursePage(viewport, user, who) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  watch(page, who);
  await page.goto(`${platform}/start?user=${user}`);
  return page;
}

await report(browser, result, async () => {
  const teacher = await fromCoursePage({ width: 1280, height: 800 }, 'teacher-1', 'lti-teacher');
  // The class the launch scheduled: the teacher's present view offers to start it.
  await teacher.waitForSelector('#status[data-status="scheduled"] ~ #start', { timeout: 20000 });
  await teacher.screenshot({ path: `${shots}/launched-teacher-present.png` });
  await teacher.click('#start');
  await teacher.waitForSelector('.room.presenting', { timeout: 20000 });
  await teacher.waitForSelector('#who');
  result.teacher = { hash: new URL(teacher.url()).hash, who: await teacher.textContent('#who') };
  await teacher.screenshot({ path: `${shots}/launched-teacher-live.png` });

  const learner = await fromCoursePage({ width: 390, height: 844 }, 'learner-1', 'lti-learner');
  await learner.waitForSelector('.room:not(.presenting)', { timeout: 20000 });
  await learner.waitForSelector('#who');
  result.learner = { hash: new URL(learner.url()).hash, who: await learner.textContent('#who') };
  result.learnerOverflow = await learner.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await learner.screenshot({ path: `${shots}/launched-learner-room-phone.png`, fullPage: true });

  const staff = await fromCoursePage({ width: 390, height: 844 }, 'staff-1', 'lti-refused');
  await staff.waitForSelector('#sso-refused', { timeout: 20000 });
  result.refused = await staff.evaluate(() => ({
    reason: document.querySelector('#sso-refused').dataset.reason,
    words: document.querySelector('#sso-refused').textContent,
  }));
  result.axeRefused = await axe(staff);
  await staff.screenshot({ path: `${shots}/launch-refused-phone.png`, fullPage: true });
});
