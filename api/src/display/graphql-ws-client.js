// A small client of the graphql-transport-ws protocol, for the room display.
//
// One socket at a time. connection_init carries the payload given by `connectionParams`; once
// the server answers connection_ack every registered subscription is (re)sent, and the owner is
// told (`onConnected`) so it can re-read what it may have missed. Pings are answered with pongs;
// the client pings too, and a socket that stays silent is dropped. Whenever the socket closes it
// is opened again after an exponential backoff (with jitter), forever, until `stop()`.

const PROTOCOL = "graphql-transport-ws";

export class LiveConnection {
  constructor(options) {
    this.url = options.url;
    this.connectionParams = options.connectionParams;
    this.onState = options.onState || (() => {});
    this.onConnected = options.onConnected || (() => {});
    this.onClosed = options.onClosed || (() => {});
    this.minDelay = options.minDelay || 500;
    this.maxDelay = options.maxDelay || 30000;
    this.ackTimeout = options.ackTimeout || 10000;
    this.pingInterval = options.pingInterval || 15000;
    this.pongTimeout = options.pongTimeout || 8000;
    this.subscriptions = new Map();
    this.nextId = 1;
    this.failures = 0;
    this.socket = null;
    this.acknowledged = false;
    this.stopped = true;
    this.state = "idle";
    this.timers = { retry: null, ack: null, ping: null, pong: null };
  }

  /// Opens the connection (and keeps it open) until `stop()`.
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.failures = 0;
    this.open();
  }

  /// Closes the connection for good; subscriptions stay registered for a later `start()`.
  stop() {
    this.stopped = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    this.acknowledged = false;
    if (socket) socket.close(1000, "Normal Closure");
    this.setState("idle");
  }

  /// Drops the current socket and connects again (after the usual backoff).
  restart() {
    if (this.stopped) return;
    if (this.socket) {
      this.socket.close(4000, "Restart");
    } else {
      this.retryNow();
    }
  }

  /// Connects at once if the client is waiting to retry (network back, screen awake).
  retryNow() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.timers.retry);
    this.failures = 0;
    this.open();
  }

  /// Registers a subscription, sent now if connected and again on every reconnection.
  /// `sink` has `next(payload)`, `error(errors)` and `complete()`. Returns the unsubscribe function.
  subscribe(payload, sink) {
    const id = String(this.nextId++);
    this.subscriptions.set(id, { payload, sink });
    if (this.acknowledged) this.send({ id, type: "subscribe", payload });
    return () => {
      if (this.subscriptions.delete(id) && this.acknowledged) {
        this.send({ id, type: "complete" });
      }
    };
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }

  clearTimers() {
    clearTimeout(this.timers.retry);
    clearTimeout(this.timers.ack);
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    this.timers = { retry: null, ack: null, ping: null, pong: null };
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  open() {
    this.clearTimers();
    this.acknowledged = false;
    if (this.state !== "offline") this.setState("connecting");
    let socket;
    try {
      socket = new WebSocket(this.url, PROTOCOL);
    } catch (error) {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      let payload = {};
      try {
        payload = this.connectionParams ? this.connectionParams() : {};
      } catch (error) {
        payload = {};
      }
      this.send({ type: "connection_init", payload });
      this.timers.ack = setTimeout(() => {
        if (socket === this.socket && !this.acknowledged) {
          socket.close(4408, "Connection acknowledgement timeout");
        }
      }, this.ackTimeout);
    };
    socket.onmessage = (event) => this.receive(socket, event.data);
    socket.onerror = () => {
      // A close event always follows; it does the work.
    };
    socket.onclose = (event) => this.closed(socket, event);
  }

  receive(socket, data) {
    if (socket !== this.socket) return;
    let message;
    try {
      message = JSON.parse(data);
    } catch (error) {
      socket.close(4400, "Invalid message received");
      return;
    }
    if (!message || typeof message.type !== "string") {
      socket.close(4400, "Invalid message received");
      return;
    }
    // Anything heard proves the socket alive.
    clearTimeout(this.timers.pong);
    this.timers.pong = null;
    const subscription =
      typeof message.id === "string" ? this.subscriptions.get(message.id) : undefined;
    switch (message.type) {
      case "connection_ack":
        if (this.acknowledged) return;
        clearTimeout(this.timers.ack);
        this.acknowledged = true;
        this.failures = 0;
        for (const [id, { payload }] of this.subscriptions) {
          this.send({ id, type: "subscribe", payload });
        }
        this.keepAlive(socket);
        this.setState("online");
        this.onConnected();
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "pong":
        break;
      case "next":
        if (subscription) subscription.sink.next(message.payload || {});
        break;
      case "error":
        if (subscription) {
          this.subscriptions.delete(message.id);
          subscription.sink.error(Array.isArray(message.payload) ? message.payload : []);
        }
        break;
      case "complete":
        if (subscription) {
          this.subscriptions.delete(message.id);
          subscription.sink.complete();
        }
        break;
      default:
        socket.close(4400, "Unknown message type");
    }
  }

  keepAlive(socket) {
    this.timers.ping = setInterval(() => {
      if (socket !== this.socket) return;
      this.send({ type: "ping" });
      if (this.timers.pong === null) {
        this.timers.pong = setTimeout(() => {
          if (socket === this.socket) socket.close(4499, "Terminated: no pong");
        }, this.pongTimeout);
      }
    }, this.pingInterval);
  }

  closed(socket, event) {
    if (socket !== this.socket) return;
    const acknowledged = this.acknowledged;
    this.socket = null;
    this.acknowledged = false;
    this.clearTimers();
    if (this.stopped) return;
    this.setState("offline");
    this.onClosed({ code: event.code, reason: event.reason, acknowledged });
    if (!acknowledged) this.failures += 1;
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.stopped) return;
    this.setState("offline");
    const exponent = Math.min(this.failures, 10);
    const ceiling = Math.min(this.maxDelay, this.minDelay * 2 ** exponent);
    // Full jitter above half the ceiling: tablets of a building do not all knock at once.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.timers.retry = setTimeout(() => {
      this.timers.retry = null;
      if (!this.stopped && !this.socket) this.open();
    }, delay);
  }
}
