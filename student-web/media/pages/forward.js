// Old media links (?session=…) open the same class in the app: watch.html the live room,
// broadcast.html the present view.
const id = new URLSearchParams(location.search).get('session');
const present = location.pathname.endsWith('/broadcast.html') ? '/present' : '';
location.replace('/app/' + (id ? '#/sessions/' + encodeURIComponent(id) + present : ''));
