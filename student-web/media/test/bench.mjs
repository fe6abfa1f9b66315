// Page benchmark (run by bench-pipeline, see scripts/bench.sh): the replay page of a 2-hour session
// (20,000 events, 1,500 segments) — navigation to transcript and chapters visible, and to the first
// contentful paint; the live room of a class with 5,000 events before the join — navigation to the
// room rendered and live, beside the same room with no prior events as the baseline; and the app's wasm + JS as transferred (gzip). Five loads each, fresh
// context every time (cold cache). Env: BASE, TOKEN, REPLAY_SESSION, ROOM_SESSION.
import { env, launch } from './common.mjs';

const [base, token] = [env('BASE'), env('TOKEN')];
const browser = await launch();
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function load(hash, ready) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.addCookies([{ name: 'studio_token', value: token, url: base }]);
  const page = await ctx.newPage();
  const sizes = [];
  page.on('requestfinished', async (req) => {
    if (/\.(wasm|js)$/.test(new URL(req.url()).pathname)) sizes.push((await req.sizes()).responseBodySize);
  });
  await page.goto(`${base}/app/${hash}`);
  page.on('console', (m) => m.type() === 'error' && console.error(`[page] ${m.text()}`));
  try {
    await page.waitForFunction(ready, null, { timeout: 30000 });
  } catch (e) {
    const text = await page.evaluate(() => document.querySelector('main')?.innerText.slice(0, 400)).catch(() => '?');
    throw new Error(`${hash} never became ready; the page shows: ${text}`);
  }
  const t = await page.evaluate(() => ({
    ready: performance.now(),
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
  }));
  await ctx.close();
  return { ...t, bytes: sizes.reduce((a, b) => a + b, 0) };
}

const replay = [];
const room = [];
const live = [];
const empty = [];
for (let i = 0; i < 5; i++) {
  replay.push(await load(`#/sessions/${env('REPLAY_SESSION')}/replay`,
    () => document.querySelectorAll('#transcript li').length > 0 && document.querySelectorAll('#chapters li').length > 0));
  empty.push(await load(`#/sessions/${env('EMPTY_SESSION')}`, () => document.querySelector('.room .stage')));
  room.push(await load(`#/sessions/${env('ROOM_SESSION')}`, () => document.querySelector('.room .stage')));
  live.push(await load(`#/sessions/${env('ROOM_SESSION')}`,
    () => document.querySelector('#link')?.dataset.link === 'live' && document.querySelector('.room')));
}
await browser.close();
const fmt = (v) => v.map((x) => x.toFixed(0)).join('/');
const r = replay.map((x) => x.ready), f = replay.map((x) => x.fcp), m = room.map((x) => x.ready), l = live.map((x) => x.ready), e = empty.map((x) => x.ready);
console.log(`app replay page, 2-hour session: transcript + chapters visible p50 ${median(r).toFixed(0)} ms (rounds ${fmt(r)}), first paint p50 ${median(f).toFixed(0)} ms`);
console.log(`goal replay page visible <= 1000 ms   ${median(r) <= 1000 ? 'met' : 'NOT met'}`);
console.log(`app live room, 5,000 prior events: first render p50 ${median(m).toFixed(0)} ms (rounds ${fmt(m)}), live (socket caught up) p50 ${median(l).toFixed(0)} ms (rounds ${fmt(l)})`);
console.log(`app live room, baseline (no prior events): first render p50 ${median(e).toFixed(0)} ms (rounds ${fmt(e)})`);
console.log(`goal room first render <= 1000 ms   ${median(m) <= 1000 ? 'met' : 'NOT met'}`);
const kb = replay[0].bytes / 1024;
console.log(`app wasm + JS transferred: ${kb.toFixed(0)} KiB (gzip)`);
console.log(`goal app transfer <= 1 MB   ${kb <= 1024 ? 'met' : 'NOT met'}`);
