/*
 * live.js: what every Pitwall page shares.
 *
 *   PW.token                 the token from the page's URL (?token=...)
 *   PW.link(path)            a link to another page that keeps the token
 *   PW.getJSON(path, params) an HTTP query (/v1/..., with the token), bounded
 *   PW.getText(path, params)
 *   PW.live(opts)            the /v1/live WebSocket: subscribes, reconnects
 *                            with backoff after the server restarts, and
 *                            says "stale" when no data came for a while
 *   PW.badge(el, conn)       shows a connection's state in an element
 *   PW.chart(el, opts, data) a uPlot chart, or a note when the chart
 *                            library (dashboards/vendor/) is missing
 *
 * Plain script, no build step: it sets window.PW.
 */
(function () {
  "use strict";
  var PW = (window.PW = {});
  var params = new URLSearchParams(location.search);
  PW.params = params;
  PW.token = params.get("token") || "";

  /* A number from the URL, or def. */
  PW.num = function (name, def) {
    var v = parseFloat(params.get(name));
    return isFinite(v) ? v : def;
  };

  PW.link = function (path, extra) {
    var q = new URLSearchParams(extra || {});
    if (PW.token) q.set("token", PW.token);
    var s = q.toString();
    return path + (s ? "?" + s : "");
  };

  function query(path, p) {
    var q = new URLSearchParams();
    Object.keys(p || {}).forEach(function (k) {
      if (p[k] !== undefined && p[k] !== null) q.set(k, p[k]);
    });
    if (PW.token) q.set("token", PW.token);
    return path + "?" + q.toString();
  }

  function fetchBounded(path, p, timeoutMs) {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, timeoutMs || 5000);
    return fetch(query(path, p), { signal: ctl.signal, cache: "no-store" })
      .finally(function () { clearTimeout(timer); });
  }

  PW.getJSON = function (path, p, timeoutMs) {
    return fetchBounded(path, p, timeoutMs).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(r.status + " " + (body.error || body.message || ""));
        return body;
      });
    });
  };

  PW.getText = function (path, p, timeoutMs) {
    return fetchBounded(path, p, timeoutMs).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    });
  };

  /*
   * PW.live({topics, fields, maxRate, staleAfter, onMessage, onStatus})
   * opts.topics: patterns (PROTOCOL.md); opts.onMessage(msg) gets every
   * snapshot and update; opts.onStatus(state, conn) every change of state:
   *   connecting   first attempt under way
   *   live         subscribed, data flowing
   *   stale        connected but no data for staleAfter seconds (default 5)
   *   down         disconnected; conn.retryAt says when it tries again
   *   unauthorized the server refused the token (401)
   * Reconnects forever with exponential backoff (0.5 s doubling to 8 s,
   * jittered), resubscribing each time.
   */
  PW.live = function (opts) {
    var conn = {
      state: "connecting", messages: 0, lastData: 0, connects: 0,
      retryAt: 0, attempt: 0, closed: false, ws: null, reason: "",
    };
    var staleMs = (opts.staleAfter || PW.num("stale", 5)) * 1000;
    var listeners = [];
    if (opts.onStatus) listeners.push(opts.onStatus);
    conn.onStatus = function (f) { listeners.push(f); f(conn.state, conn); };

    function set(state, reason) {
      if (conn.state === state && reason === undefined) return;
      conn.state = state;
      if (reason !== undefined) conn.reason = reason;
      listeners.forEach(function (f) { f(state, conn); });
    }

    function wsURL() {
      var proto = location.protocol === "https:" ? "wss:" : "ws:";
      var q = PW.token ? "?token=" + encodeURIComponent(PW.token) : "";
      return proto + "//" + location.host + "/v1/live" + q;
    }

    function retry(opened) {
      if (conn.closed) return;
      var base = Math.min(8000, 500 * Math.pow(2, conn.attempt));
      var delay = base * (0.75 + 0.5 * Math.random());
      conn.attempt++;
      conn.retryAt = Date.now() + delay;
      if (!opened) {
        /* Never opened: the server is down, or it refused the token. */
        fetchBounded("/v1/live", {}, 2000).then(function (r) {
          if (r.status === 401) set("unauthorized", "the server refused the token");
          else set("down", "reconnecting");
        }, function () { set("down", "server unreachable"); });
      } else {
        set("down", "reconnecting");
      }
      setTimeout(open, delay);
    }

    function open() {
      if (conn.closed) return;
      var opened = false;
      var ws;
      try {
        ws = new WebSocket(wsURL());
      } catch (e) {
        retry(false);
        return;
      }
      conn.ws = ws;
      ws.onopen = function () {
        opened = true;
        var sub = { op: "subscribe", topics: opts.topics, id: "sub" };
        if (opts.fields) sub.fields = opts.fields;
        if (opts.maxRate) sub.max_rate = opts.maxRate;
        ws.send(JSON.stringify(sub));
      };
      ws.onmessage = function (ev) {
        var m;
        try { m = JSON.parse(ev.data); } catch (e) { return; }
        if (m.op === "subscribed") {
          conn.attempt = 0;
          conn.connects++;
          conn.lastData = Date.now();
          set("live", "");
          if (opts.onConnect) opts.onConnect(conn);
          return;
        }
        if (m.op === "error") {
          set(conn.state, m.code + ": " + m.message);
          return;
        }
        if (m.op !== "snapshot" && m.op !== "update") return;
        conn.messages++;
        conn.lastData = Date.now();
        if (conn.state !== "live") set("live", "");
        try { opts.onMessage(m); } catch (e) { setTimeout(function () { throw e; }); }
      };
      ws.onclose = function (ev) {
        conn.ws = null;
        if (conn.closed) return;
        conn.lastClose = ev.code;
        retry(opened);
      };
      ws.onerror = function () { /* onclose follows */ };
    }

    setInterval(function () {
      if (conn.state === "live" && Date.now() - conn.lastData > staleMs) set("stale");
      listeners.forEach(function (f) { if (f.tick) f.tick(conn); });
    }, 500);

    conn.close = function () {
      conn.closed = true;
      if (conn.ws) conn.ws.close();
    };
    setTimeout(open, 0);
    return conn;
  };

  /* A connection's state as a badge: LIVE, STALE 7 s, RECONNECTING 3 s. */
  PW.badge = function (el, conn) {
    function draw() {
      var s = conn.state, txt;
      if (s === "live") txt = "Live";
      else if (s === "stale") txt = "Stale " + Math.round((Date.now() - conn.lastData) / 1000) + " s";
      else if (s === "down") {
        var left = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
        txt = "Reconnecting" + (left ? " " + left + " s" : "");
      } else if (s === "unauthorized") txt = "Token refused";
      else txt = "Connecting";
      el.className = "conn " + s;
      el.textContent = txt;
      el.dataset.state = s;
      el.title = conn.reason || "";
    }
    var f = function () { draw(); };
    f.tick = draw;
    conn.onStatus(f);
  };

  /* A clock in an element, local time, every second. */
  PW.clock = function (el) {
    function draw() { el.textContent = new Date().toLocaleTimeString([], { hour12: false }); }
    draw();
    setInterval(draw, 1000);
  };

  /* Formatting. */
  PW.fmt = function (v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    return Number(v).toFixed(digits === undefined ? 1 : digits);
  };
  PW.timeOf = function (tsNs) {
    var d = new Date(Number(BigInt(tsNs) / 1000000n));
    return d.toLocaleTimeString([], { hour12: false });
  };
  /* Event times are ns since the epoch: beyond 2^53, so strings via BigInt. */
  PW.nsToMs = function (tsNs) { return Number(BigInt(Math.round(tsNs)) / 1000000n); };
  PW.addNs = function (tsNs, seconds) {
    return (BigInt(tsNs) + BigInt(Math.round(seconds * 1e9))).toString();
  };

  /* sim/away/dt1 -> DT1; nfl/2495438 -> 2495438. */
  PW.shortName = function (entity) {
    var parts = String(entity).split("/");
    return parts[parts.length - 1].toUpperCase();
  };
  /* home, away, ball or "" from an entity name. */
  PW.team = function (entity) {
    if (entity === "ball" || /(^|\/)ball$/.test(entity)) return "ball";
    if (/\/home\//.test(entity)) return "home";
    if (/\/away\//.test(entity)) return "away";
    return "";
  };

  /* Green (0) -> yellow (0.5) -> red (1). */
  PW.heat = function (p) {
    p = Math.max(0, Math.min(1, p || 0));
    var h = 130 * (1 - p);
    return "hsl(" + h.toFixed(0) + ", " + (45 + 50 * Math.min(1, p * 2)).toFixed(0) + "%, " + (46 + 6 * p).toFixed(0) + "%)";
  };

  PW.chartsAvailable = function () { return typeof window.uPlot === "function"; };

  /*
   * A uPlot chart sized to el, dark axes; without the library a note in
   * el and a stub whose setData does nothing.
   */
  PW.chart = function (el, opts, data) {
    if (!PW.chartsAvailable()) {
      el.innerHTML = '<div class="note chart-missing">Charts unavailable: the chart library ' +
        "(dashboards/vendor/uPlot) is not installed. Run <b>make</b> to copy it from " +
        "node_modules. Live values still update.</div>";
      return { setData: function () {}, setSize: function () {}, missing: true };
    }
    var axis = {
      stroke: "#8a94a7", font: "14px " + getComputedStyle(document.body).fontFamily,
      grid: { stroke: "#1c2230", width: 1 }, ticks: { stroke: "#232a37", width: 1 },
    };
    var o = Object.assign({
      width: el.clientWidth || 600, height: el.clientHeight || 240,
      legend: { show: false }, cursor: { show: false },
    }, opts);
    o.axes = (opts.axes || [{}, {}]).map(function (a) { return Object.assign({}, axis, a); });
    var u = new window.uPlot(o, data, el);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (el.clientWidth > 0) u.setSize({ width: el.clientWidth, height: el.clientHeight || o.height });
      }).observe(el);
    }
    return u;
  };

  /* Overlays: fit the 1920x1080 stage to the window (a browser source at any size). */
  PW.fitStage = function (stage) {
    function fit() {
      var s = Math.min(window.innerWidth / 1920, window.innerHeight / 1080);
      stage.style.transform = "scale(" + s + ")";
    }
    window.addEventListener("resize", fit);
    fit();
  };
})();
