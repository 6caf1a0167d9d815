/* The counter without network (issue 18).
 *
 * - Registers the service worker (/counter/sw.js) that keeps the counter page for a reload offline.
 * - Keeps, in IndexedDB, the members this till has shown (what the member card shows: name, tier,
 *   masked phone, balances "as of" their time) and the sales recorded at this till (for returns).
 * - Offline (the browser says so, or a request fails), the clerk looks up those members, records
 *   sales and returns: each is queued with its receipt number, an idempotency key made before the
 *   first try, and the time it happened.
 * - Back online, the queue is sent in order by itself, through the POS API (the session signs it in),
 *   each request with its Idempotency-Key and occurred_at: a retry after a lost answer is the same
 *   sale. What the portal refuses is listed with its reason, to settle by hand.
 *
 * Money is counted in whole fen here; the portal's figures are the final ones.
 */
(function () {
  "use strict";
  var cfgNode = document.getElementById("offline-settings");
  if (!cfgNode) return;
  var CFG = JSON.parse(cfgNode.textContent);
  var T = CFG.text;
  var DB_NAME = "counter-offline-" + CFG.store;
  var dbPromise = null;
  var syncing = false;
  var selected = null;  // the member chosen in the offline panel
  var forcedOffline = false;  // a request failed although the browser thinks it is online

  function fmt(text, args) {
    return text.replace(/%\((\w+)\)s/g, function (_, k) { return args[k]; }).replace(/%%/g, "%");
  }

  // ---------------------------------------------------------------- IndexedDB
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () {
          var d = req.result;
          d.createObjectStore("members", {keyPath: "member_no"});
          d.createObjectStore("queue", {keyPath: "seq", autoIncrement: true});
          d.createObjectStore("sales", {keyPath: "receipt_no"});
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }

  function tx(store, mode, work) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(store, mode);
        var result;
        t.oncomplete = function () { resolve(result); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
        result = work(t.objectStore(store));
      });
    });
  }

  function all(store) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var req = d.transaction(store).objectStore(store).getAll();
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    });
  }

  function get(store, key) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var req = d.transaction(store).objectStore(store).get(key);
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    });
  }

  function put(store, value) { return tx(store, "readwrite", function (s) { s.put(value); }); }
  function del(store, key) { return tx(store, "readwrite", function (s) { s.delete(key); }); }

  // ---------------------------------------------------------------- what the online counter shows
  function remember() {
    var node = document.getElementById("offline-member");
    if (node) put("members", JSON.parse(node.textContent)).then(pruneMembers);
    var sale = document.getElementById("offline-sale");
    if (sale) {
      // a sale just recorded online at this till (the result panel stays through later swaps: kept once)
      var s = JSON.parse(sale.textContent);
      get("sales", s.receipt_no).then(function (known) {
        if (!known) put("sales", {receipt_no: s.receipt_no, sale_id: s.sale_id, amount_fen: fen(s.amount),
                                  returned_fen: 0, member_no: s.member_no, at: new Date().toISOString()});
      });
    }
  }

  function pruneMembers() {
    var oldest = Date.now() - CFG.keep_days * 86400000;
    all("sales").then(function (rows) {  // sales of this till are kept as long as members are
      rows.forEach(function (s) { if (s.sale_id && Date.parse(s.at) < oldest) del("sales", s.receipt_no); });
    });
    return all("members").then(function (rows) {
      rows.sort(function (a, b) { return b.as_of.localeCompare(a.as_of); });
      rows.forEach(function (m, i) {
        if (i >= 500 || Date.parse(m.as_of) < oldest) del("members", m.member_no);
      });
    });
  }

  // ---------------------------------------------------------------- money in fen
  function fen(text) {
    var m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(String(text == null ? "" : text));
    if (!m) return null;
    return parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
  }
  function yuan(f) {
    var sign = f < 0 ? "-" : "";
    f = Math.abs(f);
    return sign + Math.floor(f / 100) + "." + String(f % 100).padStart(2, "0");
  }

  // ---------------------------------------------------------------- online / offline
  function isOffline() { return forcedOffline || !navigator.onLine; }

  function showMode() {
    document.body.classList.toggle("is-offline", isOffline());
    var panel = document.getElementById("offline-panel");
    if (panel) panel.hidden = !isOffline();
    if (isOffline() && !document.getElementById("off-receipt").value) newReceipt();
  }

  function goOnline() {
    forcedOffline = false;
    showMode();
    sync();
  }

  window.addEventListener("online", goOnline);
  window.addEventListener("offline", showMode);
  document.body.addEventListener("htmx:sendError", function () { forcedOffline = true; showMode(); });
  // 502/503/504: the proxy found no server, or the server could not reach its database, cache or
  // broker (portal/views.py answers 503). Like a network cut: sell offline and send later.
  document.body.addEventListener("htmx:responseError", function (e) {
    var status = e.detail && e.detail.xhr ? e.detail.xhr.status : 0;
    if (status === 502 || status === 503 || status === 504) { forcedOffline = true; showMode(); }
  });
  document.body.addEventListener("htmx:afterSwap", remember);

  // ---------------------------------------------------------------- the offline panel
  function $(id) { return document.getElementById(id); }

  function newReceipt() {
    var d = new Date();
    var ymd = String(d.getFullYear()).slice(2) + String(d.getMonth() + 1).padStart(2, "0") + String(d.getDate()).padStart(2, "0");
    var bytes = new Uint8Array(3);
    crypto.getRandomValues(bytes);
    var hex = Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("").toUpperCase();
    $("off-receipt").value = CFG.store + "-" + ymd + "-" + hex;
  }

  function say(text, level) {
    var box = $("off-message");
    box.textContent = text;
    box.className = "msg msg-" + (level || "info");
    box.hidden = !text;
  }

  function localTime(iso) {
    var d = new Date(iso);
    return d.toLocaleString();
  }

  function showMember() {
    var card = $("off-member");
    $("off-points-row").hidden = !(selected && CFG.payments);
    $("off-sv-row").hidden = !(selected && CFG.payments && !selected.has_pin);
    if (!selected) {
      card.innerHTML = "";
      card.appendChild(document.createTextNode(T.no_member));
      card.className = "card muted";
      preview();
      return;
    }
    card.className = "card member-card";
    card.innerHTML = "";
    var h = document.createElement("h2");
    h.textContent = selected.name || selected.member_no;
    h.dataset.testid = "off-member-name";
    var line = document.createElement("div");
    line.className = "muted";
    line.textContent = selected.phone + " · " + selected.member_no + " · " + selected.tier;
    var figures = document.createElement("div");
    var asOf = fmt(T.as_of, {time: localTime(selected.as_of)});
    figures.textContent = T.points + " " + selected.points + " · " + T.stored_value + " ¥" + selected.stored_value + " (" + asOf + ")";
    figures.dataset.testid = "off-member-balances";
    card.appendChild(h);
    card.appendChild(line);
    card.appendChild(figures);
    preview();
  }

  function lookup(q) {
    q = q.trim().toLowerCase();
    return all("members").then(function (rows) {
      return rows.filter(function (m) {
        if (!q) return false;
        var digits = m.phone.replace(/\D/g, "");
        return m.member_no.toLowerCase() === q || (m.name || "").toLowerCase().indexOf(q) !== -1 ||
          (q.length === 4 && digits.slice(-4) === q) || (q.length >= 11 && digits.slice(-4) === q.slice(-4) && digits.slice(0, 3) === q.slice(0, 3));
      });
    });
  }

  function computeSale() {
    // what the till can work out alone: the member discount it saw, points paid, cash due
    var list = fen($("off-amount").value);
    if (list === null || list <= 0) return {error: T.amount_needed};
    var rate = selected ? parseFloat(selected.discount_percent) || 0 : 0;
    var discount = Math.round(list * rate / 100);
    var net = list - discount;
    var paying = selected && CFG.payments;
    var points = paying ? parseInt($("off-points").value || "0", 10) || 0 : 0;
    var svFen = paying && !selected.has_pin && $("off-sv").value ? fen($("off-sv").value) : 0;
    if (svFen === null) return {error: T.amount_needed};
    var pointsFen = 0;
    if (points) {
      if ((points * 100) % CFG.points_per_yuan) return {error: T.points_whole};
      pointsFen = points * 100 / CFG.points_per_yuan;
      if (pointsFen > Math.floor(net * parseFloat(CFG.cap_percent) / 100)) return {error: fmt(T.points_cap, {percent: CFG.cap_percent})};
    }
    if (pointsFen + svFen > fen(CFG.payment_limit)) return {error: fmt(T.points_limit, {limit: CFG.payment_limit})};
    if (pointsFen + svFen > net) return {error: T.payments_exceed};
    return {list: list, discount: discount, net: net, points: points, pointsFen: pointsFen, svFen: svFen,
            cash: net - pointsFen - svFen};
  }

  function preview() {
    var box = $("off-preview");
    if (!$("off-amount").value) { box.innerHTML = ""; return; }
    var s = computeSale();
    box.innerHTML = "";
    if (s.error) {
      var e = document.createElement("div");
      e.className = "error";
      e.textContent = s.error;
      box.appendChild(e);
      return;
    }
    var dl = document.createElement("dl");
    dl.className = "figures";
    [[T.discount, "−¥" + yuan(s.discount)], [T.points_value, s.points + " = ¥" + yuan(s.pointsFen)],
     [T.sv_value, "¥" + yuan(s.svFen)], [T.cash, "¥" + yuan(s.cash), "off-preview-cash"]]
      .forEach(function (row) {
        var div = document.createElement("div");
        var dt = document.createElement("dt");
        var dd = document.createElement("dd");
        dt.textContent = row[0];
        dd.textContent = row[1];
        if (row[2]) dd.dataset.testid = row[2];
        div.appendChild(dt);
        div.appendChild(dd);
        dl.appendChild(div);
      });
    box.appendChild(dl);
    var note = document.createElement("p");
    note.className = "muted";
    note.textContent = T.provisional;
    box.appendChild(note);
  }

  function queueSale(event) {
    event.preventDefault();
    var receipt = $("off-receipt").value.trim();
    if (!receipt) return say(T.receipt_needed, "error");
    var s = computeSale();
    if (s.error) return say(s.error, "error");
    get("sales", receipt).then(function (known) {
      if (known) return say(fmt(T.receipt_used, {receipt: receipt}), "error");
      return queueNewSale(receipt, s);
    });
  }

  function queueNewSale(receipt, s) {
    var body = {receipt_no: receipt, member: selected ? selected.member_no : null, list_amount: yuan(s.list),
                best_price: true, occurred_at: new Date().toISOString()};
    if (s.points) body.pay_points = s.points;
    if (s.svFen) body.pay_stored_value = yuan(s.svFen);
    var item = {kind: "sale", key: crypto.randomUUID(), receipt_no: receipt, body: body, state: "waiting",
                at: body.occurred_at, net_fen: s.net, member_no: body.member};
    put("queue", item).then(function () {
      // a sale of this till, returnable offline before it is sent
      return put("sales", {receipt_no: receipt, sale_id: null, amount_fen: s.net, returned_fen: 0,
                           member_no: body.member, at: body.occurred_at});
    }).then(function () {
      say(fmt(T.queued, {receipt: receipt}), "success");
      $("off-amount").value = "";
      $("off-points").value = "";
      $("off-sv").value = "";
      newReceipt();
      preview();
      refresh();
    });
  }

  function queueReturn(event) {
    event.preventDefault();
    var saleReceipt = $("off-sale-receipt").value.trim();
    var receipt = $("off-return-receipt").value.trim();
    var amount = fen($("off-return-amount").value);
    if (!receipt) return say(T.receipt_needed, "error");
    if (amount === null || amount <= 0) return say(T.amount_needed, "error");
    get("sales", saleReceipt).then(function (sale) {
      if (!sale) return say(fmt(T.unknown_sale, {receipt: saleReceipt}), "error");
      var left = sale.amount_fen - sale.returned_fen;
      if (amount > left) return say(fmt(T.too_much, {left: yuan(left)}), "error");
      sale.returned_fen += amount;
      var item = {kind: "return", key: crypto.randomUUID(), receipt_no: receipt, sale_receipt: saleReceipt,
                  body: {receipt_no: receipt, amount: yuan(amount), occurred_at: new Date().toISOString()},
                  state: "waiting", at: new Date().toISOString()};
      return put("sales", sale).then(function () { return put("queue", item); }).then(function () {
        say(fmt(T.return_queued, {receipt: receipt}), "success");
        $("off-return-receipt").value = "";
        $("off-return-amount").value = "";
        refresh();
      });
    });
  }

  // ---------------------------------------------------------------- the badge and the refused list
  function refresh() {
    return all("queue").then(function (items) {
      var waiting = items.filter(function (i) { return i.state === "waiting"; });
      var refused = items.filter(function (i) { return i.state === "refused"; });
      var badge = $("queue-badge");
      badge.hidden = waiting.length === 0;
      $("queue-count").textContent = fmt(T.waiting, {n: waiting.length});
      var list = $("queue-refused");
      list.hidden = refused.length === 0;
      var ul = list.querySelector("ul");
      ul.innerHTML = "";
      refused.forEach(function (item) {
        var li = document.createElement("li");
        li.dataset.testid = "refused-item";
        var what = document.createElement("strong");
        what.textContent = item.receipt_no + " · " + localTime(item.at) + (item.body.list_amount ? " · ¥" + item.body.list_amount : "") + ": ";
        li.appendChild(what);
        li.appendChild(document.createTextNode(item.error || ""));
        var done = document.createElement("button");
        done.type = "button";
        done.className = "small";
        done.textContent = T.settled;
        done.addEventListener("click", function () { del("queue", item.seq).then(refresh); });
        li.appendChild(document.createTextNode(" "));
        li.appendChild(done);
        ul.appendChild(li);
      });
      return waiting.length;
    });
  }

  // ---------------------------------------------------------------- sending the queue
  function csrf() {
    var m = /(?:^|;\s*)csrftoken=([^;]+)/.exec(document.cookie);
    if (m) return decodeURIComponent(m[1]);
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function send(url, item) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf(),
                "Idempotency-Key": item.key},
      body: JSON.stringify(item.body),
    });
  }

  function refuse(item, message) {
    item.state = "refused";
    item.error = message;
    return put("queue", item);
  }

  function sendOne(item) {
    // → "done", "refused", or "stop" (no network, signed out, throttled, server error: try again later)
    var lookup = item.kind === "return" ? get("sales", item.sale_receipt) : Promise.resolve(null);
    return lookup.then(function (sale) {
      var url = CFG.api_sales;
      if (item.kind === "return") {
        if (!sale) return refuse(item, fmt(T.unknown_sale, {receipt: item.sale_receipt})).then(function () { return "refused"; });
        if (sale.refused) return refuse(item, T.sale_refused).then(function () { return "refused"; });
        if (!sale.sale_id) return "stop";  // its sale waits (earlier in the queue)
        url = CFG.api_sales + sale.sale_id + "/returns/";
      }
      return send(url, item).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          if (response.status === 200 || response.status === 201) return done(item, answer);
          if (response.status === 401 || response.status === 429 || response.status >= 500) return "stop";  // 503: later
          if (response.status === 403 && /CSRF/i.test(JSON.stringify(answer))) return "stop";
          var message = (answer.error && answer.error.message) || String(response.status);
          return markSaleRefused(item).then(function () { return refuse(item, message); }).then(function () { return "refused"; });
        });
      }, function () { return "stop"; });
    });
  }

  function markSaleRefused(item) {
    if (item.kind !== "sale") return Promise.resolve();
    return db().then(function (d) {
      return new Promise(function (resolve) {
        var store = d.transaction("sales", "readwrite").objectStore("sales");
        var req = store.get(item.receipt_no);
        req.onsuccess = function () {
          if (req.result) { req.result.refused = true; store.put(req.result); }
          resolve();
        };
      });
    });
  }

  function done(item, answer) {
    var work = [del("queue", item.seq)];
    if (item.kind === "sale") {
      work.push(db().then(function (d) {
        return new Promise(function (resolve) {
          var store = d.transaction("sales", "readwrite").objectStore("sales");
          var req = store.get(item.receipt_no);
          req.onsuccess = function () {
            var sale = req.result || {receipt_no: item.receipt_no, returned_fen: 0, member_no: item.member_no, at: item.at};
            sale.sale_id = answer.sale_id;
            sale.amount_fen = fen(answer.amount);
            store.put(sale);
            resolve();
          };
        });
      }));
      if (item.member_no && answer.points_balance !== undefined && answer.points_balance !== null) {
        work.push(db().then(function (d) {
          return new Promise(function (resolve) {
            var store = d.transaction("members", "readwrite").objectStore("members");
            var req = store.get(item.member_no);
            req.onsuccess = function () {
              if (req.result) {
                req.result.points = answer.points_balance;
                req.result.as_of = new Date().toISOString();
                store.put(req.result);
              }
              resolve();
            };
          });
        }));
      }
    }
    return Promise.all(work).then(function () { return "done"; });
  }

  function sync() {
    if (syncing || isOffline()) return Promise.resolve();
    syncing = true;
    var sent = 0;
    function next() {
      return all("queue").then(function (items) {
        var waiting = items.filter(function (i) { return i.state === "waiting"; }).sort(function (a, b) { return a.seq - b.seq; });
        if (!waiting.length) return "empty";
        return sendOne(waiting[0]).then(function (outcome) {
          return refresh().then(function () {
            if (outcome === "stop") return "stop";
            sent += 1;
            return next();
          });
        });
      });
    }
    return next().then(function (end) {
      syncing = false;
      if (end === "empty" && sent) say(T.sent, "success");
      return refresh();
    }, function () { syncing = false; });
  }

  // ---------------------------------------------------------------- wiring
  function init() {
    remember();
    showMode();
    showMember();
    refresh().then(sync);
    setInterval(function () { if (!isOffline()) sync(); }, 10000);
    $("off-lookup").addEventListener("submit", function (event) {
      event.preventDefault();
      lookup($("off-q").value).then(function (found) {
        var list = $("off-matches");
        list.innerHTML = "";
        if (!found.length) { say(T.no_match, "warning"); selected = null; showMember(); return; }
        say("", "info");
        if (found.length === 1) { selected = found[0]; showMember(); return; }
        found.forEach(function (m) {
          var b = document.createElement("button");
          b.type = "button";
          b.textContent = (m.name || m.member_no) + " · " + m.phone + " · " + m.tier;
          b.addEventListener("click", function () { selected = m; list.innerHTML = ""; showMember(); });
          list.appendChild(b);
        });
      });
    });
    $("off-clear").addEventListener("click", function () { selected = null; $("off-q").value = ""; showMember(); });
    $("off-sale").addEventListener("submit", queueSale);
    $("off-sale").addEventListener("input", preview);
    $("off-return").addEventListener("submit", queueReturn);
    $("queue-send").addEventListener("click", function () { forcedOffline = false; showMode(); sync(); });
    var signOut = document.querySelector('form[action$="/logout/"]');
    if (signOut) signOut.addEventListener("submit", function () {
      // members' copies are personal data: a signed-out till keeps none (the queue stays: the store's sales)
      tx("members", "readwrite", function (s) { s.clear(); });
      if (navigator.serviceWorker && navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage("forget-page");
    });
    if ("serviceWorker" in navigator) navigator.serviceWorker.register(CFG.worker, {scope: CFG.scope}).catch(function () {});
  }

  window.counterOffline = {sync: sync, refresh: refresh};  // for the tests and the console
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
