/* Verification portal. Plain JavaScript, no build step, no external requests.
 * Files are hashed here, in the browser; only the 32-byte hash is ever sent to the API. */
(function () {
  "use strict";

  var CHUNK = 4 * 1024 * 1024;                  // File.slice chunk size
  var settings = { webCryptoMax: 256 * 1024 * 1024 };  // above this SHA-256 is streamed through sha256.js
  var LANG_KEY = "ipledger.portal.lang";

  var lang = initialLanguage();
  var partyCache = {};
  var lastLookup = null;  // re-rendered on language change
  var lastVerify = null;
  var lastTitle = null;
  var lastParty = null;
  var lookupSeq = 0;      // a newer lookup wins over a slower older one

  function $(id) { return document.getElementById(id); }

  // --- language ---------------------------------------------------------------------------

  function initialLanguage() {
    var saved = null;
    try { saved = localStorage.getItem(LANG_KEY); } catch (e) { /* storage disabled */ }
    if (saved === "en" || saved === "zh-Hans") return saved;
    var nav = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
    return /^zh/i.test(nav) ? "zh-Hans" : "en";
  }

  function t(key, args) {
    var s = (window.I18N[lang] && window.I18N[lang][key]) || window.I18N.en[key] || key;
    if (args) s = s.replace(/\{(\w+)\}/g, function (m, k) { return k in args ? String(args[k]) : m; });
    return s;
  }

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.title = t("title");
    var nodes = document.querySelectorAll("[data-i18n]");
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = t(nodes[i].getAttribute("data-i18n"));
    $("lang-toggle").setAttribute("aria-label", lang === "en" ? "切换到中文" : "Switch to English");
    if (lastLookup) renderLookup(lastLookup);
    if (lastVerify) renderVerify(lastVerify);
    if (lastTitle) renderTitle(lastTitle);
    if (lastParty) renderParty(lastParty);
  }

  function toggleLanguage() {
    lang = lang === "en" ? "zh-Hans" : "en";
    try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* storage disabled */ }
    applyLanguage();
  }

  // --- helpers ----------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (attrs[k] === null || attrs[k] === undefined) continue;
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function hex(bytes) { return window.SM3.toHex(bytes); }

  function fmtLocal(ts) {
    return new Date(ts * 1000).toLocaleString(lang === "en" ? "en-GB" : "zh-CN", { timeZoneName: "short" });
  }
  function fmtUtc(ts) { return new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC"; }

  function errorMessage(body, status) {
    if (body && body.error && body.error.message) return body.error.message;
    return "HTTP " + status;
  }

  function api(method, path, body) {
    var init = { method: method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (data) {
        return { ok: resp.ok, status: resp.status, body: data };
      });
    }, function () {
      return { ok: false, status: 0, body: { error: { message: t("error.network") } } };
    });
  }

  function party(id) {
    if (id === null || id === undefined) return Promise.resolve(null);
    if (!partyCache[id]) {
      partyCache[id] = api("GET", "/v1/parties/" + id).then(function (r) { return r.ok ? r.body : null; });
    }
    return partyCache[id];
  }

  function partyName(p, id) {
    if (!p) return "#" + id;
    // a natural person is shown by number, never by name (docs/privacy.md)
    if (p.naturalPerson) return (lang === "en" ? p.naturalPerson.en : p.naturalPerson.zh) + " (#" + p.partyId + ")";
    var names = lang === "en" ? [p.nameEn, p.nameZh] : [p.nameZh, p.nameEn];
    return names.filter(Boolean).join(" / ") + " (#" + p.partyId + ")";
  }

  // --- hashing ----------------------------------------------------------------------------

  /** Hash a File with "sha256" or "sm3", reading it in chunks. onProgress(fraction). Resolves to hex. */
  function hashFile(file, algorithm, onProgress) {
    onProgress = onProgress || function () {};
    var subtle = window.crypto && window.crypto.subtle;
    if (algorithm === "sha256" && subtle && file.size <= settings.webCryptoMax) {
      // WebCrypto digests a whole buffer; the file is read in chunks into one buffer first.
      var buf = new Uint8Array(file.size);
      return readChunks(file, function (chunk, offset) { buf.set(chunk, offset); }, onProgress).then(function () {
        return subtle.digest("SHA-256", buf);
      }).then(function (d) { onProgress(1); return hex(new Uint8Array(d)); });
    }
    var hasher = algorithm === "sm3" ? new window.SM3() : new window.SHA256();
    return readChunks(file, function (chunk) { hasher.update(chunk); }, onProgress).then(function () {
      onProgress(1);
      return hex(hasher.digest());
    });
  }

  function readChunks(file, consume, onProgress) {
    var offset = 0;
    function next() {
      if (offset >= file.size) return Promise.resolve();
      var end = Math.min(offset + CHUNK, file.size);
      return file.slice(offset, end).arrayBuffer().then(function (ab) {
        consume(new Uint8Array(ab), offset);
        offset = end;
        onProgress(offset / (file.size || 1));
        return next();
      });
    }
    return next();
  }

  // --- look up a file ---------------------------------------------------------------------

  function normaliseHash(text) {
    var s = String(text || "").trim().toLowerCase();
    if (s.indexOf("0x") === 0) s = s.slice(2);
    return /^[0-9a-f]{64}$/.test(s) ? s : null;
  }

  function lookupFile(file) {
    if (!file) return;
    var seq = ++lookupSeq;
    var alg = $("algorithm").value;
    var label = alg === "sm3" ? "SM3" : "SHA-256";
    var bar = $("progress-bar"), text = $("progress-text");
    $("progress").hidden = false;
    clear($("lookup-result"));
    lastLookup = null;
    function progress(f) {
      if (seq !== lookupSeq) return;
      var pct = Math.floor(f * 100);
      bar.style.width = pct + "%";
      text.textContent = t("lookup.hashing", { alg: label, pct: pct });
    }
    progress(0);
    return hashFile(file, alg, progress).then(function (digest) {
      if (seq !== lookupSeq) return null;
      $("progress").hidden = true;
      $("hash-input").value = "0x" + digest;
      return lookupHash(digest, { name: file.name, size: file.size }, seq);
    }, function (err) {
      if (seq !== lookupSeq) return null;
      $("progress").hidden = true;
      lastLookup = { hash: "", file: { name: file.name, size: file.size }, status: 0,
        body: { error: { message: String(err && err.message || err) } } };
      renderLookup(lastLookup);
      return null;
    });
  }

  function lookupHash(digest, file, seq) {
    if (seq === undefined) seq = ++lookupSeq;
    $("progress").hidden = true;
    var result = $("lookup-result");
    result.setAttribute("data-state", "loading");
    return api("GET", "/v1/evidence/0x" + digest).then(function (r) {
      if (seq !== lookupSeq) return null;
      var state = { hash: "0x" + digest, file: file, status: r.status, body: r.body, party: null };
      if (!r.ok) { lastLookup = state; renderLookup(state); return state; }
      return party(r.body.partyId).then(function (p) {
        if (seq !== lookupSeq) return null;
        state.party = p;
        lastLookup = state;
        renderLookup(state);
        return state;
      });
    });
  }

  function row(key, value, cls) {
    return el("tr", { "data-field": key }, [el("th", { text: t("field." + key) }), el("td", { class: cls || null }, [value])]);
  }

  function renderLookup(s) {
    var out = clear($("lookup-result"));
    var head = [];
    if (s.file) head.push(el("div", { class: "meta" }, [t("lookup.file") + ": " + s.file.name + " (" + s.file.size + " B)"]));
    if (s.hash) head.push(el("div", { class: "meta mono" }, [t("lookup.hash") + ": " + s.hash]));
    head.forEach(function (n) { out.appendChild(n); });
    if (s.status === 404) {
      out.setAttribute("data-state", "not-registered");
      out.appendChild(el("p", { id: "lookup-status", class: "badge bad", text: t("lookup.notRegistered") }));
      out.appendChild(el("p", { class: "hint", text: t("lookup.notRegisteredHint") }));
      return;
    }
    if (!s.body || s.status === 0 || s.status >= 400) {
      out.setAttribute("data-state", "error");
      out.appendChild(el("p", { id: "lookup-status", class: "badge bad", text: errorMessage(s.body, s.status) }));
      return;
    }
    var r = s.body;
    var onChain = r.status === "registered" || r.status === "final";
    var badge = onChain ? t("lookup.registered") : r.status === "rejected" ? t("lookup.rejected") : t("lookup.pending");
    out.setAttribute("data-state", onChain ? "registered" : r.status);
    out.appendChild(el("p", { id: "lookup-status", class: "badge " + (onChain ? "good" : "warn"), text: badge }));
    var rows = [row("status", t("status." + r.status))];
    if (r.blockTimestamp) {
      rows.push(row("timeLocal", fmtLocal(r.blockTimestamp)));
      rows.push(row("timeUtc", fmtUtc(r.blockTimestamp)));
    }
    rows.push(row("party", partyName(s.party, r.partyId)));
    rows.push(row("registrant", r.registrant, "mono"));
    rows.push(row("method", t("method." + r.method) + (r.method === "batch" && r.submissionIndex !== undefined
      ? " · #" + r.submissionIndex + " / " + r.submissionSize : "")));
    rows.push(row("algorithm", r.algorithm === "sm3" ? "SM3" : "SHA-256"));
    if (r.transactionHash) rows.push(row("transaction", r.transactionHash, "mono"));
    if (r.blockNumber !== null && r.blockNumber !== undefined) rows.push(row("block", String(r.blockNumber)));
    if (r.supersedes && !/^0x0+$/.test(r.supersedes)) rows.push(row("supersedes", r.supersedes, "mono"));
    // every party's registration of the content, earliest first: the record above is the first
    var regs = r.registrations || [];
    if (regs.length && regs[0].blockNumber !== null && regs[0].blockNumber !== undefined) {
      rows.push(row("first", t("lookup.firstBy", { party: regs[0].partyId, block: regs[0].blockNumber,
        time: fmtUtc(regs[0].blockTimestamp) })));
    }
    if (regs.length) {
      var others = regs.slice(1).map(function (o) {
        return t("lookup.otherBy", { party: o.partyId, block: o.blockNumber === null ? "–" : o.blockNumber });
      }).join(", ") || t("lookup.noOthers");
      if ((r.registrationCount || 0) > regs.length) others += " " + t("lookup.moreOthers", { count: r.registrationCount });
      rows.push(row("others", others));
    }
    out.appendChild(el("table", { class: "record" }, [el("tbody", null, rows)]));
    if (onChain) {
      var base = "/v1/evidence/" + s.hash + "/certificate";
      var short = s.hash.slice(2, 18);
      out.appendChild(el("p", { class: "actions" }, [
        el("a", { id: "cert-json", class: "button", href: base + "?format=json", download: "certificate-" + short + ".json", text: t("cert.json") }),
        el("a", { id: "cert-pdf", class: "button", href: base + "?format=pdf", download: "certificate-" + short + ".pdf", text: t("cert.pdf") }),
      ]));
    }
  }

  // --- verify a certificate ---------------------------------------------------------------

  function readText(file) { return file.text ? file.text() : new Response(file).text(); }

  function verifyCertificate() {
    var out = $("verify-result");
    var text = $("cert-text").value.trim();
    lastVerify = null;
    if (!text) { renderVerify({ error: "verify.empty" }); return Promise.resolve(); }
    var doc;
    try { doc = JSON.parse(text); } catch (e) { renderVerify({ error: "verify.badJson" }); return Promise.resolve(); }
    out.setAttribute("data-state", "loading");
    var original = $("orig-file").files[0];
    var alg = doc && doc.evidence && doc.evidence.algorithm === "sm3" ? "sm3" : "sha256";
    var hashed = original ? hashFile(original, alg) : Promise.resolve(null);
    return hashed.then(function (fileHash) {
      var body = { certificate: doc };
      if (fileHash) body.fileHash = "0x" + fileHash;
      return api("POST", "/v1/verify", body);
    }).then(function (r) {
      lastVerify = r.ok ? { report: r.body } : { message: errorMessage(r.body, r.status) };
      renderVerify(lastVerify);
    }, function (err) {
      lastVerify = { message: String(err && err.message || err) };
      renderVerify(lastVerify);
    });
  }

  function renderVerify(s) {
    var out = clear($("verify-result"));
    if (s.error || s.message) {
      out.setAttribute("data-state", "error");
      out.appendChild(el("p", { class: "badge bad", id: "verdict", text: s.error ? t(s.error) : s.message }));
      return;
    }
    var rep = s.report, passed = rep.verdict === "passed";
    out.setAttribute("data-state", rep.verdict);
    out.appendChild(el("p", { id: "verdict", class: "badge " + (passed ? "good" : "bad"), "data-verdict": rep.verdict,
      text: passed ? t("verify.passed") : t("verify.failed") }));
    var failed = rep.checks.filter(function (c) { return c.status === "failed"; }).map(function (c) { return c.name; });
    if (failed.length) out.appendChild(el("p", { id: "failed-checks", text: t("verify.failedChecks", { names: failed.join(", ") }) }));
    out.appendChild(el("ul", { class: "checks" }, rep.checks.map(function (c) {
      return el("li", { class: "check " + c.status, "data-name": c.name, "data-status": c.status }, [
        el("span", { class: "mark", text: c.status === "passed" ? "✓" : c.status === "failed" ? "✗" : "–" }),
        el("strong", { text: c.name }), " ",
        el("span", { class: "status", text: t("check." + c.status) }),
        c.detail ? el("div", { class: "detail", text: c.detail }) : null,
      ]);
    })));
  }

  // --- chain of title ---------------------------------------------------------------------

  function showTitle() {
    var id = parseInt($("asset-id").value, 10);
    if (!(id >= 1)) return Promise.resolve();
    var atText = $("asset-at").value;
    var path = "/v1/assets/" + id + "/title";
    if (atText) path += "?at=" + Math.floor(new Date(atText).getTime() / 1000);
    $("title-result").setAttribute("data-state", "loading");
    return api("GET", path).then(function (r) {
      if (!r.ok) { lastTitle = { message: errorMessage(r.body, r.status) }; renderTitle(lastTitle); return; }
      var ids = {};
      (r.body.owners || []).forEach(function (o) { ids[o.partyId] = 1; });
      (r.body.history || []).forEach(function (e) { (e.owners || []).forEach(function (o) { ids[o.partyId] = 1; }); });
      (r.body.licences || []).forEach(function (l) { ids[l.licensee] = 1; });
      (r.body.pledges || []).forEach(function (p) { ids[p.pledgee] = 1; });
      (r.body.history || []).forEach(function (e) {
        if (e.verifierPartyId) ids[e.verifierPartyId] = 1;
        (e.formerOwners || []).forEach(function (p) { ids[p] = 1; });
      });
      var keys = Object.keys(ids);
      return Promise.all(keys.map(function (k) { return party(k); })).then(function (ps) {
        var parties = {};
        keys.forEach(function (k, i) { parties[k] = ps[i]; });
        lastTitle = { title: r.body, parties: parties, explicitAt: !!atText };
        renderTitle(lastTitle);
      });
    });
  }

  function ownerList(owners, parties) {
    if (!owners || !owners.length) return el("p", { text: t("title.none") });
    return el("ul", { class: "owners" }, owners.map(function (o) {
      return el("li", null, [partyName(parties[o.partyId], o.partyId) + " — " + t("title.share", { pct: (o.share / 100).toFixed(2) })]);
    }));
  }

  function renderTitle(s) {
    var out = clear($("title-result"));
    if (s.message) {
      out.setAttribute("data-state", "error");
      out.appendChild(el("p", { class: "badge bad", text: s.message }));
      return;
    }
    var ti = s.title, parties = s.parties;
    out.setAttribute("data-state", "shown");
    if (ti.status) {
      // a claim nobody has confirmed is marked before anything else: it cannot be dealt in
      out.appendChild(el("p", { id: "asset-status", class: "badge " + (ti.status === "confirmed" ? "good" : "bad"),
        "data-status": ti.status, text: t("title.status." + ti.status) }));
    }
    out.appendChild(el("h3", { text: s.explicitAt ? t("title.ownersAt", { time: fmtLocal(ti.at) }) : t("title.ownersNow") }));
    if (ti.ownersSince) out.appendChild(el("p", { class: "meta", text: t("title.since", { time: fmtLocal(ti.ownersSince) }) }));
    out.appendChild(ownerList(ti.owners, parties));
    out.appendChild(el("h3", { text: t("title.licences") }));
    out.appendChild(ti.licences.length ? el("ul", null, ti.licences.map(function (l) {
      return el("li", null, [partyName(parties[l.licensee], l.licensee) + " · " + l.licenceType + " · " + fmtUtc(l.start).slice(0, 10) + " → " + fmtUtc(l.end).slice(0, 10)]);
    })) : el("p", { text: t("title.none") }));
    out.appendChild(el("h3", { text: t("title.pledges") }));
    out.appendChild(ti.pledges.length ? el("ul", null, ti.pledges.map(function (p) {
      return el("li", null, [partyName(parties[p.pledgee], p.pledgee) + " · " + fmtUtc(p.start).slice(0, 10) + " → " + fmtUtc(p.end).slice(0, 10)]);
    })) : el("p", { text: t("title.none") }));
    out.appendChild(el("h3", { text: t("title.history") }));
    out.appendChild(el("ol", { class: "timeline" }, ti.history.map(function (e) {
      var kids = [
        el("time", { datetime: new Date(e.time * 1000).toISOString(), text: fmtLocal(e.time) + " · " + fmtUtc(e.time) }),
        el("div", { class: "event", text: t("event." + e.event) + (e.kind ? " (" + t("kind." + e.kind) + ")" : "") }),
      ];
      if (e.owners) kids.push(ownerList(e.owners, parties));
      if (e.verifierPartyId) kids.push(el("div", { text: t("title.verifier", { party: partyName(parties[e.verifierPartyId], e.verifierPartyId) }) }));
      if (e.formerOwners) kids.push(el("div", { text: t("title.formerOwners", { parties: e.formerOwners.map(function (p) { return partyName(parties[p], p); }).join(", ") }) }));
      if (e.agreementId) kids.push(el("div", { class: "mono small", text: "agreement " + e.agreementId }));
      if (e.disputeId) kids.push(el("div", { class: "mono small", text: "dispute " + e.disputeId }));
      kids.push(el("div", { class: "mono small", text: "block " + e.block + " · tx " + e.transactionHash }));
      return el("li", { "data-event": e.event }, kids);
    })));
  }

  // --- a party: its status (a registrar's suspension lapses unless confirmed), recovery, history ---------

  function showParty() {
    var id = parseInt($("party-id").value, 10);
    if (!(id >= 1)) return Promise.resolve();
    $("party-result").setAttribute("data-state", "loading");
    return api("GET", "/v1/parties/" + id).then(function (r) {
      lastParty = r.ok ? { party: r.body } : { message: errorMessage(r.body, r.status) };
      if (r.ok) partyCache[id] = Promise.resolve(r.body);
      renderParty(lastParty);
    });
  }

  function partyEventText(e) {
    return t("partyEvent." + e.event, {
      account: e.account || "", newAccount: e.newAccount || "", action: e.action || "", nonce: e.nonce,
      threshold: e.threshold, time: e.executableAt ? fmtLocal(e.executableAt) : "",
    });
  }

  function renderParty(s) {
    var out = clear($("party-result"));
    if (s.message) {
      out.setAttribute("data-state", "error");
      out.appendChild(el("p", { class: "badge bad", text: s.message }));
      return;
    }
    var p = s.party;
    var state = p.suspensionState || "none";
    out.setAttribute("data-state", "shown");
    out.appendChild(el("h3", { text: partyName(p, p.partyId) }));
    var suspendedNow = state === "provisional" || state === "confirmed";
    out.appendChild(el("p", { id: "party-status", class: "badge " + (suspendedNow ? "bad" : state === "none" ? "good" : "warn"),
      "data-suspension": state,
      text: t("party.state." + state, { time: p.suspensionLapsesAt ? fmtLocal(p.suspensionLapsesAt) : "" }) }));
    var rows = [
      el("tr", null, [el("th", { text: t("party.kind") }), el("td", { text: t("partyKind." + p.kind) })]),
      el("tr", null, [el("th", { text: t("party.identifier") }), el("td", { text: p.identifierScheme.toUpperCase() + " " + p.identifier })]),
      el("tr", null, [el("th", { text: t("party.accounts", { n: p.threshold }) }), el("td", { class: "mono" }, (p.accounts || []).map(function (a) {
        return el("div", { text: a });
      }))]),
    ];
    out.appendChild(el("table", { class: "record" }, [el("tbody", null, rows)]));
    if (p.pendingRecovery) {
      out.appendChild(el("h3", { text: t("party.recovery") }));
      out.appendChild(el("p", { id: "party-recovery", class: "badge warn", text: t("party.recoveryText", {
        account: p.pendingRecovery.newAccount, time: fmtLocal(p.pendingRecovery.executableAt) }) }));
    }
    var history = p.history || [];
    out.appendChild(el("h3", { text: t("party.history") }));
    if (!history.length) { out.appendChild(el("p", { class: "hint", text: p.historyNote || t("party.historyNone") })); return; }
    if (p.historyTotal > history.length) {
      out.appendChild(el("p", { class: "meta", text: t("party.historyMore", { shown: history.length, total: p.historyTotal }) }));
    }
    out.appendChild(el("ol", { class: "timeline", id: "party-history" }, history.map(function (e) {
      var kids = [
        el("time", { datetime: new Date(e.time * 1000).toISOString(), text: fmtLocal(e.time) + " · " + fmtUtc(e.time) }),
        el("div", { class: "event", text: partyEventText(e) }),
      ];
      if (e.block !== null && e.block !== undefined) {
        kids.push(el("div", { class: "mono small", text: "block " + e.block + " · tx " + e.transactionHash }));
      }
      return el("li", { "data-event": e.event }, kids);
    })));
  }

  // --- wiring -----------------------------------------------------------------------------

  function init() {
    applyLanguage();
    $("lang-toggle").addEventListener("click", toggleLanguage);
    var input = $("file-input"), drop = $("drop");
    input.addEventListener("change", function () { lookupFile(input.files[0]); });
    drop.addEventListener("dragover", function (ev) { ev.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (ev) {
      ev.preventDefault();
      drop.classList.remove("over");
      if (ev.dataTransfer && ev.dataTransfer.files.length) lookupFile(ev.dataTransfer.files[0]);
    });
    drop.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); input.click(); } });
    $("algorithm").addEventListener("change", function () { if (input.files[0]) lookupFile(input.files[0]); });
    function byHash() {
      var hx = normaliseHash($("hash-input").value);
      if (hx) lookupHash(hx, null);
    }
    $("hash-button").addEventListener("click", byHash);
    $("hash-input").addEventListener("keydown", function (ev) { if (ev.key === "Enter") byHash(); });
    $("cert-file").addEventListener("change", function () {
      var f = $("cert-file").files[0];
      if (f) readText(f).then(function (txt) { $("cert-text").value = txt; });
    });
    $("verify-button").addEventListener("click", verifyCertificate);
    $("title-button").addEventListener("click", showTitle);
    $("asset-id").addEventListener("keydown", function (ev) { if (ev.key === "Enter") showTitle(); });
    $("party-button").addEventListener("click", showParty);
    $("party-id").addEventListener("keydown", function (ev) { if (ev.key === "Enter") showParty(); });

    var q = new URLSearchParams(location.search);
    var qh = normaliseHash(q.get("hash"));
    if (qh) { $("hash-input").value = "0x" + qh; lookupHash(qh, null); }
    if (q.get("asset")) { $("asset-id").value = q.get("asset"); showTitle(); }
    if (q.get("party")) { $("party-id").value = q.get("party"); showParty(); }
  }

  // Exposed for tests and for the console.
  window.Portal = { hashFile: hashFile, settings: settings, t: t, language: function () { return lang; } };
  init();
})();
