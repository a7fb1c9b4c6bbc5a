// The chat presence page: users, each attached to a proxy node, each with a Connect/Disconnect
// toggle and a live view of every user's online status as their own node sees it. All presence
// streams are held by the gateway for this page's session; the page keeps one event stream
// (/api/events) and asks with small POSTs. If the event stream is lost, the browser opens it
// again (a new session) and the page asks for everything again.

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

const gatewayLine = document.getElementById('gateway');
const form = document.getElementById('add-user');
const input = document.getElementById('new-user');
const addButton = document.getElementById('add');
const cards = document.getElementById('users');

/** The session at the gateway (null while the event stream is down) and the number of nodes. */
let session = null;
let nodeCount = 2;
/** name → {name, node, wantConnected, card, toggle, link, view: Map(name → li)} */
const users = new Map();

function setGateway(state, text) {
  gatewayLine.dataset.state = state;
  gatewayLine.textContent = text;
}

async function post(path, body) {
  if (session === null) return;
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ session, ...body }),
  });
  if (!response.ok) setGateway('error', `${path}: ${response.status} ${await response.text()}`);
}

const connect = (user) => post('/api/connect', { user: user.name, node: user.node });
const disconnect = (user) => post('/api/disconnect', { user: user.name });
const monitor = (viewer, user) => post('/api/monitor', { viewer: viewer.name, user: user.name, node: viewer.node });

function setStatus(li, online, text) {
  li.dataset.online = online === undefined ? 'unknown' : String(online);
  li.querySelector('.status').textContent = text ?? (online ? 'online' : 'offline');
}

/** Adds `user`'s line to `viewer`'s view. */
function addLine(viewer, user) {
  const li = document.createElement('li');
  li.dataset.user = user.name;
  const name = document.createElement('span');
  name.textContent = user.name;
  const status = document.createElement('span');
  status.className = 'status';
  li.append(name, status);
  setStatus(li, undefined, '…');
  viewer.view.set(user.name, li);
  viewer.list.append(li);
}

function renderToggle(user) {
  user.toggle.textContent = user.wantConnected ? 'Disconnect' : 'Connect';
  user.card.dataset.connected = String(user.wantConnected);
}

function addUser(name) {
  const node = (users.size % nodeCount) + 1;
  const card = document.createElement('section');
  card.className = 'user';
  card.dataset.user = name;
  card.dataset.node = String(node);
  const title = document.createElement('h2');
  const badge = document.createElement('span');
  badge.className = 'node';
  badge.textContent = `node ${node}`;
  title.append(name, badge);
  const toggle = document.createElement('button');
  toggle.className = 'toggle';
  const link = document.createElement('div');
  link.className = 'link';
  link.textContent = 'disconnected';
  const list = document.createElement('ul');
  list.className = 'view';
  card.append(title, toggle, link, list);
  cards.append(card);

  const user = { name, node, wantConnected: false, card, toggle, link, list, view: new Map() };
  users.set(name, user);
  renderToggle(user);
  toggle.addEventListener('click', () => {
    user.wantConnected = !user.wantConnected;
    renderToggle(user);
    void (user.wantConnected ? connect(user) : disconnect(user));
  });

  for (const other of users.values()) {
    addLine(user, other);
    void monitor(user, other);
    if (other !== user) {
      addLine(other, user);
      void monitor(other, user);
    }
  }
}

/** After a (re)opened event stream: ask for every stream again. */
function resync() {
  for (const viewer of users.values()) {
    for (const user of users.values()) void monitor(viewer, user);
    if (viewer.wantConnected) void connect(viewer);
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = input.value.trim();
  if (!USER_NAME.test(name)) return setGateway('error', `"${name}" is not a user name: letters, digits, _ . - (at most 32)`);
  if (users.has(name)) return setGateway('error', `${name} is already here`);
  addUser(name);
  input.value = '';
});

const events = new EventSource('/api/events');
events.addEventListener('hello', (event) => {
  const hello = JSON.parse(event.data);
  session = hello.session;
  nodeCount = hello.nodes;
  setGateway('ready', `gateway ready: ${nodeCount} proxy nodes`);
  addButton.disabled = false;
  resync();
});
events.addEventListener('error', () => {
  session = null;
  addButton.disabled = true;
  setGateway('lost', 'gateway lost, reconnecting…');
  for (const viewer of users.values()) for (const li of viewer.view.values()) setStatus(li, undefined, '…');
});
events.addEventListener('status', (event) => {
  const { viewer, user, online } = JSON.parse(event.data);
  const li = users.get(viewer)?.view.get(user);
  if (li) setStatus(li, online);
});
events.addEventListener('monitor', (event) => {
  const { viewer, user, state, detail } = JSON.parse(event.data);
  const li = users.get(viewer)?.view.get(user);
  if (li && state === 'retrying') setStatus(li, undefined, `unknown: ${detail}`);
});
events.addEventListener('connect', (event) => {
  const { user: name, node, state, detail } = JSON.parse(event.data);
  const user = users.get(name);
  if (!user) return;
  user.link.dataset.state = state;
  user.link.textContent =
    state === 'opening' ? `connecting through node ${node}…`
    : state === 'open' ? `connected through node ${node}`
    : state === 'retrying' ? `connection lost (${detail}); retrying…`
    : 'disconnected';
});
