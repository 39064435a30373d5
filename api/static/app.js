/* Verification portal. Plain JavaScript, no build step, no external requests.
 * Files are hashed here, in the browser; only the 32-byte hash is ever sent to the API. */
(function () {
  "use strict";

  var CHUNK = 4 * 1024 * 1024;                  // File.slice chunk size
  var TIMESTAMP_FORMAT = "qianhai-ip-ledger/timestamp-certificate";  // docs/tsa.md §7
  var settings = { webCryptoMax: 256 * 1024 * 1024 };  // above this SHA-256 is streamed through sha256.js
  var LANG_KEY = "ipledger.portal.lang";

  var lang = initialLanguage();
  var partyCache = {};
  var lastLookup = null;  // re-rendered on language change
  var lastVerify = null;
  var lastTitle = null;
  var lastParty = null;
  var lastAgreement = null;
  var lastMine = null;
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
    if (lastAgreement) renderAgreement(lastAgreement);
    if (lastMine) renderMine(lastMine);
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
  /** YYYY-MM-DD HH:MM:SS in Beijing time (Asia/Shanghai, UTC+8 all year: no daylight saving since 1991). */
  function fmtSh(ts) { return new Date((ts + 8 * 3600) * 1000).toISOString().replace("T", " ").slice(0, 19); }
  function fmtShDate(ts) { return fmtSh(ts).slice(0, 10); }

  /** A byte count in binary units with the exact count: "195.3 KiB (200,000 bytes)" / "195.3 KiB（200,000 字节）". */
  function fmtBytes(n) {
    var exact = Number(n).toLocaleString("en-US");
    if (n < 1024) return t("size.bytes", { n: exact });
    var units = ["KiB", "MiB", "GiB", "TiB"], v = n / 1024, i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return t("size.human", { h: (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i], n: exact });
  }

  /** A party by its name in the interface's language (the other one if it has none) and its number. */
  function partyLabel(p, id) {
    var n = t("partyN", { id: id });
    if (!p) return n;
    var name = (lang === "en" ? p.nameEn || p.nameZh : p.nameZh || p.nameEn) || "";
    if (!name) return n;
    return lang === "en" ? name + " (" + n + ")" : name + "（" + n + "）";
  }

  function checkName(id) { return (window.I18N_CHECKS[lang] || {})[id] || (window.I18N_CHECKS.en[id]) || id; }

  var SIZE = "\u0000size\u0000";

  /** The verifier's English detail in the interface's language (see I18N_DETAILS); ctx.size is the byte count
   * of the file hashed in this page, which the server does not know (only the hash is sent). */
  function translateDetail(detail, ctx) {
    if (!detail) return "";
    ctx = ctx || {};
    var whole = translatePiece(detail, ctx, true);
    if (whole !== null) return whole;
    return detail.split("; ").map(function (piece) { return translatePiece(piece, ctx); }).join(lang === "en" ? "; " : "；");
  }

  /** One detail (or one "; "-separated piece of it); with onlyIfKnown, null when no pattern matches. */
  function translatePiece(piece, ctx, onlyIfKnown) {
    var text = piece.replace(/ \((\d[\d,]*) bytes\)/, function (m, n) {
      ctx = Object.assign({}, ctx, { size: ctx.size !== undefined && ctx.size !== null ? ctx.size : parseInt(n.replace(/,/g, ""), 10) });
      return " (" + SIZE + ")";
    });
    var suffix = "";
    var note = / \(checked at the latest block: [^)]*\)$/.exec(text);
    if (note && note.index > 0) { suffix = translatePiece(note[0], ctx); text = text.slice(0, note.index); }
    var table = window.I18N_DETAILS;
    for (var i = 0; i < table.length; i++) {
      var m = table[i][0].exec(text);
      if (!m) continue;
      var tmpl = lang === "en" ? table[i][2] : table[i][1];
      if (!tmpl) return piece;  // English as the verifier wrote it
      var out = tmpl.replace(/\{([tn]?)(\d)\}/g, function (all, f, k) {
        var g = m[+k];
        if (g === SIZE || (g === undefined && ctx.size !== undefined && ctx.size !== null && /file/.test(text))) return fmtBytes(ctx.size);
        if (g === undefined) return "";
        if (f === "t") return fmtSh(parseInt(g, 10)) + (lang === "en" ? " (Asia/Shanghai)" : "（北京时间）");
        if (f === "n") return t("partyN", { id: g });
        return g;
      });
      return out.replace("文件（）", "文件").replace(" ()", "") + suffix;
    }
    return onlyIfKnown ? null : piece;
  }

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
    if (algorithm === "sha512") {
      // only a time-stamp token's imprint is SHA-512: WebCrypto, up to its limit (above it the file is not hashed
      // and the verifier says the imprint was not checked)
      if (!subtle || file.size > settings.webCryptoMax) return Promise.resolve(null);
      var whole = new Uint8Array(file.size);
      return readChunks(file, function (chunk, offset) { whole.set(chunk, offset); }, onProgress).then(function () {
        return subtle.digest("SHA-512", whole);
      }).then(function (d) { onProgress(1); return hex(new Uint8Array(d)); });
    }
    if (algorithm !== "sm3") algorithm = "sha256";
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
    if (s.file) head.push(el("div", { class: "meta" }, [t("lookup.fileLine", { name: s.file.name, size: fmtBytes(s.file.size) })]));
    if (s.hash) head.push(el("div", { class: "meta mono" }, [t("lookup.hash") + (lang === "en" ? ": " : "：") + s.hash]));
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
    if (r.blockTimestamp) {
      out.appendChild(el("p", { id: "lookup-headline", class: "headline", text: t("headline.registered", {
        time: fmtSh(r.blockTimestamp), party: partyLabel(s.party, r.partyId) }) }));
    }
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
    if (doc && doc.format === "qianhai-ip-ledger/agreement-certificate") alg = "sha256";  // the signed document hash
    if (doc && doc.format === TIMESTAMP_FORMAT) alg = ((doc.timeStamp || {}).imprint || {}).algorithm;  // the token's
    var hashed = original ? hashFile(original, alg) : Promise.resolve(null);
    return hashed.then(function (fileHash) {
      var body = { certificate: doc };
      if (fileHash) body.fileHash = "0x" + fileHash;
      return api("POST", "/v1/verify", body);
    }).then(function (r) {
      lastVerify = r.ok ? { report: r.body, doc: doc, fileSize: original ? original.size : null }
        : { message: errorMessage(r.body, r.status) };
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
    var rep = s.report, passed = rep.verdict === "passed", doc = s.doc || {};
    out.setAttribute("data-state", rep.verdict);
    out.appendChild(el("p", { id: "verdict", class: "badge " + (passed ? "good" : "bad"), "data-verdict": rep.verdict,
      text: passed ? t("verify.authentic") : t("verify.notAuthentic") }));
    var headline = verifyHeadline(doc);
    if (headline) out.appendChild(el("p", { id: "verify-headline", class: "headline", text: headline }));
    if (rep.status) out.appendChild(legalStatus(rep.status));
    if (passed && rep.assurance && rep.assurance.level !== "none") out.appendChild(assurance(rep.assurance));
    var failed = rep.checks.filter(function (c) { return c.status === "failed"; }).map(function (c) { return checkName(c.name); });
    if (failed.length) out.appendChild(el("p", { id: "failed-checks", text: t("verify.failedChecks", { names: failed.join(lang === "en" ? ", " : "、") }) }));
    var ctx = { size: s.fileSize };
    out.appendChild(el("ul", { class: "checks" }, rep.checks.map(function (c) {
      return el("li", { class: "check " + c.status, "data-name": c.name, "data-status": c.status }, [
        el("span", { class: "mark", text: c.status === "passed" ? "✓" : c.status === "failed" ? "✗" : "–" }),
        el("strong", { text: checkName(c.name) }), " ",
        el("span", { class: "status", text: t("check." + c.status) }),
        c.detail ? el("div", { class: "detail", text: translateDetail(c.detail, ctx) }) : null,
      ]);
    })));
  }

  /** How far a verified evidence certificate reaches: the consortium chain alone, or a checkpoint on public chains. */
  function assurance(a) {
    var pub = a.level === "public";
    var chains = (a.anchors || []).map(function (x) {
      return t("assurance.publicChain", { id: x.chainId, block: x.blockNumber, k: x.confirmations });
    }).join(lang === "en" ? "; " : "；");
    return el("p", { id: "assurance", class: "badge " + (pub ? "good" : "warn"), "data-level": a.level,
      text: t(pub ? "assurance.public" : "assurance.consortium", { chains: chains }) });
  }

  /** "Registered at … by …" for an evidence certificate, "Put into effect at … by …" for an agreement's. */
  function verifyHeadline(doc) {
    if (doc.format === TIMESTAMP_FORMAT) {
      var ts = doc.timeStamp || {};
      return typeof ts.genTime === "number" ? t("headline.timestamped", { time: fmtSh(ts.genTime) }) : null;
    }
    var an = doc.anchor || {};
    if (typeof an.blockTimestamp !== "number") return null;
    if (doc.registrant && doc.registrant.partyId) {
      return t("headline.registered", { time: fmtSh(an.blockTimestamp), party: partyLabel(doc.registrant, doc.registrant.partyId) });
    }
    if (Array.isArray(doc.parties) && doc.parties.length) {
      return t("headline.executed", { time: fmtSh(an.blockTimestamp),
        parties: doc.parties.map(function (p) { return partyLabel(p, p.partyId); }).join(t("headline.and")) });
    }
    return null;
  }

  /** The legal status the verifier reports apart from authenticity: in force, expired, voided… */
  function legalText(st) {
    var args = { since: st.since ? fmtSh(st.since) : "", until: st.until ? fmtSh(st.until) : "", dispute: st.disputeId || "" };
    if (st.state === "in_force" && st.until) return t("legal.in_force.until", args);
    if (st.state === "voided" && st.disputeId) return t("legal.voided.dispute", args);
    var key = "legal." + st.state;
    return window.I18N.en[key] ? t(key, args) : st.detail;
  }

  function legalStatus(st) {
    var head = t("verify.statusNow");
    return el("p", { id: "legal-status", class: "badge " + (st.inForce ? "good" : "warn"), "data-state": st.state,
      "data-in-force": String(!!st.inForce) }, [head + (lang === "en" ? ": " : "：") + legalText(st)]);
  }

  // --- an agreement (the agreement certificate's QR code opens /?agreement=<id>) --------------------------

  function showAgreement() {
    var id = String($("agreement-id").value || "").trim().toLowerCase();
    if (!/^0x[0-9a-f]{64}$/.test(id)) {
      lastAgreement = { message: t("agreement.badId") };
      renderAgreement(lastAgreement);
      return Promise.resolve();
    }
    $("agreement-result").setAttribute("data-state", "loading");
    return api("GET", "/v1/agreements/" + id).then(function (r) {
      if (!r.ok) { lastAgreement = { message: errorMessage(r.body, r.status) }; renderAgreement(lastAgreement); return; }
      var a = r.body;
      var ids = {};
      (a.terms.grantees || []).forEach(function (p) { ids[p] = 1; });
      Object.keys(a.signatures || {}).forEach(function (p) { ids[p] = 1; });
      (a.requiredParties || []).forEach(function (p) { ids[p] = 1; });
      var keys = Object.keys(ids);
      return Promise.all([api("GET", "/v1/assets/" + a.assetId)].concat(keys.map(function (k) { return party(k); })))
        .then(function (res) {
          var parties = {};
          keys.forEach(function (k, i) { parties[k] = res[i + 1]; });
          lastAgreement = { agreement: a, asset: res[0].ok ? res[0].body : null, parties: parties };
          renderAgreement(lastAgreement);
        });
    });
  }

  function agreementKind(a) {
    return a.kind === "licence" && a.licenceType ? t("licType." + a.licenceType) : t("agrKind." + a.kind);
  }

  function assetLine(asset, id) {
    if (!asset) return t("partyN", { id: id }).replace(/^\D+/, "#");
    var d = asset.details || {};
    return t("asset.line", { jur: t("asset.jur." + asset.jurisdiction), kind: t("asset.kind." + asset.kind) || asset.kind,
      number: d.number || "?", title: d.title || "", id: asset.assetId }).replace(/^ /, "");
  }

  function regionName(code) {
    if (code === "WORLD") return lang === "en" ? "worldwide" : "全世界";
    try {
      return new Intl.DisplayNames([lang === "en" ? "en" : "zh-Hans"], { type: "region" }).of(code) + (lang === "en" ? " (" + code + ")" : "（" + code + "）");
    } catch (e) { return code; }
  }

  function royaltyText(r) {
    if (!r) return null;
    if (r.basis === "percentage" && typeof r.rate === "number") {
      return lang === "en" ? (r.rate / 100).toFixed(2) + "% of net sales" + (r.currency ? ", paid in " + r.currency : "")
        : "净销售额的 " + (r.rate / 100).toFixed(2) + "%" + (r.currency ? "，以 " + r.currency + " 支付" : "");
    }
    return JSON.stringify(r);
  }

  function agreementStatusText(a) {
    var key = "agrStatus." + a.status;
    var text = window.I18N.en[key] ? t(key) : a.status;
    var end = a.terms && a.terms.end;
    if (a.status === "effective" && end) {
      text = t("legal.in_force.until", { until: fmtSh(end) });
    } else if (a.closedAt && a.status !== "effective") {
      text += lang === "en" ? " (" + fmtSh(a.closedAt) + ", Asia/Shanghai)" : "（" + fmtSh(a.closedAt) + "，北京时间）";
    }
    return text;
  }

  function renderAgreement(s) {
    var out = clear($("agreement-result"));
    if (s.message) {
      out.setAttribute("data-state", "error");
      out.appendChild(el("p", { class: "badge bad", text: s.message }));
      return;
    }
    var a = s.agreement, terms = a.terms || {}, parties = s.parties;
    out.setAttribute("data-state", "shown");
    out.appendChild(el("h3", { id: "agreement-kind", text: agreementKind(a) }));
    var inForce = a.status === "effective";
    out.appendChild(el("p", { id: "agreement-status", class: "badge " + (inForce ? "good" : a.status === "proposed" ? "warn" : "bad"),
      "data-status": a.status, text: t("agreement.status") + (lang === "en" ? ": " : "：") + agreementStatusText(a) }));
    if (s.asset && s.asset.status && s.asset.status !== "confirmed") {
      // an agreement on a claim nobody confirmed cannot take effect: said before the terms
      out.appendChild(el("p", { id: "agreement-asset-status", class: "badge bad", "data-status": s.asset.status,
        text: t("legal.unconfirmed_asset") + (lang === "en" ? ": " : "：") + t("title.status." + s.asset.status) }));
    }
    var grantees = (terms.grantees || []).map(String);
    var signers = Object.keys(a.signatures || {}).concat((a.requiredParties || []).map(String));
    var grantors = signers.filter(function (p, i) { return grantees.indexOf(p) < 0 && signers.indexOf(p) === i; });
    function names(list) {
      return list.map(function (p, i) {
        var share = terms.shares && terms.shares.length > 1 && grantees.indexOf(p) >= 0 ? " — " + t("title.share", { pct: (terms.shares[i] / 100).toFixed(2) }) : "";
        return partyLabel(parties[p], p) + share;
      }).join(lang === "en" ? "; " : "；");
    }
    function r(key, value, cls) {
      return el("tr", { "data-field": key }, [el("th", { text: t("agreement." + key) }), el("td", { class: cls || null }, [value])]);
    }
    var assetLink = el("a", { href: "/?asset=" + a.assetId, id: "agreement-asset", text: assetLine(s.asset, a.assetId) });
    var rows = [r("kind", agreementKind(a)), r("asset", assetLink), r("grantors", names(grantors)), r("grantees", names(grantees))];
    if (terms.start || terms.end) {
      rows.push(r("period", terms.end ? fmtShDate(terms.start) + " → " + fmtShDate(terms.end) + (lang === "en" ? " (Asia/Shanghai)" : "（北京时间）")
        : t("agreement.periodOpen", { start: fmtShDate(terms.start) })));
    }
    if (a.territory) rows.push(r("territory", a.territory.map(regionName).join(lang === "en" ? ", " : "、")));
    if (a.kind === "licence") rows.push(r("sublicensable", t(terms.sublicensable ? "agreement.yes" : "agreement.no")));
    var roy = royaltyText((a.details || {}).royalty);
    if (roy) rows.push(r("royalty", roy));
    if (a.effectiveAt) rows.push(r("effectiveAt", fmtSh(a.effectiveAt) + (lang === "en" ? " (Asia/Shanghai)" : "（北京时间）")));
    if (a.closedAt) rows.push(r("closedAt", fmtSh(a.closedAt) + (lang === "en" ? " (Asia/Shanghai)" : "（北京时间）")));
    rows.push(r("document", terms.documentHash || "", "mono"));
    rows.push(r("id", a.agreementId, "mono"));
    out.appendChild(el("table", { class: "record" }, [el("tbody", null, rows)]));
    var actions = [el("a", { class: "button", id: "agreement-title", href: "/?asset=" + a.assetId, text: t("agreement.toTitle") })];
    if (a.effectiveAt) {
      actions.push(el("a", { class: "button", id: "agreement-pdf", href: "/v1/agreements/" + a.agreementId + "/certificate?format=pdf",
        download: "agreement-" + a.agreementId.slice(2, 18) + ".pdf", text: t("agreement.certificate") }));
    }
    out.appendChild(el("p", { class: "actions" }, actions));
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
      return Promise.all([api("GET", "/v1/assets/" + id)].concat(keys.map(function (k) { return party(k); }))).then(function (ps) {
        var parties = {};
        keys.forEach(function (k, i) { parties[k] = ps[i + 1]; });
        lastTitle = { title: r.body, parties: parties, explicitAt: !!atText, asset: ps[0].ok ? ps[0].body : null };
        renderTitle(lastTitle);
      });
    });
  }

  function agreementLink(id) {
    return el("a", { class: "mono", href: "/?agreement=" + id, text: t("ref.agreement", { id: id }) });
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
    // the patent itself first: number, title, jurisdiction and kind (the title view /?asset=<id> opens)
    out.appendChild(el("h3", { id: "asset-line", text: assetLine(s.asset, ti.assetId) }));
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
      return el("li", { "data-agreement": l.agreementId }, [partyName(parties[l.licensee], l.licensee) + " · " + t("licType." + l.licenceType) + " · "
        + fmtShDate(l.start) + " → " + fmtShDate(l.end) + " · ", agreementLink(l.agreementId)]);
    })) : el("p", { text: t("title.none") }));
    out.appendChild(el("h3", { text: t("title.pledges") }));
    out.appendChild(ti.pledges.length ? el("ul", null, ti.pledges.map(function (p) {
      return el("li", { "data-agreement": p.agreementId }, [partyName(parties[p.pledgee], p.pledgee) + " · " + fmtShDate(p.start) + " → "
        + fmtShDate(p.end) + " · ", agreementLink(p.agreementId)]);
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
      if (e.agreementId) kids.push(el("div", { class: "small" }, [agreementLink(e.agreementId)]));
      if (e.disputeId) kids.push(el("div", { class: "mono small", text: t("ref.dispute", { id: e.disputeId }) }));
      kids.push(el("div", { class: "mono small", text: t("ref.block", { block: e.block, tx: e.transactionHash }) }));
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
        kids.push(el("div", { class: "mono small", text: t("ref.block", { block: e.block, tx: e.transactionHash }) }));
      }
      return el("li", { "data-event": e.event }, kids);
    })));
  }

  // --- my registrations: a natural person's own view, with a request they sign (docs/portal.md) ------------
  // The request is the EIP-712 PersonalDataRequest of docs/privacy.md, signed by the person's wallet
  // (eth_signTypedData_v4) or pasted from `ipledger party personal-data sign`. Nothing here is logged or stored.

  var PDR_TYPES = {
    EIP712Domain: [
      { name: "name", type: "string" }, { name: "version", type: "string" },
      { name: "chainId", type: "uint256" }, { name: "verifyingContract", type: "address" },
    ],
    PersonalDataRequest: [
      { name: "action", type: "string" }, { name: "partyId", type: "uint256" }, { name: "subject", type: "bytes32" },
      { name: "nonce", type: "uint256" }, { name: "deadline", type: "uint64" },
    ],
  };
  var ZERO32 = "0x" + new Array(65).join("0");
  var MAX_PARTY = 16777215;

  function mineParty() {
    var id = parseInt($("mine-party").value, 10);
    return id >= 1 && id <= MAX_PARTY ? id : null;
  }

  /** The later of this machine's clock and the chain's latest block time (the service judges deadlines so). */
  function requestNow() {
    return api("GET", "/v1/health").then(function (r) {
      var local = Math.floor(Date.now() / 1000);
      var chain = r.ok && r.body && r.body.latestBlockTime ? Number(r.body.latestBlockTime) : 0;
      return Math.max(local, chain);
    });
  }

  /** Has the wallet sign a PersonalDataRequest; resolves to the request's body (account, nonce, deadline,
   * signature). Rejects with {api: response} when the service answers an error, or with the wallet's error. */
  function walletRequest(action, partyId, subject) {
    var eth = window.ethereum, account;
    return eth.request({ method: "eth_requestAccounts" }).then(function (accounts) {
      account = accounts && accounts[0];
      return Promise.all([
        api("GET", "/v1/parties/" + partyId + "/personal-data/nonce"), api("GET", "/v1/signing-domain"), requestNow(),
      ]);
    }).then(function (res) {
      if (!res[0].ok) throw { api: res[0] };
      if (!res[1].ok) throw { api: res[1] };
      var d = res[1].body;
      var typed = {
        types: PDR_TYPES, primaryType: "PersonalDataRequest",
        domain: { name: d.name, version: d.version, chainId: d.chainId, verifyingContract: d.verifyingContract },
        message: { action: action, partyId: partyId, subject: subject || ZERO32, nonce: res[0].body.nonce, deadline: res[2] + 600 },
      };
      return eth.request({ method: "eth_signTypedData_v4", params: [account, JSON.stringify(typed)] }).then(function (sig) {
        return { account: account, nonce: typed.message.nonce, deadline: typed.message.deadline, signature: sig };
      });
    });
  }

  function showMine() {
    var id = mineParty();
    if (!id) return Promise.resolve();
    var out = $("mine-result");
    if (!window.ethereum) {
      $("mine-paste").hidden = false;
      lastMine = null;
      clear(out).setAttribute("data-state", "no-wallet");
      return Promise.resolve();
    }
    out.setAttribute("data-state", "signing");
    clear(out).appendChild(el("p", { class: "hint", text: t("mine.signing") }));
    return walletRequest("show", id).then(function (body) { return fetchMine(id, body, true); }, function (err) { mineFailed(id, err); });
  }

  function sendPasted() {
    var req = null;
    try { req = JSON.parse($("mine-request").value); } catch (e) { req = null; }
    var id = req && typeof req === "object" ? parseInt(req.partyId, 10) : NaN;
    if (!(id >= 1 && id <= MAX_PARTY)) {
      lastMine = { party: null, error: "badPaste" };
      renderMine(lastMine);
      return Promise.resolve();
    }
    $("mine-party").value = id;
    var body = { account: req.account, nonce: req.nonce, deadline: req.deadline, signature: req.signature };
    return fetchMine(id, body, false);
  }

  function fetchMine(id, body, wallet) {
    return api("POST", "/v1/parties/" + id + "/personal-data", body).then(function (r) {
      if (!r.ok) { mineFailed(id, { api: r }); return null; }
      return api("GET", "/v1/index/evidence?party=" + id + "&limit=100").then(function (list) {
        lastMine = { party: id, data: r.body, registrations: list.ok ? list.body.items : [], wallet: wallet };
        renderMine(lastMine);
      });
    });
  }

  /** A refusal in the interface's language: 403 (another key, an altered request), 404 (no person's data),
   * a spent nonce or a passed deadline; other answers with the service's own words. */
  function mineFailed(id, err) {
    var r = err && err.api, key = null;
    var field = r && r.body && r.body.error ? r.body.error.field : null;
    if (!r) key = "walletRefused";
    else if (r.status === 403) key = "refused";
    else if (r.status === 404) key = "notFound";
    else if (field === "nonce" || field === "deadline") key = "expired";
    lastMine = { party: id, error: key, message: r ? errorMessage(r.body, r.status) : (err && err.message) || String(err) };
    renderMine(lastMine);
  }

  /** An identity document number with all but its first character and its last three hidden. */
  function maskId(s) {
    if (!s) return "-";
    if (s.length <= 4) return new Array(s.length + 1).join("•");
    return s.charAt(0) + new Array(s.length - 3).join("•") + s.slice(-3);
  }

  function mineRow(field, label, value, cls) {
    return el("tr", { "data-field": field }, [el("th", { text: label }), el("td", { class: cls, text: value })]);
  }

  function renderMine(s) {
    var out = clear($("mine-result"));
    if (s.error !== undefined) {
      out.setAttribute("data-state", "error");
      var text = s.error ? t("mine." + s.error, { party: s.party, message: s.message || "" }) : s.message;
      out.appendChild(el("p", { id: "mine-error", class: "badge bad", "data-error": s.error || "other", text: text }));
      return;
    }
    var d = s.data, id = s.party;
    out.setAttribute("data-state", "shown");
    out.appendChild(el("h3", { text: t("mine.held") + " · " + (lang === "en" ? d.naturalPerson.en : d.naturalPerson.zh) }));
    if (d.state === "erased") {
      out.appendChild(el("p", { id: "mine-erased", class: "badge warn", text: t("mine.erased", { time: fmtLocal(d.erasedAt), party: id }) }));
    } else {
      var names = (lang === "en" ? [d.nameEn, d.nameZh] : [d.nameZh, d.nameEn]).filter(Boolean).join(" / ");
      var c = d.consent || {};
      out.appendChild(el("table", { class: "record", id: "mine-held" }, [el("tbody", null, [
        mineRow("name", t("mine.name"), names || "-"),
        mineRow("document", t("mine.document"), (d.idScheme || "").toUpperCase() + " " + maskId(d.identifier), "mono"),
        mineRow("commitment", t("mine.commitment"), d.commitment, "mono"),
        mineRow("consent", t("mine.consent"), t("mine.consentLine", { version: c.version, time: c.givenAt ? fmtLocal(c.givenAt) : "-", text: c.text || "" })),
        mineRow("since", t("mine.since"), fmtLocal(d.createdAt)),
      ])]));
      out.appendChild(el("h3", { text: t("mine.consents") }));
      var given = d.consents || [];
      out.appendChild(given.length ? el("ul", { id: "mine-consents" }, given.map(function (g) {
        var who = g.recipient + (g.recipientParty ? " (#" + g.recipientParty + ")" : "");
        var until = g.revokedAt ? t("mine.consentRevoked", { time: fmtLocal(g.revokedAt) }) : t("mine.consentUntil", { time: fmtLocal(g.expires) });
        return el("li", { "data-digest": g.digest }, [t("mine.consentItem", { recipient: who, purpose: g.purpose, time: fmtLocal(g.recordedAt), until: until, issued: g.issued })]);
      })) : el("p", { class: "hint", text: t("mine.noConsents") }));
    }
    var regs = s.registrations || [];
    out.appendChild(el("h3", { text: t("mine.registrations", { n: regs.length }) }));
    if (!regs.length) { out.appendChild(el("p", { class: "hint", text: t("mine.noRegistrations") })); return; }
    out.appendChild(el("ol", { class: "timeline", id: "mine-registrations" }, regs.map(function (g) {
      var base = "/v1/evidence/" + g.binding + "/certificate?partyId=" + id;
      var links = el("div", null, [
        el("a", { class: "button", href: base, download: "certificate-" + g.binding.slice(2, 14) + ".json", text: t("mine.certificate") }),
        el("a", { class: "button", href: base + "&format=pdf", text: t("mine.certificatePdf") }),
      ]);
      var kids = [
        el("time", { datetime: new Date(g.time * 1000).toISOString(), text: fmtLocal(g.time) + " · " + fmtUtc(g.time) }),
        el("div", { class: "mono small", text: g.binding }),
        links,
      ];
      if (d.state !== "erased") {
        if (s.wallet && window.ethereum) {
          var b = el("button", { type: "button", class: "named", text: t("mine.named") });
          b.addEventListener("click", function () { downloadNamed(id, g.binding, b); });
          links.appendChild(b);
        } else {
          kids.push(el("div", { class: "hint", text: t("mine.namedCli", { party: id, binding: g.binding }) }));
        }
      }
      return el("li", { "data-binding": g.binding }, kids);
    })));
  }

  /** The person's named copy of one registration's certificate: one more signature ("certificate", subject the
   * binding), then the JSON is saved by the browser; it never leaves this page otherwise. */
  function downloadNamed(id, binding, button) {
    button.disabled = true;
    return walletRequest("certificate", id, binding).then(function (body) {
      body.contentHash = binding;
      return api("POST", "/v1/parties/" + id + "/certificate", body);
    }).then(function (r) {
      button.disabled = false;
      if (!r.ok) { mineFailed(id, { api: r }); return; }
      var url = URL.createObjectURL(new Blob([JSON.stringify(r.body, null, 2)], { type: "application/json" }));
      var a = el("a", { href: url, download: "certificate-party-" + id + "-named.json" });
      document.body.appendChild(a);
      a.click();
      a.remove();
      button.textContent = t("mine.namedDone");
    }, function (err) { button.disabled = false; mineFailed(id, err); });
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
    $("agreement-button").addEventListener("click", showAgreement);
    $("agreement-id").addEventListener("keydown", function (ev) { if (ev.key === "Enter") showAgreement(); });
    $("party-id").addEventListener("keydown", function (ev) { if (ev.key === "Enter") showParty(); });
    $("mine-button").addEventListener("click", showMine);
    $("mine-party").addEventListener("keydown", function (ev) { if (ev.key === "Enter") showMine(); });
    $("mine-send").addEventListener("click", sendPasted);

    var q = new URLSearchParams(location.search);
    var qh = normaliseHash(q.get("hash"));
    if (qh) { $("hash-input").value = "0x" + qh; lookupHash(qh, null); }
    if (q.get("agreement")) {
      $("agreement-id").value = q.get("agreement");
      showAgreement();
      $("agreement").scrollIntoView();
    }
    if (q.get("asset")) { $("asset-id").value = q.get("asset"); showTitle(); }
    if (q.get("party")) { $("party-id").value = q.get("party"); showParty(); }
  }

  // Exposed for tests and for the console.
  window.Portal = { hashFile: hashFile, settings: settings, t: t, language: function () { return lang; } };
  init();
})();
