// The live room in headless Chromium against the real cloud-api binary (cloud-api/tests/browser_app.rs):
// a student signs in through the form, finds the class, joins, sees the slide and strokes the teacher
// made through the API, votes, asks; a second student (another context, keyboard only) votes, asks and
// upvotes; the first sees the upvote; the late joiner's "what you missed" card; the server restarts
// (the test prints RESTART and waits for RESTARTED on stdin) and every event is there once; axe-core
// on sign-in, the room and the present view; the teacher's present view moves the slide, answers,
// closes and opens polls; screenshots. Env: BASE, SESSION, PASSWORD, STUDENT_EMAIL, STUDENT2_EMAIL, TEACHER_EMAIL, DECK_PDF,
// SHOTS. Prints one JSON line last.
import { createInterface } from 'node:readline';
import { env, launch, signIn, axe, tabTo, sleep, watch, cspViolations, titles } from './common.mjs';

const [base, session, password, shots] = [env('BASE'), env('SESSION'), env('PASSWORD'), env('SHOTS')];
const stdin = createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();
const result = { axe: {} };

/** What the room shows, read from the DOM. */
const roomDom = (page) => page.evaluate(() => {
  const q = (s) => document.querySelector(s);
  const canvas = q('.board-canvas');
  return {
    head: Number(q('.room')?.dataset.head),
    link: q('#link')?.dataset.link,
    slide: q('#slide') ? { asset: q('#slide').dataset.asset || null, page: Number(q('#slide').dataset.page) } : null,
    slideImage: !!q('#slide img')?.complete && (q('#slide img')?.naturalWidth || 0) > 0,
    strokes: canvas ? Number(canvas.dataset.strokes) : null,
    strokeIds: canvas ? canvas.dataset.strokeIds.split(',').filter(Boolean) : [],
    poll: q('#poll')?.dataset.poll || null,
    tally: [...document.querySelectorAll('#tally li')].map((li) => Number(li.dataset.votes)),
    questions: [...document.querySelectorAll('#questions li')].map((li) => ({
      id: li.dataset.question, upvotes: Number(li.dataset.upvotes), text: li.querySelector('.text').textContent,
      author: li.querySelector('.meta span')?.textContent })),
    chat: [...document.querySelectorAll('#chat li[data-message]')].map((li) => li.dataset.message),
    missedSlides: q('#missed-slides') ? Number(q('#missed-slides').dataset.n) : null,
    missedPolls: [...document.querySelectorAll('#missed .missed-poll .result')].map((e) => e.textContent),
  };
});
const state = (page) => page.evaluate(async (s) => (await (await fetch(`/api/sessions/${s}/state`)).json()).state, session);
const until = (page, fn, arg, timeout = 15000) => page.waitForFunction(fn, arg, { timeout });

