// The room display: pairing, free/busy now, current and next booking, the day's schedule in the
// site's time zone, live updates over graphql-transport-ws, booking at the door with a
// person's booking code, and for the booking at hand "Check in", "Extend" and "End now" (each
// confirmed with the holder's code) and, when the room is busy, "Find a room" (the rooms of the
// site free now for 30 minutes).
//
// Rules kept throughout: the device token goes only to this page's own origin (relative URLs,
// redirects refused); every text that comes from the API is written with textContent; the
// booking code lives only in the keypad's variable, is cleared after each attempt and is never
// stored nor put in a URL.

import { LiveConnection } from "./display?asset=graphql-ws-client.js";

const TOKEN_KEY = "concierge.display.token";
const ROOM_KEY = "concierge.display.room";
const GRAPHQL_URL = new URL("graphql", window.location.href);
const SOCKET_URL = (() => {
  const url = new URL("graphql", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url;
})();
const DURATIONS = [15, 30, 60];
const REQUEST_TIMEOUT_MS = 15000;
const TICK_MS = 30000;
const FULL_RELOAD_MS = 5 * 60000;
const KEYPAD_IDLE_MS = 60000;
const MAX_CODE_LENGTH = 32;
/// Check-in opens this long before a booking's start (the server's rule too).
const CHECK_IN_OPENS_MS = 10 * 60000;
/// "Find a room" looks for rooms free from now for this long.
const FIND_MINUTES = 30;

// ---------------------------------------------------------------------------------------------
// Words, in the seeds' vocabulary.

const TEXTS = {
  en: {
    pairTitle: "Pair this tablet",
    pairHelp:
      "Enter the device token shown when the tablet was registered for this room (registerDevice). It is kept on this tablet only.",
    pairLabel: "Device token",
    pairButton: "Pair",
    pairing: "Checking the token…",
    pairRefused: "This token is not valid: it may have been revoked. Ask your administrator for a new one.",
    pairEmpty: "Enter the device token.",
    pairNoRoom: "This token gives access to no room.",
    pairNetwork: "The server cannot be reached. Check the network and try again.",
    chooseRoom: "This tablet serves a whole site: choose its room.",
    revoked: "This tablet's token is no longer valid (revoked). Pair it again.",
    roomGone: "This room no longer exists for this tablet. Pair it again.",
    unpair: "Unpair",
    unpairConfirm: "Tap again to unpair",
    free: "Free",
    busy: "Busy",
    unknown: "…",
    freeUntil: "until {time}",
    freeAllDay: "for the rest of the day",
    busyUntil: "until {time}",
    current: "Now",
    next: "Next",
    noTitle: "Booked",
    bookNow: "Book now",
    minutes: "{n} min",
    hour: "1 h",
    untilShort: "until {time}",
    hintOffline: "Booking is paused while the tablet is offline.",
    hintBusy: "The room is in use.",
    hintNotBookable: "This room cannot be booked here.",
    hintNextSoon: "Next booking at {time}.",
    hintPolicy: "The room's rules do not allow these durations now.",
    offline: "Offline — reconnecting…",
    dayTitle: "Today · {date}",
    noBookings: "No bookings today.",
    enterCode: "Enter your booking code",
    keypadTitle: "Book {duration}",
    cancel: "Cancel",
    confirm: "Book",
    clear: "Clear",
    erase: "Erase",
    sending: "Booking…",
    booked: "Booked for {name} until {time}.",
    wrongCode: "Wrong booking code. Check it and try again.",
    slotTaken: "This slot has just been taken.",
    tooMany: "Too many attempts — wait {n} minutes.",
    tooManyOne: "Too many attempts — wait 1 minute.",
    policy: "The room's rules do not allow this booking.",
    notAllowed: "This person may not book this room.",
    network: "No connection. Try again in a moment.",
    failed: "The booking failed. Try again.",
    checkIn: "Check in",
    extend: "Extend",
    endNow: "End now",
    findRoom: "Find a room",
    awaitingCheckIn: "Check in before {time} or the room is released.",
    checkInTitle: "Check in",
    extendTitle: "Extend until {time}",
    endTitle: "End now — free from {time}",
    confirmDoor: "Confirm",
    doorSending: "Sending…",
    checkedIn: "Checked in. Welcome, {name}.",
    extended: "Extended until {time}.",
    ended: "Ended. The room is free from {time}.",
    notHolder: "This is not the code of the person who booked.",
    nextTaken: "The next slot is already booked.",
    doorRefused: "Not possible any more.",
    findTitle: "Free now for 30 minutes",
    findNone: "No other room of this site is free for 30 minutes.",
    findFailed: "The search failed. Try again.",
    searching: "Searching…",
    seats: "{n} seats",
    close: "Close",
  },
  fr: {
    pairTitle: "Associer cette tablette",
    pairHelp:
      "Saisissez le jeton de l'appareil affiché lors de l'enregistrement de la tablette pour cette salle (registerDevice). Il reste sur cette tablette uniquement.",
    pairLabel: "Jeton de l'appareil",
    pairButton: "Associer",
    pairing: "Vérification du jeton…",
    pairRefused: "Ce jeton n'est pas valide : il a peut-être été révoqué. Demandez-en un nouveau à votre administrateur.",
    pairEmpty: "Saisissez le jeton de l'appareil.",
    pairNoRoom: "Ce jeton ne donne accès à aucune salle.",
    pairNetwork: "Le serveur est injoignable. Vérifiez le réseau et réessayez.",
    chooseRoom: "Cette tablette sert tout un site : choisissez sa salle.",
    revoked: "Le jeton de cette tablette n'est plus valide (révoqué). Associez-la de nouveau.",
    roomGone: "Cette salle n'existe plus pour cette tablette. Associez-la de nouveau.",
    unpair: "Dissocier",
    unpairConfirm: "Touchez encore pour dissocier",
    free: "Libre",
    busy: "Occupée",
    unknown: "…",
    freeUntil: "jusqu'à {time}",
    freeAllDay: "pour le reste de la journée",
    busyUntil: "jusqu'à {time}",
    current: "En cours",
    next: "Ensuite",
    noTitle: "Réservée",
    bookNow: "Réserver maintenant",
    minutes: "{n} min",
    hour: "1 h",
    untilShort: "jusqu'à {time}",
    hintOffline: "Réservation impossible tant que la tablette est hors ligne.",
    hintBusy: "La salle est occupée.",
    hintNotBookable: "Cette salle ne peut pas être réservée ici.",
    hintNextSoon: "Prochaine réservation à {time}.",
    hintPolicy: "Les règles de la salle ne permettent pas ces durées maintenant.",
    offline: "Hors ligne — reconnexion…",
    dayTitle: "Aujourd'hui · {date}",
    noBookings: "Aucune réservation aujourd'hui.",
    enterCode: "Saisissez votre code de réservation",
    keypadTitle: "Réserver {duration}",
    cancel: "Annuler",
    confirm: "Réserver",
    clear: "Effacer",
    erase: "Corriger",
    sending: "Réservation…",
    booked: "Réservé pour {name} jusqu'à {time}.",
    wrongCode: "Code de réservation incorrect. Vérifiez-le et réessayez.",
    slotTaken: "Ce créneau vient d'être réservé.",
    tooMany: "Trop d'essais — patientez {n} minutes.",
    tooManyOne: "Trop d'essais — patientez 1 minute.",
    policy: "Les règles de la salle ne permettent pas cette réservation.",
    notAllowed: "Cette personne ne peut pas réserver cette salle.",
    network: "Pas de connexion. Réessayez dans un instant.",
    failed: "La réservation a échoué. Réessayez.",
    checkIn: "Je suis là",
    extend: "Prolonger",
    endNow: "Terminer",
    findRoom: "Trouver une salle",
    awaitingCheckIn: "Confirmez votre présence avant {time}, sinon la salle sera libérée.",
    checkInTitle: "Confirmer ma présence",
    extendTitle: "Prolonger jusqu'à {time}",
    endTitle: "Terminer — libre dès {time}",
    confirmDoor: "Valider",
    doorSending: "Envoi…",
    checkedIn: "Présence confirmée. Bienvenue, {name}.",
    extended: "Prolongée jusqu'à {time}.",
    ended: "Terminée. La salle est libre dès {time}.",
    notHolder: "Ce n'est pas le code de la personne qui a réservé.",
    nextTaken: "Le créneau suivant est déjà réservé.",
    doorRefused: "Ce n'est plus possible.",
    findTitle: "Libres maintenant pour 30 minutes",
    findNone: "Aucune autre salle du site n'est libre pour 30 minutes.",
    findFailed: "La recherche a échoué. Réessayez.",
    searching: "Recherche…",
    seats: "{n} places",
    close: "Fermer",
  },
};

const LANG = (navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en";
const LOCALE = LANG === "fr" ? "fr-FR" : navigator.language || "en";

function t(key, values) {
  let text = TEXTS[LANG][key] ?? TEXTS.en[key] ?? key;
  for (const [name, value] of Object.entries(values || {})) {
    text = text.split(`{${name}}`).join(String(value));
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Small DOM helpers: text only, never markup.

const $ = (id) => document.getElementById(id);

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showScreen(name) {
  document.body.dataset.screen = name;
  $("pairing").hidden = name !== "pairing";
  $("display").hidden = name !== "display";
  if (name !== "display") {
    closeKeypad();
    closeFind();
  }
}

// ---------------------------------------------------------------------------------------------
// Time, in the site's time zone.

const formatters = new Map();

function formatter(timeZone, options) {
  const key = `${timeZone}|${JSON.stringify(options)}`;
  let format = formatters.get(key);
  if (!format) {
    try {
      format = new Intl.DateTimeFormat(LOCALE, { timeZone, ...options });
    } catch (error) {
      format = new Intl.DateTimeFormat(LOCALE, options);
    }
    formatters.set(key, format);
  }
  return format;
}

function formatTime(date, timeZone) {
  return formatter(timeZone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(date);
}

function formatDay(date, timeZone) {
  return formatter(timeZone, { weekday: "long", day: "numeric", month: "long" }).format(date);
}

/// The wall-clock fields of `date` in `timeZone`.
function zoned(date, timeZone) {
  const parts = formatter(timeZone, {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    numberingSystem: "latn",
  }).formatToParts(date);
  const field = (type) => Number(parts.find((part) => part.type === type)?.value ?? 0);
  return {
    year: field("year"),
    month: field("month"),
    day: field("day"),
    hour: field("hour") % 24,
    minute: field("minute"),
    second: field("second"),
  };
}

/// The local calendar day of `date` in `timeZone`, as `YYYY-MM-DD`.
function localDate(date, timeZone) {
  const p = zoned(date, timeZone);
  const pad = (n, width) => String(n).padStart(width, "0");
  return `${pad(p.year, 4)}-${pad(p.month, 2)}-${pad(p.day, 2)}`;
}

/// The start of the slot in progress: a whole number of slots after local midnight, as the
/// server checks it.
function slotStart(now, timeZone, slotMinutes) {
  const p = zoned(now, timeZone);
  const intoSlot = ((p.hour * 60 + p.minute) % slotMinutes) * 60000 + p.second * 1000;
  return new Date(now.getTime() - intoSlot - now.getMilliseconds());
}

// ---------------------------------------------------------------------------------------------
// GraphQL over HTTP, to this origin only.

async function graphql(token, query, variables) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(GRAPHQL_URL, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        Authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
      cache: "no-store",
      credentials: "same-origin",
      redirect: "error",
      referrerPolicy: "no-referrer",
      signal: controller.signal,
    });
    let body;
    try {
      body = await response.json();
    } catch (error) {
      return failure(response.status >= 500 ? "NETWORK" : "INTERNAL");
    }
    return {
      data: body && body.data ? body.data : null,
      errors: body && Array.isArray(body.errors) ? body.errors : [],
    };
  } catch (error) {
    return failure("NETWORK");
  } finally {
    clearTimeout(timer);
  }
}

function failure(code) {
  return { data: null, errors: [{ message: code, extensions: { code } }] };
}

function errorCode(errors) {
  const first = (errors || []).find((e) => e && e.extensions && e.extensions.code);
  return first ? first.extensions.code : errors && errors.length ? "INTERNAL" : null;
}

const SLOT_FIELDS = "id title start end status checkedInAt releaseAt user { displayName }";
const ROOMS_QUERY = `query DisplayRooms { sites(first: 50) { edges { node { id name rooms { id name } } } } }`;
const LOAD_QUERY = `query DisplayRoom($room: ID!, $date: Date!, $from: DateTime!) {
  room(id: $room) {
    id name bookable
    site { id name timeZone }
    policy { slotMinutes minMinutes maxMinutes checkInRequired }
    schedule(date: $date) { ${SLOT_FIELDS} }
  }
  bookings(filter: {roomId: $room, from: $from, status: CONFIRMED}, first: 5) {
    edges { node { ${SLOT_FIELDS} } }
  }
}`;
const EVENTS_SUBSCRIPTION = `subscription DisplayEvents($room: ID!) {
  bookingEvents(roomId: $room) { kind booking { ${SLOT_FIELDS} } }
}`;
const BOOK_MUTATION = `mutation DisplayBook($input: CreateBookingWithCodeInput!) {
  createBookingWithCode(input: $input) { booking { ${SLOT_FIELDS} } }
}`;
/// The door actions on the booking at hand, each with the holder's code: the mutation and the
/// field of its answer.
const DOOR_MUTATIONS = {
  checkIn: ["checkInWithCode", `mutation DisplayCheckIn($input: BookingAtTheDoorInput!) {
  checkInWithCode(input: $input) { booking { ${SLOT_FIELDS} } }
}`],
  extend: ["extendBookingWithCode", `mutation DisplayExtend($input: BookingAtTheDoorInput!) {
  extendBookingWithCode(input: $input) { booking { ${SLOT_FIELDS} } }
}`],
  end: ["endBookingWithCode", `mutation DisplayEnd($input: BookingAtTheDoorInput!) {
  endBookingWithCode(input: $input) { booking { ${SLOT_FIELDS} } }
}`],
};
const FIND_QUERY = `query DisplayFind($site: ID!, $start: DateTime!, $end: DateTime!) {
  availableRooms(siteId: $site, start: $start, end: $end) { id name capacity }
}`;

// ---------------------------------------------------------------------------------------------
// State.

const state = {
  token: null,
  roomId: null,
  room: null,
  /// Confirmed bookings known to the page, by id.
  bookings: new Map(),
  day: null,
  connection: "connecting",
  live: null,
  unsubscribe: null,
  loadSerial: 0,
  /// The last events heard, numbered, so that a load answered after them does not undo them.
  events: [],
  eventSerial: 0,
  reloadTimer: null,
  tickTimer: null,
  boundaryTimer: null,
  fullReloadTimer: null,
};

function readStorage(key) {
  try {
    return window.localStorage.getItem(key);
  } catch (error) {
    return null;
  }
}

function writeStorage(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch (error) {
    // Private mode or full storage: the pairing lasts as long as the page.
  }
}

function toBooking(raw) {
  if (!raw || typeof raw.id !== "string") return null;
  const start = new Date(raw.start);
  const end = new Date(raw.end);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) return null;
  return {
    id: raw.id,
    title: typeof raw.title === "string" ? raw.title : "",
    holder: raw.user && typeof raw.user.displayName === "string" ? raw.user.displayName : "",
    start,
    end,
    confirmed: raw.status === undefined || raw.status === "CONFIRMED",
    checkedInAt: raw.checkedInAt ? new Date(raw.checkedInAt) : null,
    releaseAt: raw.releaseAt ? new Date(raw.releaseAt) : null,
  };
}

function applyBooking(raw, removed) {
  const booking = toBooking(raw);
  if (!booking) return;
  if (removed || !booking.confirmed) state.bookings.delete(booking.id);
  else state.bookings.set(booking.id, booking);
}

function sortedBookings() {
  return [...state.bookings.values()].sort((a, b) => a.start - b.start || a.end - b.end);
}

// ---------------------------------------------------------------------------------------------
// Pairing.

function showPairing(message) {
  stopLive();
  showScreen("pairing");
  $("pair-form").hidden = false;
  $("room-choice").hidden = true;
  $("pair-button").disabled = false;
  setText($("pair-message"), message || "");
  $("token-input").value = "";
  $("token-input").focus();
}

async function pair(token) {
  $("pair-button").disabled = true;
  setText($("pair-message"), t("pairing"));
  const answer = await graphql(token, ROOMS_QUERY, {});
  $("pair-button").disabled = false;
  const code = errorCode(answer.errors);
  if (code === "UNAUTHENTICATED") {
    setText($("pair-message"), t("pairRefused"));
    return;
  }
  if (code === "NETWORK" || !answer.data) {
    setText($("pair-message"), code === "NETWORK" ? t("pairNetwork") : t("pairRefused"));
    return;
  }
  const rooms = [];
  for (const edge of answer.data.sites?.edges || []) {
    for (const room of edge.node?.rooms || []) {
      rooms.push({ id: room.id, name: room.name, site: edge.node.name });
    }
  }
  if (rooms.length === 0) {
    setText($("pair-message"), t("pairNoRoom"));
    return;
  }
  if (rooms.length === 1) {
    finishPairing(token, rooms[0].id);
    return;
  }
  // A tablet registered for a whole site: which room is it at?
  setText($("pair-message"), "");
  $("pair-form").hidden = true;
  $("room-choice").hidden = false;
  const list = $("room-choice-list");
  list.replaceChildren();
  for (const room of rooms) {
    const button = make("button", "room-option", room.name);
    button.type = "button";
    button.dataset.roomId = room.id;
    button.addEventListener("click", () => finishPairing(token, room.id));
    list.append(button);
  }
}

function finishPairing(token, roomId) {
  writeStorage(TOKEN_KEY, token);
  writeStorage(ROOM_KEY, roomId);
  $("token-input").value = "";
  startDisplay(token, roomId);
}

function unpair(message) {
  writeStorage(TOKEN_KEY, null);
  writeStorage(ROOM_KEY, null);
  state.token = null;
  state.roomId = null;
  state.room = null;
  state.bookings.clear();
  showPairing(message);
}

// ---------------------------------------------------------------------------------------------
// The display.

function startDisplay(token, roomId) {
  stopLive();
  state.token = token;
  state.roomId = roomId;
  state.room = null;
  state.bookings.clear();
  state.events = [];
  showScreen("display");
  render();
  const live = new LiveConnection({
    url: SOCKET_URL.href,
    connectionParams: () => ({ authorization: `Bearer ${token}` }),
    onState: (connection) => {
      state.connection = connection;
      render();
    },
    // Whatever happened while the socket was down, read it again now that it listens.
    onConnected: () => load(),
    onClosed: ({ acknowledged, code }) => {
      // Refused at connection_init (a revoked token closes it with 1002/4403): ask over HTTP
      // why; UNAUTHENTICATED there sends the tablet back to pairing.
      if (!acknowledged && code !== 1006) load();
    },
  });
  state.live = live;
  subscribeToEvents();
  live.start();
  load();
  state.tickTimer = setInterval(tick, TICK_MS);
  state.fullReloadTimer = setInterval(() => {
    if (state.connection === "online") load();
  }, FULL_RELOAD_MS);
}

function subscribeToEvents() {
  const live = state.live;
  if (!live) return;
  state.unsubscribe = live.subscribe(
    { query: EVENTS_SUBSCRIPTION, variables: { room: state.roomId } },
    {
      next: (payload) => {
        if (payload.errors && payload.errors.length) {
          handleErrors(payload.errors);
          return;
        }
        const event = payload.data && payload.data.bookingEvents;
        if (!event) return;
        state.events.push({ serial: ++state.eventSerial, event });
        if (state.events.length > 200) state.events.splice(0, state.events.length - 200);
        applyBooking(event.booking, event.kind === "CANCELLED");
        render();
        scheduleReload();
      },
      error: (errors) => {
        if (!handleErrors(errors) && state.live === live) {
          subscribeToEvents();
          live.restart();
        }
      },
      // The server ended the feed (e.g. this tablet fell too far behind): listen again and
      // re-read on the new connection.
      complete: () => {
        if (state.live === live) {
          subscribeToEvents();
          live.restart();
        }
      },
    },
  );
}

function stopLive() {
  if (state.live) state.live.stop();
  state.live = null;
  state.unsubscribe = null;
  clearInterval(state.tickTimer);
  clearInterval(state.fullReloadTimer);
  clearTimeout(state.reloadTimer);
  clearTimeout(state.boundaryTimer);
  state.connection = "connecting";
}

/// Returns true when the errors ended the pairing (the caller stops there). Only an explicit
/// revocation does (UNAUTHENTICATED: the token is revoked, or its registrant deactivated); any
/// other error — INTERNAL "storage unavailable" during an outage, FORBIDDEN, a lag — keeps the
/// pairing, and the page listens again and re-reads (the token was shown only once).
function handleErrors(errors) {
  const code = errorCode(errors);
  if (code === "UNAUTHENTICATED") {
    unpair(t("revoked"));
    return true;
  }
  return false;
}

function scheduleReload() {
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(load, 400);
}

async function load() {
  const token = state.token;
  const roomId = state.roomId;
  if (!token || !roomId) return;
  const serial = ++state.loadSerial;
  const eventsBefore = state.eventSerial;
  const now = new Date();
  const zone = state.room ? state.room.site.timeZone : undefined;
  let date = localDate(now, zone);
  let answer = await graphql(token, LOAD_QUERY, { room: roomId, date, from: now.toISOString() });
  if (serial !== state.loadSerial || state.token !== token) return;
  if (handleErrors(answer.errors)) return;
  if (errorCode(answer.errors) === "NOT_FOUND") {
    unpair(t("roomGone"));
    return;
  }
  if (!answer.data || !answer.data.room) return;
  // The first load learns the site's time zone: its day may not be the tablet's.
  const siteDate = localDate(now, answer.data.room.site.timeZone);
  if (siteDate !== date) {
    date = siteDate;
    state.room = answer.data.room;
    answer = await graphql(token, LOAD_QUERY, { room: roomId, date, from: now.toISOString() });
    if (serial !== state.loadSerial || state.token !== token) return;
    if (handleErrors(answer.errors)) return;
    if (!answer.data || !answer.data.room) return;
  }
  state.room = answer.data.room;
  state.day = date;
  state.bookings.clear();
  for (const raw of answer.data.room.schedule || []) applyBooking(raw, false);
  for (const edge of answer.data.bookings?.edges || []) applyBooking(edge.node, false);
  // Events heard while this answer was on its way may be newer than it.
  for (const { serial, event } of state.events) {
    if (serial > eventsBefore) applyBooking(event.booking, event.kind === "CANCELLED");
  }
  render();
}

function tick() {
  if (!state.room) return;
  if (localDate(new Date(), state.room.site.timeZone) !== state.day) load();
  render();
}

/// What the room looks like at `now`: the booking in progress (and the end of the run of
/// back-to-back bookings it starts), the next one.
function situation(now) {
  const bookings = sortedBookings();
  const current = bookings.find((b) => b.start <= now && now < b.end) || null;
  let busyUntil = null;
  if (current) {
    busyUntil = current.end;
    for (const b of bookings) {
      if (b.start <= busyUntil && b.end > busyUntil) busyUntil = b.end;
    }
  }
  const next = bookings.find((b) => b.start > now && b !== current) || null;
  return { bookings, current, busyUntil, next };
}

/// Whether "book now" for `minutes` is allowed, and the slot it would take.
function bookable(minutes, now, bookings) {
  const room = state.room;
  if (!room || !room.bookable) return null;
  const policy = room.policy;
  if (!policy || policy.slotMinutes <= 0) return null;
  if (minutes % policy.slotMinutes !== 0) return null;
  if (minutes < policy.minMinutes || minutes > policy.maxMinutes) return null;
  const start = slotStart(now, room.site.timeZone, policy.slotMinutes);
  const end = new Date(start.getTime() + minutes * 60000);
  if (bookings.some((b) => b.start < end && start < b.end)) return null;
  return { start, end };
}

function render() {
  document.body.dataset.connection = state.connection;
  $("offline").hidden = state.connection !== "offline";
  if (document.body.dataset.screen !== "display") return;
  const room = state.room;
  const now = new Date();
  if (!room) {
    $("status").dataset.state = "unknown";
    setText($("state-word"), t("unknown"));
    setText($("state-until"), "");
    for (const minutes of DURATIONS) $(`book-${minutes}`).disabled = true;
    return;
  }
  const zone = room.site.timeZone;
  const { bookings, current, busyUntil, next } = situation(now);

  setText($("room-name"), room.name);
  if (document.title !== `${room.name} · Concierge`) document.title = `${room.name} · Concierge`;
  setText($("site-name"), room.site.name);
  setText($("clock"), formatTime(now, zone));
  const busy = Boolean(current);
  $("status").dataset.state = busy ? "busy" : "free";
  setText($("state-word"), busy ? t("busy") : t("free"));
  const today = localDate(now, zone);
  if (busy) {
    setText($("state-until"), t("busyUntil", { time: formatTime(busyUntil, zone) }));
  } else if (next && localDate(next.start, zone) === today) {
    setText($("state-until"), t("freeUntil", { time: formatTime(next.start, zone) }));
  } else {
    setText($("state-until"), t("freeAllDay"));
  }
  fillCard($("current"), current, zone);
  fillCard($("next"), next, zone);
  renderBooking(now, bookings, busy, next, zone);
  renderDoor(now, bookings, current, zone);
  renderSchedule(now, bookings, zone, today);
  planBoundary(now, current, next);
}

function fillCard(card, booking, zone) {
  card.hidden = !booking;
  if (!booking) return;
  setText(card.querySelector(".card-title"), booking.title || booking.holder || t("noTitle"));
  const time = `${formatTime(booking.start, zone)} – ${formatTime(booking.end, zone)}`;
  setText(card.querySelector(".card-detail"), booking.title && booking.holder ? `${time} · ${booking.holder}` : time);
  card.dataset.bookingId = booking.id;
}

function renderBooking(now, bookings, busy, next, zone) {
  const online = state.connection === "online";
  let anyAllowed = false;
  for (const minutes of DURATIONS) {
    const button = $(`book-${minutes}`);
    const slot = online && !busy ? bookable(minutes, now, bookings) : null;
    button.disabled = !slot;
    anyAllowed = anyAllowed || Boolean(slot);
    setText(button.querySelector(".book-duration"), minutes === 60 ? t("hour") : t("minutes", { n: minutes }));
    setText(button.querySelector(".book-end"), slot ? t("untilShort", { time: formatTime(slot.end, zone) }) : "");
  }
  let hint = "";
  if (!online) hint = t("hintOffline");
  else if (!state.room.bookable) hint = t("hintNotBookable");
  else if (busy) hint = t("hintBusy");
  else if (!anyAllowed && next) hint = t("hintNextSoon", { time: formatTime(next.start, zone) });
  else if (!anyAllowed) hint = t("hintPolicy");
  setText($("book-hint"), hint);
}

function renderSchedule(now, bookings, zone, today) {
  setText($("day-title"), t("dayTitle", { date: formatDay(now, zone) }));
  const list = $("schedule");
  const items = bookings.filter((b) => {
    const last = new Date(b.end.getTime() - 1);
    return localDate(b.start, zone) <= today && today <= localDate(last, zone);
  });
  list.replaceChildren(
    ...items.map((b) => {
      const item = make("li", "slot");
      item.dataset.bookingId = b.id;
      if (b.end <= now) item.classList.add("past");
      else if (b.start <= now) item.classList.add("current");
      item.append(
        make("span", "slot-time", `${formatTime(b.start, zone)} – ${formatTime(b.end, zone)}`),
        make("span", "slot-title", b.title || b.holder || t("noTitle")),
        make("span", "slot-holder", b.title ? b.holder : ""),
      );
      return item;
    }),
  );
  $("schedule-empty").hidden = items.length > 0;
  const focus = list.querySelector(".current") || list.querySelector(".slot:not(.past)");
  if (focus) focus.scrollIntoView({ block: "nearest" });
}

/// What the holder may do at the door now: check in to the booking awaiting it (from 10 minutes
/// before its start until its deadline), extend the booking under way by a slot (checked in or
/// needing no check-in, the next slot free, within the longest booking), end it.
function doorActions(now, bookings, current) {
  const room = state.room;
  const policy = room && room.policy;
  const awaiting =
    bookings.find(
      (b) =>
        b.releaseAt && !b.checkedInAt && b.start - CHECK_IN_OPENS_MS <= now && now < b.releaseAt && now < b.end,
    ) || null;
  let extendTo = null;
  if (current && policy && policy.slotMinutes > 0 && (!current.releaseAt || current.checkedInAt)) {
    const end = new Date(current.end.getTime() + policy.slotMinutes * 60000);
    const free = !bookings.some((b) => b !== current && b.start < end && current.end < b.end);
    if (free && end - current.start <= policy.maxMinutes * 60000) extendTo = end;
  }
  return { awaiting, extendTo, current };
}

function renderDoor(now, bookings, current, zone) {
  const online = state.connection === "online";
  const { awaiting, extendTo } = doorActions(now, bookings, current);
  $("door-check-in").hidden = !awaiting;
  $("door-extend").hidden = !extendTo;
  $("door-end").hidden = !current;
  $("door-find").hidden = !current;
  for (const id of ["door-check-in", "door-extend", "door-end", "door-find"]) $(id).disabled = !online;
  setText($("door-note"), awaiting ? t("awaitingCheckIn", { time: formatTime(awaiting.releaseAt, zone) }) : "");
  $("door").hidden = !awaiting && !current;
}

/// Re-renders right when the booking in progress ends or the next one starts.
function planBoundary(now, current, next) {
  clearTimeout(state.boundaryTimer);
  const moments = [current && current.end, next && next.start].filter(Boolean);
  if (!moments.length) return;
  const wait = Math.min(...moments.map((m) => m - now)) + 250;
  if (wait > 0 && wait < TICK_MS) state.boundaryTimer = setTimeout(render, wait);
}

// ---------------------------------------------------------------------------------------------
// Booking at the door: the keypad.

const keypad = {
  /// What the code confirms: `{ kind: "book", minutes }`, or a door action on the booking at
  /// hand: `{ kind: "checkIn" | "extend" | "end", booking }`.
  action: null,
  minutes: 0,
  code: "",
  sending: false,
  idleTimer: null,
  closeTimer: null,
};

function openKeypad(minutes) {
  const now = new Date();
  const slot = bookable(minutes, now, sortedBookings());
  if (!slot || state.connection !== "online") return;
  keypad.action = { kind: "book", minutes };
  keypad.minutes = minutes;
  const zone = state.room.site.timeZone;
  const duration = minutes === 60 ? t("hour") : t("minutes", { n: minutes });
  showKeypad(t("keypadTitle", { duration }), `${formatTime(slot.start, zone)} – ${formatTime(slot.end, zone)}`, t("confirm"));
}

/// Opens the keypad for a door action on the booking at hand (`checkIn`, `extend`, `end`).
function openDoorKeypad(kind) {
  if (!state.room || state.connection !== "online") return;
  const now = new Date();
  const { current } = situation(now);
  const { awaiting, extendTo } = doorActions(now, sortedBookings(), current);
  const booking = kind === "checkIn" ? awaiting : current;
  if (!booking || (kind === "extend" && !extendTo)) return;
  keypad.action = { kind, booking };
  const zone = state.room.site.timeZone;
  const slot = state.room.policy.slotMinutes;
  const title =
    kind === "checkIn"
      ? t("checkInTitle")
      : kind === "extend"
        ? t("extendTitle", { time: formatTime(extendTo, zone) })
        : t("endTitle", { time: formatTime(new Date(Math.min(nextBoundary(now, zone, slot), booking.end)), zone) });
  const span = `${formatTime(booking.start, zone)} – ${formatTime(booking.end, zone)}${booking.holder ? ` · ${booking.holder}` : ""}`;
  showKeypad(title, span, t("confirmDoor"));
}

/// The first slot boundary at or after `now` (as the server ends a booking now).
function nextBoundary(now, zone, slotMinutes) {
  const start = slotStart(now, zone, slotMinutes);
  return start.getTime() === now.getTime() ? now : new Date(start.getTime() + slotMinutes * 60000);
}

function showKeypad(title, detail, confirm) {
  keypad.code = "";
  keypad.sending = false;
  clearTimeout(keypad.closeTimer);
  setText($("keypad-title"), title);
  setText($("keypad-slot"), detail);
  setText($("keypad-ok"), confirm);
  showOutcome("", "");
  renderCode();
  $("keypad").hidden = false;
  document.body.dataset.keypad = "open";
  touchKeypad();
}

function closeKeypad() {
  keypad.code = "";
  keypad.sending = false;
  clearTimeout(keypad.idleTimer);
  clearTimeout(keypad.closeTimer);
  const node = $("keypad");
  if (node) node.hidden = true;
  delete document.body.dataset.keypad;
  renderCode();
}

function touchKeypad() {
  clearTimeout(keypad.idleTimer);
  keypad.idleTimer = setTimeout(closeKeypad, KEYPAD_IDLE_MS);
}

function renderCode() {
  setText($("code-dots"), "●".repeat(keypad.code.length));
  $("code-dots").dataset.length = String(keypad.code.length);
  $("keypad-ok").disabled = keypad.sending || keypad.code.length === 0;
  for (const key of document.querySelectorAll(".key")) key.disabled = keypad.sending;
}

function showOutcome(outcome, text) {
  const message = $("keypad-message");
  message.dataset.outcome = outcome;
  setText(message, text);
}

function press(key) {
  if ($("keypad").hidden || keypad.sending) return;
  touchKeypad();
  if (key === "back") keypad.code = keypad.code.slice(0, -1);
  else if (key === "clear") keypad.code = "";
  else if (/^[0-9]$/.test(key) && keypad.code.length < MAX_CODE_LENGTH) keypad.code += key;
  if (key !== "back" && key !== "clear" && $("keypad-message").dataset.outcome !== "sending") {
    showOutcome("", "");
  }
  renderCode();
}

async function submitCode() {
  if (keypad.sending || !keypad.code || !state.room) return;
  if (keypad.action && keypad.action.kind !== "book") return submitDoor();
  const now = new Date();
  const slot = bookable(keypad.minutes, now, sortedBookings());
  // The code leaves the keypad now, whatever happens next.
  const code = keypad.code;
  keypad.code = "";
  if (!slot) {
    renderCode();
    showOutcome("taken", t("slotTaken"));
    return;
  }
  keypad.sending = true;
  renderCode();
  showOutcome("sending", t("sending"));
  const token = state.token;
  const answer = await graphql(token, BOOK_MUTATION, {
    input: { roomId: state.roomId, code, start: slot.start.toISOString(), end: slot.end.toISOString() },
  });
  keypad.sending = false;
  renderCode();
  if (state.token !== token) return;
  const booking = answer.data && answer.data.createBookingWithCode && answer.data.createBookingWithCode.booking;
  if (booking) {
    applyBooking(booking, false);
    render();
    const zone = state.room.site.timeZone;
    const done = toBooking(booking);
    showOutcome("booked", t("booked", { name: done.holder, time: formatTime(done.end, zone) }));
    clearTimeout(keypad.idleTimer);
    keypad.closeTimer = setTimeout(closeKeypad, 5000);
    return;
  }
  const error = (answer.errors || [])[0] || {};
  const kind = errorCode(answer.errors);
  const field = error.extensions && error.extensions.field;
  touchKeypad();
  if (kind === "UNAUTHENTICATED") {
    handleErrors(answer.errors);
  } else if (kind === "VALIDATION" && field === "code") {
    showOutcome("wrong-code", t("wrongCode"));
  } else if (kind === "CONFLICT") {
    showOutcome("taken", t("slotTaken"));
    load();
  } else if (kind === "RATE_LIMITED") {
    const seconds = Number((/(\d+)/.exec(error.message || "") || [])[1] || 60);
    const minutes = Math.max(1, Math.ceil(seconds / 60));
    showOutcome("rate-limited", minutes === 1 ? t("tooManyOne") : t("tooMany", { n: minutes }));
  } else if (kind === "VALIDATION") {
    showOutcome("policy", t("policy"));
  } else if (kind === "FORBIDDEN") {
    showOutcome("forbidden", t("notAllowed"));
  } else if (kind === "NETWORK") {
    showOutcome("network", t("network"));
  } else {
    showOutcome("failed", t("failed"));
  }
}

/// Sends a door action with the code typed: only the holder's code is accepted.
async function submitDoor() {
  const { kind, booking } = keypad.action;
  const code = keypad.code;
  keypad.code = "";
  keypad.sending = true;
  renderCode();
  showOutcome("sending", t("doorSending"));
  const token = state.token;
  const [field, mutation] = DOOR_MUTATIONS[kind];
  const answer = await graphql(token, mutation, { input: { bookingId: booking.id, code } });
  keypad.sending = false;
  renderCode();
  if (state.token !== token) return;
  const done = answer.data && answer.data[field] && answer.data[field].booking;
  if (done) {
    applyBooking(done, false);
    render();
    const zone = state.room.site.timeZone;
    const changed = toBooking(done);
    const text =
      kind === "checkIn"
        ? t("checkedIn", { name: changed.holder })
        : kind === "extend"
          ? t("extended", { time: formatTime(changed.end, zone) })
          : t("ended", { time: formatTime(changed.end, zone) });
    showOutcome("done", text);
    clearTimeout(keypad.idleTimer);
    keypad.closeTimer = setTimeout(closeKeypad, 5000);
    return;
  }
  const error = (answer.errors || [])[0] || {};
  const failure = errorCode(answer.errors);
  const where = error.extensions && error.extensions.field;
  touchKeypad();
  if (failure === "UNAUTHENTICATED") {
    handleErrors(answer.errors);
  } else if (failure === "VALIDATION" && where === "code") {
    showOutcome("wrong-code", t("wrongCode"));
  } else if (failure === "FORBIDDEN" && where === "code") {
    showOutcome("not-holder", t("notHolder"));
  } else if (failure === "CONFLICT") {
    showOutcome("taken", t("nextTaken"));
    load();
  } else if (failure === "RATE_LIMITED") {
    const seconds = Number((/(\d+)/.exec(error.message || "") || [])[1] || 60);
    const minutes = Math.max(1, Math.ceil(seconds / 60));
    showOutcome("rate-limited", minutes === 1 ? t("tooManyOne") : t("tooMany", { n: minutes }));
  } else if (failure === "NETWORK") {
    showOutcome("network", t("network"));
  } else {
    showOutcome("refused", t("doorRefused"));
    load();
  }
}

// ---------------------------------------------------------------------------------------------
// Find a room: the other rooms of this site free from now for 30 minutes (on this room's slots).

let findTimer = null;

async function openFind() {
  const room = state.room;
  if (!room || state.connection !== "online") return;
  const zone = room.site.timeZone;
  const slot = room.policy.slotMinutes;
  const now = new Date();
  const start = slotStart(now, zone, slot);
  const end = nextBoundary(new Date(now.getTime() + FIND_MINUTES * 60000), zone, slot);
  $("find-list").replaceChildren();
  setText($("find-message"), t("searching"));
  $("find").hidden = false;
  document.body.dataset.find = "open";
  clearTimeout(findTimer);
  findTimer = setTimeout(closeFind, KEYPAD_IDLE_MS);
  const token = state.token;
  const answer = await graphql(token, FIND_QUERY, {
    site: room.site.id,
    start: start.toISOString(),
    end: end.toISOString(),
  });
  if (state.token !== token || $("find").hidden) return;
  if (handleErrors(answer.errors)) return;
  const rooms = answer.data && answer.data.availableRooms;
  if (!rooms) {
    setText($("find-message"), t("findFailed"));
    return;
  }
  const others = rooms.filter((r) => r && r.id !== state.roomId && typeof r.name === "string");
  setText($("find-message"), others.length ? "" : t("findNone"));
  $("find-list").replaceChildren(
    ...others.map((r) => {
      const item = make("li", "find-room");
      item.dataset.roomId = r.id;
      item.append(make("span", "find-name", r.name));
      if (typeof r.capacity === "number") item.append(make("span", "find-seats", t("seats", { n: r.capacity })));
      return item;
    }),
  );
}

function closeFind() {
  clearTimeout(findTimer);
  const node = $("find");
  if (node) node.hidden = true;
  delete document.body.dataset.find;
}

// ---------------------------------------------------------------------------------------------
// Wiring.

function translateStatics() {
  document.documentElement.lang = LANG;
  for (const node of document.querySelectorAll("[data-text]")) setText(node, t(node.dataset.text));
  for (const node of document.querySelectorAll("[data-label]")) {
    node.setAttribute("aria-label", t(node.dataset.label));
  }
  setText(document.querySelector('[data-key="clear"]'), t("clear"));
}

function wire() {
  $("pair-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token-input").value.trim();
    if (!token) {
      setText($("pair-message"), t("pairEmpty"));
      return;
    }
    pair(token);
  });

  let unpairArmed = null;
  $("unpair").addEventListener("click", () => {
    if (unpairArmed) {
      clearTimeout(unpairArmed);
      unpairArmed = null;
      unpair("");
      setText($("unpair"), t("unpair"));
      return;
    }
    setText($("unpair"), t("unpairConfirm"));
    unpairArmed = setTimeout(() => {
      unpairArmed = null;
      setText($("unpair"), t("unpair"));
    }, 5000);
  });

  for (const minutes of DURATIONS) {
    $(`book-${minutes}`).addEventListener("click", () => openKeypad(minutes));
  }
  for (const key of document.querySelectorAll(".key")) {
    key.addEventListener("click", () => press(key.dataset.key));
  }
  $("keypad-ok").addEventListener("click", submitCode);
  $("door-check-in").addEventListener("click", () => openDoorKeypad("checkIn"));
  $("door-extend").addEventListener("click", () => openDoorKeypad("extend"));
  $("door-end").addEventListener("click", () => openDoorKeypad("end"));
  $("door-find").addEventListener("click", openFind);
  $("find-close").addEventListener("click", closeFind);
  $("keypad-cancel").addEventListener("click", closeKeypad);
  document.addEventListener("keydown", (event) => {
    if ($("keypad").hidden) return;
    if (/^[0-9]$/.test(event.key)) press(event.key);
    else if (event.key === "Backspace") press("back");
    else if (event.key === "Enter") submitCode();
    else if (event.key === "Escape") closeKeypad();
    else return;
    event.preventDefault();
  });

  // Back on the network, or awake again: no need to wait for the backoff.
  window.addEventListener("online", () => state.live && state.live.retryNow());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible" || !state.live) return;
    state.live.retryNow();
    render();
  });
}

function main() {
  translateStatics();
  wire();
  const token = readStorage(TOKEN_KEY);
  const roomId = readStorage(ROOM_KEY);
  if (token && roomId) {
    startDisplay(token, roomId);
  } else if (token) {
    showPairing("");
    pair(token);
  } else {
    showPairing("");
  }
}

main();
