// Start the app (a file, not an inline script: the server's Content-Security-Policy allows only
// scripts from this origin).
import init, { start_app } from './pkg/student_web.js';
await init();
start_app();
