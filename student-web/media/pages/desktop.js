// The teacher's studio window (Tauri): the same app, started in studio mode.
import init, { start_studio } from './pkg/student_web.js';
try {
  await init();
  start_studio();
} catch (e) {
  document.getElementById('app').innerHTML =
    '<p class="boot">The studio could not start its interface. Build it with <code>bash scripts/build-web.sh</code>.</p>';
  console.error(e);
}
