// What every bundled app does: connect with the URL and token of the page's
// query, subscribe, publish, and show what came back (or the error).
export async function run(Client) {
  const out = document.getElementById('result');
  try {
    const query = new URLSearchParams(location.search);
    const client = new Client(query.get('ws'), { token: query.get('token') });
    await client.connect();
    const sub = client.subscribe('chat:bundled');
    const got = new Promise((resolve) => sub.on('publication', (p) => resolve(p.data)));
    await sub.ready;
    await client.publish('chat:bundled', { text: 'hello from a bundle' });
    out.dataset.result = JSON.stringify(await got);
    client.close();
  } catch (e) {
    out.dataset.error = String(e && e.message ? e.message : e);
  }
}
