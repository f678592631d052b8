/*
 * The shopbot chat widget: a small client of the Rasa server's socket.io channel (bot/credentials.yml).
 *
 * It renders text (with links), quick replies, images, product cards and carousels (the actions' custom
 * payloads), shows a typing indicator and says so when the assistant is unreachable. The session id and
 * the transcript live in localStorage, so a reload shows the history and continues the same conversation.
 * Every text from the server goes into the page as a text node: nothing is parsed as HTML.
 *
 * Who the shopper is comes from the store, never from the widget: it fetches a short-lived signed shopper
 * token from the store (`data-token-url`, the store's GET /chat/token: null for a guest) and sends it with the
 * session request and every message; the Rasa server verifies it and issues the conversation id to that
 * shopper. The token is kept in memory only and fetched again shortly before it expires. When the signed-in
 * shopper changes, a new conversation starts.
 *
 * When the conversation is handed to a person (the assistant sends {"custom": {"type": "handoff", "state":
 * "waiting"}}), a banner says so, the typing indicator and the "has not answered" timeout stay off (a person
 * answers when they can), and replies from the team ({"text": ..., "agent": {"name": ...}}) are marked with the
 * agent's name. "ended" (the agent handed the conversation back) turns this off again.
 */
(function () {
  "use strict";

  var STORAGE_KEY = "shopbot.chat.v2";
  var MAX_HISTORY = 200;
  var DEFAULT_MAX_CHARS = 5000;
  var REPLY_TIMEOUT_MS = 20000;
  var TOKEN_MARGIN_MS = 60000; // fetch a new shopper token this long before the current one expires
  var MAX_REJECTIONS = 2; // resend a refused message at most this often before giving up
  var URL_PATTERN = /(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)])/g;

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(String(url), window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (error) {
      return null;
    }
  }

  /* Text with http(s) links made clickable; everything else stays plain text. */
  function linkified(text) {
    var fragment = document.createDocumentFragment();
    String(text).split(URL_PATTERN).forEach(function (part, index) {
      if (index % 2 === 1 && safeUrl(part)) {
        fragment.appendChild(el("a", { href: safeUrl(part), target: "_blank", rel: "noopener noreferrer", text: part }));
      } else if (part) {
        fragment.appendChild(document.createTextNode(part));
      }
    });
    return fragment;
  }

  function loadState() {
    try {
      var state = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "null");
      if (state && Array.isArray(state.messages)) return state;
    } catch (error) { /* a broken entry starts a new conversation */ }
    return { sessionId: null, customerId: null, messages: [], open: false };
  }

  function Widget(root) {
    this.root = root;
    this.socketUrl = root.getAttribute("data-socket-url");
    this.tokenUrl = root.getAttribute("data-token-url");
    this.maxChars = Number(root.getAttribute("data-max-chars")) || DEFAULT_MAX_CHARS;
    this.state = loadState();
    this.queue = [];
    this.confirmed = false;
    this.replyTimer = null;
    this.token = null;          // the shopper token: in memory only
    this.tokenExpires = 0;      // when it must be fetched again (ms since the epoch)
    this.tokenRequest = null;
    this.tokenGeneration = 0;   // a sign-in makes every token request asked before it stale
    this.switching = false;     // a sign-in change is under way: no session until it is done
    this.lastSent = null;
    this.rejections = 0;
    this.build();
    this.state.messages.forEach(this.renderMessage, this);
    this.showHandoff();
    this.setOpen(this.state.open);
    this.connect();
  }

  Widget.prototype.save = function () {
    this.state.messages = this.state.messages.slice(-MAX_HISTORY);
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(this.state));
    } catch (error) { /* storage full or disabled: the chat still works, without history */ }
  };

  Widget.prototype.build = function () {
    var self = this;
    this.launcher = el("button", {
      type: "button", className: "sb-launcher", "aria-controls": "sb-panel", "aria-expanded": "false",
      "aria-label": "Chat with the shop assistant",
    }, ["Chat"]);
    this.status = el("p", { className: "sb-status", role: "status", "aria-live": "polite", hidden: true });
    this.handoffBanner = el("p", { className: "sb-handoff", role: "status", "aria-live": "polite", hidden: true });
    this.log = el("div", { className: "sb-log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
    this.typing = el("p", { className: "sb-typing", hidden: true, "aria-label": "The assistant is typing" }, [
      el("span", {}), el("span", {}), el("span", {}),
    ]);
    this.input = el("input", {
      type: "text", className: "sb-input", id: "sb-input", autocomplete: "off", maxlength: String(this.maxChars),
      placeholder: "Ask about a product or an order…", "aria-label": "Your message",
    });
    var send = el("button", { type: "submit", className: "sb-send", "aria-label": "Send" }, ["Send"]);
    this.form = el("form", { className: "sb-form" }, [this.input, send]);
    var close = el("button", { type: "button", className: "sb-close", "aria-label": "Close the chat" }, ["×"]);
    var restart = el("button", { type: "button", className: "sb-restart", "aria-label": "Start a new conversation" }, ["New chat"]);
    this.panel = el("section", {
      id: "sb-panel", className: "sb-panel", role: "dialog", "aria-label": "Chat with the shop assistant", hidden: true,
    }, [
      el("header", { className: "sb-header" }, [el("h2", { text: "Shop assistant" }), restart, close]),
      this.status, this.handoffBanner, this.log, this.typing, this.form,
    ]);
    this.root.appendChild(this.panel);
    this.root.appendChild(this.launcher);

    this.launcher.addEventListener("click", function () { self.setOpen(!self.state.open); });
    close.addEventListener("click", function () { self.setOpen(false); self.launcher.focus(); });
    restart.addEventListener("click", function () { self.restart(); });
    this.panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { self.setOpen(false); self.launcher.focus(); }
    });
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = self.input.value.trim();
      if (!text) return;
      self.input.value = "";
      self.send(text, text);
    });
  };

  Widget.prototype.setOpen = function (open) {
    this.state.open = !!open;
    this.panel.hidden = !open;
    this.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    this.root.classList.toggle("sb-open", !!open);
    if (open) {
      this.input.focus();
      this.log.scrollTop = this.log.scrollHeight;
      this.offerGreeting();
    }
    this.save();
  };

  /* A signed-in shopper opening a new conversation: the running campaign of their segment, if any
     (the store page's /shopper/greeting decides from the store's sign-in, and logs the exposure; the control
     group gets none). */
  Widget.prototype.offerGreeting = function () {
    var self = this;
    var session = this.state.sessionId;
    if (!this.state.open || !this.state.customerId || !session || this.state.messages.length || this.state.offered === session) return;
    this.state.offered = session;
    this.save();
    var url = "/shopper/greeting?session=" + encodeURIComponent(session);
    window.fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (reply) {
      return reply.ok ? reply.json() : null;
    }).then(function (body) {
      var campaign = body && body.campaign;
      if (!campaign || self.state.sessionId !== session || self.state.messages.length) return;
      self.receive({ text: campaign.message, custom: { type: "carousel", cards: campaign.cards || [] }, offer: campaign.id });
    }).catch(function () { /* no greeting offer: the chat works as before */ });
  };

  Widget.prototype.showStatus = function (text) {
    this.status.textContent = text || "";
    this.status.hidden = !text;
  };

  Widget.prototype.connect = function () {
    var self = this;
    if (typeof window.io !== "function") {
      this.showStatus("The chat could not load. Please reload the page.");
      return;
    }
    this.socket = window.io(this.socketUrl, {
      path: "/socket.io", transports: ["websocket", "polling"], reconnectionDelayMax: 5000,
    });
    this.socket.on("connect", function () { self.requestSession(); });
    this.socket.on("session_confirm", function (data) {
      var sessionId = typeof data === "string" ? data : data && data.session_id;
      if (!sessionId || self.switching) return;
      if (self.state.sessionId && sessionId !== self.state.sessionId) self.clearTranscript(); // not that conversation any more
      self.state.sessionId = sessionId;
      self.confirmed = true;
      self.showStatus("");
      self.save();
      self.flush();
      self.offerGreeting();
    });
    // The server refused the token (expired, broken) or the conversation id (not this shopper's).
    this.socket.on("session_rejected", function (data) {
      var reason = data && data.reason;
      self.confirmed = false;
      if (reason === "token") self.tokenExpires = 0;
      else self.state.sessionId = null;
      if (self.lastSent !== null && self.rejections < MAX_REJECTIONS) {
        self.rejections += 1;
        self.queue.unshift(self.lastSent);
      }
      self.lastSent = null;
      self.requestSession();
    });
    this.socket.on("connect_error", function () { self.unreachable(); });
    this.socket.on("disconnect", function () { self.unreachable(); });
    this.socket.on("bot_uttered", function (message) { self.receive(message); });
  };

  /* The shopper token from the store (null for a guest); a different shopper starts a new conversation. */
  Widget.prototype.fetchToken = function () {
    var self = this;
    if (!this.tokenUrl || typeof window.fetch !== "function") return Promise.resolve();
    if (this.tokenRequest) return this.tokenRequest;
    var generation = this.tokenGeneration;
    this.tokenRequest = window.fetch(this.tokenUrl, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("no shopper token: " + response.status);
        return response.json();
      })
      .then(function (data) {
        // Asked before a sign-in changed the store's cookie: the answer names the previous shopper.
        if (generation !== self.tokenGeneration) return self.fetchToken();
        self.tokenRequest = null;
        self.token = (data && typeof data.token === "string" && data.token) || null;
        self.tokenExpires = Date.now() + 1000 * (Number(data && data.expires_in) || 300);
        self.syncCustomer((data && data.customer) || null);
      }, function (error) {
        if (generation === self.tokenGeneration) self.tokenRequest = null;
        throw error;
      });
    return this.tokenRequest;
  };

  Widget.prototype.freshToken = function () {
    if (Date.now() < this.tokenExpires - TOKEN_MARGIN_MS) return Promise.resolve();
    return this.fetchToken().catch(function () { /* the store is unreachable: go on with what we have */ });
  };

  /* Ask the server for the conversation (the stored one if it is still this shopper's, else a new one). */
  Widget.prototype.requestSession = function () {
    var self = this;
    var ticket = this.sessionTicket = (this.sessionTicket || 0) + 1;
    this.confirmed = false;
    this.freshToken().then(function () {
      if (ticket !== self.sessionTicket || self.switching || !self.socket || !self.socket.connected) return;
      self.socket.emit("session_request", { session_id: self.state.sessionId, token: self.token });
    });
  };

  Widget.prototype.unreachable = function () {
    this.confirmed = false;
    this.typing.hidden = true;
    this.showStatus("The assistant is unreachable, retrying…");
  };

  /* Show the shopper's message and send `payload` (the text itself, or a button's intent payload). */
  Widget.prototype.send = function (title, payload) {
    var message = { from: "user", text: String(title).slice(0, this.maxChars) };
    this.state.messages.push(message);
    this.save();
    this.renderMessage(message);
    this.queue.push(String(payload).slice(0, this.maxChars));
    this.flush();
  };

  Widget.prototype.flush = function () {
    var self = this;
    if (!this.confirmed || !this.socket || !this.socket.connected) {
      if (this.queue.length && !this.switching) this.showStatus("The assistant is unreachable, retrying… Your message will be sent when it is back.");
      return;
    }
    if (!this.queue.length) return;
    this.freshToken().then(function () {
      if (!self.confirmed || !self.socket.connected) return; // the shopper changed meanwhile: sent after the new session
      while (self.queue.length) {
        self.lastSent = self.queue.shift();
        self.socket.emit("user_uttered", { message: self.lastSent, session_id: self.state.sessionId, token: self.token, metadata: {} });
        if (!self.state.handoff) self.waitForReply(); // a person answers when they can: no "not answered yet"
      }
    });
  };

  Widget.prototype.waitForReply = function () {
    var self = this;
    this.typing.hidden = false;
    this.log.scrollTop = this.log.scrollHeight;
    window.clearTimeout(this.replyTimer);
    this.replyTimer = window.setTimeout(function () {
      self.typing.hidden = true;
      self.showStatus("The assistant has not answered yet. Please try again in a moment.");
    }, REPLY_TIMEOUT_MS);
  };

  Widget.prototype.receive = function (data) {
    this.rejections = 0;
    window.clearTimeout(this.replyTimer);
    this.typing.hidden = true;
    this.showStatus("");
    data = data || {};
    var handoff = data.custom && data.custom.type === "handoff" ? data.custom : null;
    if (handoff) this.setHandoff(handoff.state === "ended" ? null : { state: handoff.state || "waiting" });
    if (data.agent) this.setHandoff({ state: "open", agent: String(data.agent.name || "") });
    if (handoff && !data.text) return; // only the change of hands: the banner says it
    var message = { from: data.agent ? "agent" : "bot", data: data };
    this.state.messages.push(message);
    this.save();
    this.renderMessage(message);
  };

  /* Who has the conversation: null (the assistant) or {state: "waiting"|"open", agent: NAME}. */
  Widget.prototype.setHandoff = function (handoff) {
    this.state.handoff = handoff;
    this.save();
    this.showHandoff();
  };

  Widget.prototype.showHandoff = function () {
    var handoff = this.state.handoff;
    this.handoffBanner.hidden = !handoff;
    this.root.classList.toggle("sb-with-team", !!handoff);
    if (!handoff) { this.handoffBanner.textContent = ""; return; }
    this.handoffBanner.textContent = handoff.agent
      ? "You're chatting with " + handoff.agent + " from our team."
      : "Waiting for a person from our team… They will answer here.";
  };

  Widget.prototype.clearTranscript = function () {
    this.state.handoff = null;
    this.showHandoff();
    this.state.messages = [];
    this.log.textContent = "";
    this.save();
  };

  /* A new conversation ("New chat", or another shopper); messages typed meanwhile are kept when asked to. */
  Widget.prototype.restart = function (keepQueue) {
    this.clearTranscript();
    this.state.sessionId = null;
    if (!keepQueue) this.queue = [];
    this.save();
    this.requestSession();
  };

  /* The store says who is signed in now; another shopper than the conversation's gets their own, new one. */
  Widget.prototype.syncCustomer = function (customerId) {
    if ((this.state.customerId || "") === (customerId || "")) return;
    this.state.customerId = customerId || null;
    this.save();
    if (!this.switching) this.restart(true);
  };

  /* The demo store's "sign in as" picker: the store signs the shopper in (a cookie), then a new conversation. */
  Widget.prototype.signIn = function (url, customerId) {
    var self = this;
    this.switching = true;
    this.confirmed = false;
    this.restart(false);
    return window.fetch(url, {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ customer: customerId || "" }),
    }).then(function (response) {
      if (!response.ok) throw new Error("sign-in refused: " + response.status);
      self.tokenExpires = 0;
      self.tokenGeneration += 1;
      self.tokenRequest = null;
      return self.fetchToken();
    }).catch(function () {
      self.showStatus("Signing in did not work. Please try again.");
    }).then(function () {
      self.switching = false;
      self.requestSession();
    });
  };

  Widget.prototype.renderMessage = function (message) {
    var item;
    if (message.from === "user") {
      item = el("div", { className: "sb-message sb-user" }, [el("p", { className: "sb-bubble", text: message.text })]);
    } else if (message.from === "agent") {
      var name = String((message.data.agent && message.data.agent.name) || "Our team");
      item = el("div", { className: "sb-message sb-bot sb-agent", "aria-label": name + ", a person from our team" }, [
        el("p", { className: "sb-agent-name", text: name + " · from our team" }),
        el("p", { className: "sb-bubble" }, [linkified(message.data.text || "")]),
      ]);
    } else {
      item = el("div", { className: "sb-message sb-bot" + (message.data && message.data.offer ? " sb-offer" : ""),
        "data-campaign": message.data && message.data.offer ? String(message.data.offer) : null }, this.botParts(message.data));
    }
    this.log.appendChild(item);
    this.log.scrollTop = this.log.scrollHeight;
  };

  Widget.prototype.botParts = function (data) {
    var parts = [];
    if (data.text) parts.push(el("p", { className: "sb-bubble" }, [linkified(data.text)]));
    var attachment = data.attachment;
    if (attachment && attachment.type === "image" && attachment.payload && safeUrl(attachment.payload.src)) {
      parts.push(el("img", { className: "sb-image", src: safeUrl(attachment.payload.src), alt: "" }));
    }
    if (attachment && attachment.type === "template" && attachment.payload) {
      var elements = [].concat(attachment.payload.elements || []);
      parts.push(this.carousel(elements.map(genericCard)));
    }
    if (data.image && safeUrl(data.image)) parts.push(el("img", { className: "sb-image", src: safeUrl(data.image), alt: "" }));
    var custom = data.custom;
    if (custom && custom.type === "product_card" && custom.card) parts.push(this.card(custom.card));
    if (custom && custom.type === "carousel" && Array.isArray(custom.cards)) parts.push(this.carousel(custom.cards));
    var replies = data.quick_replies || data.buttons;
    if (Array.isArray(replies) && replies.length) parts.push(this.buttons(replies, "sb-quick-replies"));
    if (!parts.length) parts.push(el("p", { className: "sb-bubble", text: "…" }));
    return parts;
  };

  Widget.prototype.buttons = function (buttons, className) {
    var self = this;
    return el("div", { className: className, role: "group", "aria-label": "Suggested replies" }, buttons.map(function (button) {
      var node = el("button", { type: "button", className: "sb-button", text: button.title });
      node.addEventListener("click", function () { self.send(button.title, button.payload || button.title); });
      return node;
    }));
  };

  // `number` is the card's place in a list (1, 2, 3 ...), shown so "the second one" is plain to see.
  Widget.prototype.card = function (card, number) {
    var image = safeUrl(card.image_url);
    var facts = [];
    if (card.price_text) facts.push(el("p", { className: "sb-card-price", text: card.price_text }));
    if (card.in_stock !== undefined) facts.push(el("p", { className: "sb-card-stock", text: card.in_stock ? "In stock" : "Out of stock" }));
    if (card.rating) facts.push(el("p", { className: "sb-card-rating", text: "Rated " + card.rating + "/5" }));
    var label = number ? number + ". " + (card.title || "") : card.title;
    return el("article", { className: "sb-card", "data-product-id": card.id || null, "aria-label": label }, [
      number ? el("span", { className: "sb-card-number", "aria-hidden": "true", text: String(number) }) : null,
      image ? el("img", { src: image, alt: card.title || "" }) : null,
      el("h3", { className: "sb-card-title", text: card.title || "" }),
      card.subtitle ? el("p", { className: "sb-card-subtitle", text: card.subtitle }) : null,
    ].concat(facts, [Array.isArray(card.buttons) && card.buttons.length ? this.buttons(card.buttons, "sb-card-buttons") : null]));
  };

  Widget.prototype.carousel = function (cards) {
    var self = this;
    return el("div", { className: "sb-carousel", role: "list", "aria-label": "Products", tabindex: "0" }, cards.map(function (card, index) {
      return el("div", { role: "listitem" }, [self.card(card, cards.length > 1 ? index + 1 : 0)]);
    }));
  };

  function genericCard(element) {
    return {
      title: element.title, subtitle: element.subtitle, image_url: element.image_url,
      buttons: (element.buttons || []).filter(function (b) { return b.payload; }),
    };
  }

  function start() {
    var root = document.getElementById("shopbot-chat");
    if (!root) return;
    var picker = document.getElementById("customer-picker");
    var widget = new Widget(root);
    window.shopbotChat = widget;
    if (picker) {
      picker.addEventListener("change", function () {
        widget.signIn(picker.getAttribute("data-signin-url"), picker.value);
      });
    }
    document.querySelectorAll("button.ask[data-product-id]").forEach(function (button) {
      button.addEventListener("click", function () {
        widget.setOpen(true);
        var payload = '/ask_product_info{"product":' + JSON.stringify(button.getAttribute("data-product-id")) + "}";
        widget.send("Tell me about the " + button.getAttribute("data-product-name"), payload);
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
