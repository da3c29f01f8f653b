// A React app in StrictMode on the documented hooks (chorus-react.js, shown in
// docs/browser.md): it shows the channel's publications and publishes one.
// Built by Vite in development mode, where StrictMode mounts every component
// twice, so the test sees that the first client and subscription are undone.
import { StrictMode, createElement as h, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Client } from '@chorus/client';
import { useChorus, useSubscription } from './chorus-react.js';

// Counts the clients the app creates, for the test.
window.clientsCreated = 0;
const original = Client.prototype.connect;
Client.prototype.connect = function connect() {
  window.clientsCreated += 1;
  return original.call(this);
};

function Chat({ url, token }) {
  const client = useChorus(url, token);
  const publications = useSubscription(client, 'chat:react');
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let live = true;
    client?.getSubscription('chat:react')?.ready.then(() => live && setReady(true), () => {});
    return () => {
      live = false;
    };
  }, [client]);
  // Publishing is an event handler's job: StrictMode runs effects twice.
  const send = () => client.publish('chat:react', { text: 'hello from React' });
  return h(
    'div',
    null,
    h('button', { id: 'send', disabled: !ready, onClick: send }, 'send'),
    h(
      'ul',
      { id: 'messages', 'data-count': publications.length },
      publications.map((p) => h('li', { key: p.offset }, p.data.text)),
    ),
  );
}

const query = new URLSearchParams(location.search);
createRoot(document.getElementById('root')).render(
  h(StrictMode, null, h(Chat, { url: query.get('ws'), token: query.get('token') })),
);
