/* The sample's chat page: @stomp/stompjs in the browser, over WebSocket or SockJS (sockjs-client). */
(function () {
  const $ = (id) => document.getElementById(id);
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  // The same endpoint over SockJS: http(s)://host/ws, which falls back to HTTP streaming or polling.
  const sockJsUrl = location.protocol + '//' + location.host + '/ws';
  let client = null;
  let roomSubscription = null;

  function setConnected(connected) {
    $('connect').disabled = connected;
    $('transport').disabled = connected;
    $('disconnect').disabled = !connected;
    $('join').disabled = !connected;
    $('status').textContent = connected ? 'connected' : 'disconnected';
    if (!connected) { $('text').disabled = true; $('send').disabled = true; showOnline([]); }
  }

  // Who is online: a sorted array of user names (anonymous users are not listed).
  function showOnline(names) {
    $('online').replaceChildren(...names.map((name) => {
      const li = document.createElement('li');
      li.textContent = name;
      return li;
    }));
  }

  function show(message) {
    const li = document.createElement('li');
    const from = document.createElement('span');
    from.className = 'from';
    from.textContent = message.from;
    const text = document.createElement('span');
    text.className = 'text';
    // The server escaped HTML; decode entities for display without interpreting markup.
    const decoder = document.createElement('textarea');
    decoder.innerHTML = message.text;
    text.textContent = decoder.value;
    li.append(from, text);
    $('messages').append(li);
  }

  $('connect').onclick = () => {
    const login = $('login').value.trim();
    const headers = login ? { login, passcode: $('passcode').value } : {};
    const transport = $('transport').value;
    client = new StompJs.Client(
      transport === 'sockjs'
        ? { webSocketFactory: () => new SockJS(sockJsUrl), connectHeaders: headers, reconnectDelay: 0 }
        : { brokerURL: url, connectHeaders: headers, reconnectDelay: 0 },
    );
    client.onConnect = () => {
      setConnected(true);
      $('status').dataset.transport = transport;
      $('errors').textContent = '';
      client.subscribe('/user/queue/errors', (m) => {
        const error = JSON.parse(m.body);
        $('errors').textContent = [].concat(error.message).join('; ');
      });
      // Changes as they happen, then the list as it is now (the @SubscribeMapping answers once);
      // frames arrive in order, so the last list shown is the current one.
      client.subscribe('/topic/presence', (m) => showOnline(JSON.parse(m.body)));
      const now = client.subscribe('/app/presence', (m) => {
        showOnline(JSON.parse(m.body));
        now.unsubscribe();
      });
    };
    client.onStompError = (frame) => { $('errors').textContent = frame.headers.message; };
    client.onWebSocketClose = () => setConnected(false);
    client.activate();
  };

  $('disconnect').onclick = () => { client && client.deactivate(); };

  $('join').onclick = () => {
    const room = $('room').value.trim() || 'lobby';
    if (roomSubscription) roomSubscription.unsubscribe();
    $('messages').innerHTML = '';
    // One-shot history straight from the @SubscribeMapping handler, then the live topic.
    const history = client.subscribe('/app/chat/' + room + '/history', (m) => {
      JSON.parse(m.body).forEach(show);
      history.unsubscribe();
    });
    roomSubscription = client.subscribe('/topic/chat/' + room, (m) => show(JSON.parse(m.body)));
    $('current-room').textContent = 'in ' + room;
    $('current-room').dataset.room = room;
    $('text').disabled = false;
    $('send').disabled = false;
  };

  $('send-form').onsubmit = (event) => {
    event.preventDefault();
    const room = $('current-room').dataset.room;
    const text = $('text').value;
    if (!room || !text) return;
    client.publish({
      destination: '/app/chat/' + room,
      body: JSON.stringify({ text }),
      headers: { 'content-type': 'application/json' },
    });
    $('text').value = '';
  };
})();
