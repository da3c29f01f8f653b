import { useEffect, useState } from 'react';
import { Client } from '@chorus/client';

/**
 * A Chorus client for as long as the component is mounted (null until then).
 * The effect owns it: StrictMode's extra mount and unmount in development
 * create and close a first client, and the second one stays.
 */
export function useChorus(url, token) {
  const [client, setClient] = useState(null);
  useEffect(() => {
    const c = new Client(url, { token });
    setClient(c);
    // connect() rejects only on a terminal close; failed attempts are `error` events.
    c.connect().catch(() => {});
    return () => {
      c.close();
      setClient(null);
    };
  }, [url, token]);
  return client;
}

/** The publications of `channel` while the component is mounted, oldest first. */
export function useSubscription(client, channel) {
  const [publications, setPublications] = useState([]);
  useEffect(() => {
    if (!client) return undefined;
    const sub = client.subscribe(channel);
    const off = sub.on('publication', (p) => setPublications((list) => [...list, p]));
    return () => {
      off();
      sub.unsubscribe();
    };
  }, [client, channel]);
  return publications;
}
