/*
 * The agents' inbox (bot/web/inbox.py): the queues and a conversation follow the server live through
 * server-sent events, wait times tick, and the reply box sends without leaving the page. Everything the
 * server sends is HTML it rendered from its own templates (autoescaped); shoppers' words are never parsed here.
 */
(function () {
  "use strict";

  function duration(since) {
    var seconds = Math.max(0, Math.round((Date.now() - since) / 1000));
    if (seconds < 60) return seconds + " s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + (seconds % 60) + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  function tick() {
    document.querySelectorAll("time.since[data-since]").forEach(function (node) {
      var since = Date.parse(node.getAttribute("data-since"));
      if (!isNaN(since)) node.textContent = duration(since);
    });
  }

  function follow(url, handlers) {
    if (typeof window.EventSource !== "function") return null;
    var source = new window.EventSource(url, { withCredentials: true });
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (error) { return; }
        handlers[name](data);
      });
    });
    return source;
  }

  function queues(root) {
    follow(root.getAttribute("data-stream"), {
      queues: function (data) { root.innerHTML = data.html; tick(); },
    });
  }

  function conversation(list) {
    var after = Number(list.getAttribute("data-after")) || 0;
    var shown = {};
    list.querySelectorAll("li[data-event]").forEach(function (node) { shown[node.getAttribute("data-event")] = true; });
    function bottom() { list.scrollTop = list.scrollHeight; }
    bottom();
    follow(list.getAttribute("data-stream") + "?after=" + after, {
      lines: function (data) {
        var holder = document.createElement("ol");
        holder.innerHTML = data.html;
        Array.prototype.slice.call(holder.children).forEach(function (node) {
          var id = node.getAttribute("data-event");
          if (id && shown[id]) return;
          shown[id] = true;
          list.appendChild(node);
        });
        bottom();
      },
      state: function (data) {
        var label = document.querySelector("h1 .state");
        if (label) {
          label.textContent = data.state + (data.agent ? " · " + data.agent : "");
          label.setAttribute("data-state", data.state);
        }
        var closed = data.state === "closed";
        document.querySelectorAll("#reply, .actions").forEach(function (node) { node.hidden = closed; });
        var take = document.getElementById("take");
        if (take && data.state !== "waiting") take.hidden = true;
      },
    });
  }

  function replyBox(form) {
    var status = form.querySelector(".reply-status");
    var text = form.querySelector("textarea");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!text.value.trim()) return;
      var body = new window.FormData(form);
      status.textContent = "Sending…";
      window.fetch(form.action, {
        method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" },
      }).then(function (reply) {
        return reply.json().then(function (data) { return { ok: reply.ok, data: data }; });
      }).then(function (result) {
        if (result.ok) {
          text.value = "";
          status.textContent = "";
        } else {
          status.textContent = (result.data && result.data.error) || "Not sent. Please try again.";
        }
      }).catch(function () {
        status.textContent = "Not sent: the server is unreachable. Please try again.";
      });
    });
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
    });
  }

  function start() {
    var root = document.getElementById("queues");
    if (root) queues(root);
    var list = document.getElementById("transcript");
    if (list) conversation(list);
    var form = document.getElementById("reply");
    if (form) replyBox(form);
    tick();
    window.setInterval(tick, 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
