// hotspot-fleet dashboard: small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="TEXT">.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-HTTP LAN pages have no clipboard API: select a hidden textarea and copy.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try {
        document.execCommand("copy") ? resolve() : reject(new Error("copy refused"));
      } catch (e) {
        reject(e);
      } finally {
        document.body.removeChild(area);
      }
    });
  }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("[data-copy]") : null;
    if (!btn) return;
    ev.preventDefault();
    var label = btn.textContent;
    copyText(btn.getAttribute("data-copy")).then(function () {
      btn.textContent = "Copied";
      btn.classList.add("copied");
      setTimeout(function () { btn.textContent = label; btn.classList.remove("copied"); }, 1500);
    }, function () {
      btn.textContent = "Select and copy";
    });
  });

  // Print buttons: <button data-print>.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("[data-print]") : null;
    if (btn) { ev.preventDefault(); window.print(); }
  });

  // Forms with data-confirm="question": sent only once the person agrees. Forms with
  // data-busy: disable the submit button once sent (no double batches).
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { ev.preventDefault(); return; }
    if (!form.hasAttribute("data-busy")) return;
    var btn = form.querySelector("button[type=submit]");
    if (btn) { btn.disabled = true; btn.textContent = form.getAttribute("data-busy"); }
  });

  // Live polling: <section data-poll="/url.json" data-poll-every="1000">. The JSON answer is
  // {"done": bool, "fields": {"id": "text"}, "states": {"CODE": "state"}, "progress": 0..100}.
  // Polling stops when "done" is true; the section then gets data-done="true".
  function poll(section) {
    var url = section.getAttribute("data-poll");
    var every = parseInt(section.getAttribute("data-poll-every") || "1500", 10);
    var tries = 0;
    var ticks = 0;
    function tick() {
      // After a minute (an offline site can take hours), ask every 5 s instead.
      ticks += 1;
      if (ticks > 60 && every < 5000) every = 5000;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) {
          // Signed out meanwhile: the answer is the sign-in page; show it.
          if (r.redirected) { window.location.reload(); throw new Error("signed out"); }
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (data) {
          Object.keys(data.fields || {}).forEach(function (id) {
            var el = document.getElementById(id);
            if (el) el.textContent = data.fields[id];
          });
          Object.keys(data.states || {}).forEach(function (code) {
            var el = document.querySelector('[data-state-of="' + code + '"]');
            if (!el) return;
            var s = data.states[code];
            el.textContent = s;
            el.className = "badge badge-" + s;
          });
          var bar = section.querySelector(".progress > span");
          if (bar && typeof data.progress === "number") bar.style.width = data.progress + "%";
          if (!data.done) setTimeout(tick, every);
          else section.setAttribute("data-done", "true");
        })
        .catch(function () {
          tries += 1;
          if (tries < 20) setTimeout(tick, every * 2);
        });
    }
    tick();
  }
  document.querySelectorAll("[data-poll]").forEach(poll);

  // Selects with data-autosubmit send their form when changed.
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
  });

  // Back links: <a data-back href="fallback">: the browser's history when there is one.
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest ? ev.target.closest("[data-back]") : null;
    if (link && window.history.length > 1) { ev.preventDefault(); window.history.back(); }
  });

  // Live refresh: <div data-refresh="/fragment" data-refresh-every="5000">: the server draws
  // the fragment; this only swaps it in.
  function refresh(box) {
    if (!window.fetch) return;
    var every = parseInt(box.getAttribute("data-refresh-every"), 10) || 5000;
    function tick() {
      if (document.hidden) { setTimeout(tick, every); return; }
      fetch(box.getAttribute("data-refresh"), { credentials: "same-origin" })
        .then(function (r) {
          // Signed out meanwhile (the fragment answered with the sign-in page): reload the page.
          if (r.redirected) { window.location.reload(); throw new Error("signed out"); }
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.text();
        })
        .then(function (html) { box.innerHTML = html; box.classList.remove("refresh-failed"); })
        .catch(function () { box.classList.add("refresh-failed"); })
        .then(function () { setTimeout(tick, every); });
    }
    setTimeout(tick, every);
  }
  document.querySelectorAll("[data-refresh]").forEach(refresh);
})();