const browser = await launch();
try {
  // Sign-in: a wrong password is refused in words, then the right one lands on the course list.
  const ctx0 = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const first = await ctx0.newPage();
  watch(first, 'anonymous');
  await first.goto(`${base}/`);
  await first.waitForSelector('#email');
  result.url = first.url();
  result.axe.signin = await axe(first);
  await first.screenshot({ path: `${shots}/signin.png` });
  await first.fill('#email', env('STUDENT_EMAIL'));
  await first.fill('#password', 'not-the-password');
  await first.click('#signin');
  await until(first, () => document.querySelector('#signin-error')?.textContent.length > 0);
  result.wrongPassword = await first.textContent('#signin-error');
  await ctx0.close();

  const student = await signIn(browser, base, env('STUDENT_EMAIL'), password);
  await student.waitForSelector(`li[data-session="${session}"] a.primary`);
  result.courseList = await student.evaluate(() => [...document.querySelectorAll('.session')].map((li) => li.dataset.status));
  await student.screenshot({ path: `${shots}/courses.png` });
  await student.click(`li[data-session="${session}"] a.primary`);
  await until(student, () => document.querySelector('#link')?.dataset.link === 'live');
  await until(student, () => document.querySelector('#slide img')?.naturalWidth > 0);
  result.joined = { dom: await roomDom(student), state: await state(student) };
  result.titles = { room: await titles(student) };

  // Vote with the mouse, ask a question with the keyboard's Enter.
  await student.check('#opt-1');
  await student.click('#vote');
  await until(student, () => document.querySelectorAll('#tally li').length > 0);
  await student.fill('#ask', 'Why does the ball speed up?');
  await student.press('#ask', 'Enter');
  await until(student, () => document.querySelectorAll('#questions li').length === 1);

  // The second student joins late, keyboard only: vote, ask, upvote the first one's question.
  const second = await signIn(browser, base, env('STUDENT2_EMAIL'), password);
  await second.goto(`${base}/app/#/sessions/${session}`);
  await until(second, () => document.querySelector('#link')?.dataset.link === 'live');
  await until(second, () => document.querySelector('#missed-slides'));
  result.late = await roomDom(second);
  result.lateState = await state(second);
  result.keyboard = {};
  result.keyboard.radio = await tabTo(second, '#opt-0');
  await second.keyboard.press('ArrowDown');
  await second.keyboard.press('ArrowDown');
  result.keyboard.vote = await tabTo(second, '#vote');
  await second.keyboard.press('Enter');
  await until(second, () => document.querySelectorAll('#tally li').length > 0);
  result.keyboard.ask = await tabTo(second, '#ask');
  await second.keyboard.type('Is the slope the velocity?');
  await second.keyboard.press('Enter');
  await until(second, () => document.querySelectorAll('#questions li').length === 2);
  result.keyboard.upvote = await tabTo(second, '#questions li:not([data-upvotes="1"]) .upvote:not([disabled])');
  await second.keyboard.press('Enter');
  await until(student, () => [...document.querySelectorAll('#questions li')].some((li) => li.dataset.upvotes === '1'));
  result.afterVotes = { dom: await roomDom(student), state: await state(student) };
  result.axe.room = await axe(second);
  await second.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await second.screenshot({ path: `${shots}/room-desktop.png` });

  // The same room on a phone.
  const phone = await signIn(browser, base, env('STUDENT2_EMAIL'), password, { width: 390, height: 844 });
  await phone.goto(`${base}/app/#/sessions/${session}`);
  await until(phone, () => document.querySelector('#link')?.dataset.link === 'live');
  await sleep(500);
  await phone.screenshot({ path: `${shots}/room-phone.png`, fullPage: true });
  result.phoneOverflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

  // The server goes away: the indicator says so, and after the restart every event is there once.
  await student.evaluate(() => {
    window.__links = [];
    new MutationObserver(() => window.__links.push(document.querySelector('#link')?.dataset.link))
      .observe(document.querySelector('.room-head'), { subtree: true, attributes: true, childList: true });
  });
  console.log('RESTART');
  await until(student, () => ['reconnecting', 'offline'].includes(document.querySelector('#link')?.dataset.link), null, 20000);
  result.whileDown = await student.evaluate(() => document.querySelector('#link').dataset.link);
  // The test restarts the server, posts more events, and answers with the head it reached.
  const answer = (await lines.next()).value || '';
  const [word, head] = answer.split(' ');
  if (word !== 'RESTARTED') throw new Error(`expected RESTARTED, got ${answer}`);
  await until(student, () => document.querySelector('#link')?.dataset.link === 'live', null, 30000);
  await until(student, (h) => Number(document.querySelector('.room').dataset.head) === h, Number(head), 20000);
  result.links = await student.evaluate(() => window.__links);
  result.afterRestart = { dom: await roomDom(student), state: await state(student) };

  // The teacher in the browser: next slide, answer the top question, close the poll, open another.
  const teacher = await signIn(browser, base, env('TEACHER_EMAIL'), password);
  await teacher.goto(`${base}/app/#/sessions/${session}/present`);
  await until(teacher, () => document.querySelector('#link')?.dataset.link === 'live');
  // Hands: the present view lists them by name, first raised first; lowered and raised again goes last.
  const hands = () => teacher.evaluate(() => [...document.querySelectorAll('#hands li .name')].map((e) => e.textContent));
  await student.click('#hand');
  await until(teacher, () => document.querySelectorAll('#hands li').length === 1);
  await second.click('#hand');
  await until(teacher, () => document.querySelectorAll('#hands li').length === 2);
  result.hands = { raised: await hands() };
  const pressed = (page, v) => until(page, (v) => document.querySelector('#hand')?.getAttribute('aria-pressed') === v, v);
  await pressed(student, 'true');
  await student.click('#hand');
  await until(teacher, () => document.querySelectorAll('#hands li').length === 1);
  await pressed(student, 'false');
  await student.click('#hand');
  await until(teacher, () => document.querySelectorAll('#hands li').length === 2);
  result.hands.again = await hands();
  await teacher.click('#hands li:first-child button');
  await until(teacher, () => document.querySelectorAll('#hands li').length === 1);
  result.hands.afterLower = await hands();
  await teacher.click('#next');
  await until(student, () => document.querySelector('#slide')?.dataset.page === '3');
  // A deck uploaded from the present view goes on screen at page 1.
  const oldDeck = await student.evaluate(() => document.querySelector('#slide').dataset.asset);
  await teacher.setInputFiles('#deck-file', env('DECK_PDF'));
  await teacher.click('button:has-text("Upload and show")');
  await until(student, (old) => document.querySelector('#slide')?.dataset.asset !== old
    && document.querySelector('#slide')?.dataset.page === '1' && document.querySelector('#slide img')?.naturalWidth > 0, oldDeck, 30000);
  await teacher.click('#questions li:first-child button:has-text("Answered")');
  await until(student, () => document.querySelector('#questions li[data-answered="true"]'));
  await teacher.click('#close-poll');
  await until(student, () => document.querySelector('#poll-title')?.textContent.includes('closed'));
  await teacher.click('summary:has-text("Open a poll")');
  await teacher.fill('#poll-prompt', 'Ready for the quiz?');
  await teacher.fill('#poll-options', 'Yes\nNot yet');
  await teacher.click('button:has-text("Open poll")');
  await until(student, () => document.querySelector('#poll .prompt')?.textContent.includes('Ready for the quiz?'));
  result.axe.present = await axe(teacher);
  await teacher.evaluate(() => window.scrollTo(0, 0));
  await teacher.screenshot({ path: `${shots}/present.png`, fullPage: true });
  result.afterTeacher = { dom: await roomDom(student), state: await state(student) };
  result.titles.present = await titles(teacher);

  // Every title the teacher's tab shows from here to the ended class's page (the app's name must
  // not flash up in between).
  await teacher.evaluate(() => {
    window.__titles = [document.title];
    // Each value as set (a record's new text), not as read later: two sets in one turn are two values.
    new MutationObserver((records) => records.forEach((r) => r.type === 'characterData'
      ? window.__titles.push(r.target.textContent)
      : r.addedNodes.forEach((n) => window.__titles.push(n.textContent))))
      .observe(document.querySelector('title'), { childList: true, characterData: true, subtree: true });
  });
  // The teacher ends the class: the room says "Ended" and nothing that writes can be used any more.
  await teacher.click('#end');
  // The tab's title is set by an effect after the page renders, so it follows the badge a moment later.
  const endedShown = () => document.querySelector('#status')?.dataset.status === 'ended'
    && document.title.endsWith(' · Ended');
  await until(student, endedShown);
  await until(teacher, endedShown);
  result.ended = await student.evaluate(() => {
    const q = (s) => document.querySelector(s);
    return {
      link: !!q('#link'), hand: !!q('#hand'), vote: !!q('#vote'),
      disabled: ['#ask', '#ask-send', '#say', '#say-send'].filter((s) => q(s)?.disabled),
      upvotes: [...document.querySelectorAll('#questions .upvote')].every((b) => b.disabled),
      banner: q('.room .note[role=status]')?.textContent || null,
    };
  });
  result.titles.ended = await titles(student);
  // The present view itself, once its "End class" has gone through (the recording stopped, the end
  // posted), asks for the session again and shows the ended class's page: the room's heading goes
  // and that page's comes, its tab title set by an effect just after it renders. Read it there.
  await until(teacher, () => document.querySelector('h2#status')?.dataset.status === 'ended'
    && document.title.endsWith(' · Ended'));
  result.titles.presentEnded = await titles(teacher);
  result.titles.teacherSeen = await teacher.evaluate(() => window.__titles);
  await student.screenshot({ path: `${shots}/room-ended.png` });

  // Signing out ends the session: the sign-in form again, and the API refuses the old cookie.
  await student.click('#signout');
  await student.waitForSelector('#email');
  result.titles.signedOut = await student.evaluate(() => document.title);
  result.afterSignOut = await student.evaluate(async () => (await fetch('/api/auth/me')).status);
} catch (e) {
  result.error = String(e && e.stack || e);
} finally {
  await browser.close();
  stdin.close();
}
result.csp = cspViolations;
console.log(JSON.stringify(result));
