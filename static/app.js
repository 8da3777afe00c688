// bizmcp dashboard: the little behaviour htmx does not give. Pages work
// without it (forms post, links navigate); with it, the live badge tracks
// the /ws channel, copy buttons copy, and revocations ask first.
(function () {
  "use strict";

  // Reconnect soon after a restart, then back off to at most 5 s: the
  // extension's default waits up to a minute.
  if (window.htmx) {
    htmx.config.wsReconnectDelay = function (retries) {
      return Math.min(500 * Math.pow(2, retries), 5000) * (0.5 + Math.random() / 2);
    };
    // Error answers are swapped too: the server retargets them to #flash
    // (HX-Retarget), so a refusal is explained on the page instead of
    // silently ignored.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "[45]..", swap: true, error: true },
    ];
  }

  // A form posts once: a second click while the first is on its way would
  // create a second key.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.hasAttribute("hx-post")) return; // htmx tracks its own requests
    if (form.dataset.submitted === "true") { e.preventDefault(); return; }
    form.dataset.submitted = "true";
  });

  function setLive(state, text) {
    var badge = document.getElementById("live-badge");
    if (!badge) return;
    badge.dataset.state = state;
    badge.textContent = text;
  }

  var everOpen = false;
  document.addEventListener("htmx:wsConnecting", function () {
    setLive(everOpen ? "reconnecting" : "connecting", everOpen ? "reconnecting…" : "connecting…");
  });
  document.addEventListener("htmx:wsOpen", function () {
    everOpen = true;
    setLive("live", "live");
  });
  document.addEventListener("htmx:wsClose", function (e) {
    var code = e.detail && e.detail.event ? e.detail.event.code : 0;
    if (code === 4401) {
      // The session ended (signed out elsewhere, key revoked or expired):
      // reloading lands on the sign-in page.
      setLive("offline", "signed out");
      window.location.reload();
      return;
    }
    // The extension reconnects on these codes by itself.
    if ([1006, 1011, 1012, 1013].indexOf(code) >= 0) {
      setLive("reconnecting", "reconnecting…");
    } else {
      setLive("offline", "offline");
    }
  });

  // Back/forward cache restores a page as it was left: allow posting again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitted]").forEach(function (f) { delete f.dataset.submitted; });
  });

  // Copy buttons: data-copy-target names the element whose text is copied.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-copy-target]");
    if (!btn) return;
    var src = document.getElementById(btn.getAttribute("data-copy-target"));
    if (!src) return;
    var text = src.textContent;
    var done = function () {
      btn.dataset.copied = "true";
      var label = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(src); });
    } else {
      selectText(src);
      try { document.execCommand("copy"); done(); } catch (_) { /* selected for a manual copy */ }
    }
    document.dispatchEvent(new CustomEvent("bizmcp:copied", { detail: { text: text } }));
  });

  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  // A tool's list fields (data-list: number, integer or string) say at
  // once when an item is not a number or there are too many or too few;
  // the server checks the same again.
  document.addEventListener("input", function (e) {
    var el = e.target;
    if (!el.dataset || !el.dataset.list) return;
    var v = el.value.trim(), msg = "";
    if (v !== "" && v.charAt(0) !== "[") {
      var items = v.split(el.dataset.list === "string" ? /[,;\r\n]+/ : /[,;\s]+/).filter(function (s) { return s.trim() !== ""; });
      var max = +el.dataset.maxItems || 0, min = +el.dataset.minItems || 0;
      var bad = el.dataset.list === "string" ? -1 : items.findIndex(function (s) {
        return el.dataset.list === "integer" ? !/^[+-]?\d+$/.test(s) : !isFinite(+s) || /^\s*$/.test(s);
      });
      if (bad >= 0) msg = "Item " + (bad + 1) + ", " + items[bad] + ", is not a number.";
      else if (max && items.length > max) msg = "At most " + max + " items.";
      else if (min && items.length < min) msg = "At least " + min + " items.";
    }
    el.setCustomValidity(msg);
  });

  // Expiry presets: the custom date field is only needed for "custom".
  document.addEventListener("change", function (e) {
    if (e.target.name !== "expiry") return;
    var custom = document.getElementById("expires-on-field");
    if (custom) custom.hidden = e.target.value !== "custom";
  });
})();
