// AgentDesk browser glue. No framework, no eval, no inline handlers: it runs
// under a CSP with script-src 'nonce-…' and without 'unsafe-eval'.
// Loaded in <head> without defer so the theme is applied before first paint.
(function () {
  'use strict';

  var THEME_KEY = 'agentdesk-theme';
  var root = document.documentElement;

  // --- theme: "auto" (follow the OS), "light" or "dark" -------------------
  function storedTheme() {
    try {
      var t = window.localStorage.getItem(THEME_KEY);
      return t === 'light' || t === 'dark' ? t : 'auto';
    } catch (e) {
      return 'auto'; // storage disabled: follow the OS
    }
  }

  function applyTheme(theme) {
    if (theme === 'auto') {
      root.removeAttribute('data-theme');
    } else {
      root.setAttribute('data-theme', theme);
    }
    var btn = document.getElementById('theme-toggle');
    if (btn) {
      var label = btn.querySelector('[data-theme-label]');
      if (label) {
        label.textContent = theme === 'auto' ? 'Auto' : theme === 'dark' ? 'Dark' : 'Light';
      }
      btn.setAttribute('data-theme-current', theme);
    }
  }

  applyTheme(storedTheme());

  function nextTheme(t) {
    return t === 'auto' ? 'light' : t === 'light' ? 'dark' : 'auto';
  }

  // --- helpers ------------------------------------------------------------
  function isPoller(el) {
    return el && el.nodeType === 1 && el.hasAttribute('data-poll');
  }

  function focusLost() {
    var a = document.activeElement;
    return !a || a === document.body || a === root;
  }

  function focusElement(el) {
    if (!el) return;
    if (!el.matches('a[href], button, input, select, textarea, [tabindex]')) {
      el.setAttribute('tabindex', '-1');
    }
    el.focus({ preventScroll: false });
  }

  function announce(text) {
    var live = document.getElementById('announcer');
    if (!live || !text) return;
    // Clearing first makes screen readers repeat an identical message.
    live.textContent = '';
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  function dismiss(regionId) {
    var region = document.getElementById(regionId);
    if (!region) return;
    var opener = region.getAttribute('data-opener');
    region.textContent = '';
    region.removeAttribute('data-opener');
    var back = opener && document.getElementById(opener);
    if (back) back.focus();
  }

  // --- htmx integration ---------------------------------------------------
  // Polling pauses while the tab is hidden: the request is cancelled, htmx
  // keeps its timer, so polling resumes by itself.
  // A live row or card does not refresh itself either while a confirmation
  // dialog is open (ui.js moves a row's confirmation into it): the refresh
  // would take the confirmation back into the row.
  document.addEventListener('htmx:beforeRequest', function (evt) {
    if (isPoller(evt.detail && evt.detail.elt) && (document.hidden || document.querySelector('dialog[open]'))) {
      evt.preventDefault();
    }
  });

  // Back to visible: refresh every poller now rather than at its next tick.
  // Pollers list "wake" in hx-trigger; the event does not bubble so a poller
  // never wakes its ancestors.
  document.addEventListener('visibilitychange', function () {
    if (document.hidden) return;
    var pollers = document.querySelectorAll('[data-poll]');
    for (var i = 0; i < pollers.length; i++) {
      pollers[i].dispatchEvent(new CustomEvent('wake', { bubbles: false }));
    }
  });

  // Remember which action link opened a confirmation so Cancel/Escape can
  // return focus to it.
  document.addEventListener('htmx:beforeRequest', function (evt) {
    var elt = evt.detail && evt.detail.elt;
    var target = evt.detail && evt.detail.target;
    if (elt && target && elt.id && elt.hasAttribute('data-confirm-opener')) {
      target.setAttribute('data-opener', elt.id);
    }
  });

  // --- notifications: every failure is said in words -----------------------
  // #messages (views.notifications) is the notification region of every page
  // and card. A failure of a background poll is marked as such and cleared by
  // the poll's next success, so a passing hiccup does not stay on screen.
  function showMessage(messages, text, fromPoll) {
    var p = document.createElement('p');
    p.className = 'alert alert-error';
    p.setAttribute('role', 'alert');
    p.setAttribute('data-testid', 'notification');
    p.textContent = text;
    messages.textContent = '';
    if (fromPoll) messages.setAttribute('data-from-poll', '');
    else messages.removeAttribute('data-from-poll');
    messages.appendChild(p);
  }

  function notify(elt, text) {
    var messages = document.getElementById('messages');
    if (messages) showMessage(messages, text, isPoller(elt));
  }

  var statusWords = {
    400: 'The portal did not understand the request.',
    403: 'You may not do this, or the page is out of date. Reload the page and try again.',
    404: 'This job or page no longer exists, or you may not see it.',
    409: 'Not possible now: the job\'s state has changed. Reload the page to see it.',
    413: 'The request was too large.',
    429: 'Too many requests. Wait a moment and try again.',
    502: 'Enterprise Manager reported an error. Nothing was changed; try again.',
    503: 'The portal or Enterprise Manager is not available right now. Try again in a moment.',
    504: 'Enterprise Manager did not answer in time. Try again in a moment.'
  };

  function statusText(status) {
    return statusWords[status] ||
      'The portal could not complete the request (error ' + status + '). Please try again.';
  }

  // A disabled button (hx-disabled-elt) is normally re-enabled by htmx when
  // its request ends; when showing the answer failed, htmx skips that.
  function reenable(elt) {
    if (!(elt instanceof Element)) return;
    var list = elt.matches('button, input') ? [elt] : [];
    list = list.concat(Array.prototype.slice.call(elt.querySelectorAll('button[disabled], input[disabled]')));
    for (var i = 0; i < list.length; i++) list[i].disabled = false;
  }

  // Error responses (4xx/5xx) are not swapped by htmx by default. Ours
  // carry human words, so show them:
  //  - 401: the session ended. The portal answers with HX-Redirect (htmx
  //    follows it: sign-in, then back to this page) or, in an embedded
  //    card, with the sign-in card (HX-Retarget); anything else reloads the
  //    page, which leads to the sign-in and back;
  //  - the server chose a place (HX-Retarget/HX-Reswap): swap as told;
  //  - an ErrorFragment (data-error-fragment): into #messages, so the region
  //    the user was working with (a table, a card) stays intact;
  //  - any other HTML (e.g. a refused ActionStatus sent with 409): into the
  //    original target, as for a success;
  //  - anything else (plain text from a proxy, JSON): words in #messages.
  document.addEventListener('htmx:beforeSwap', function (evt) {
    var d = evt.detail;
    if (!d || !d.xhr) return;
    var xhr = d.xhr;
    var messages = document.getElementById('messages');
    if (xhr.status < 400) {
      if (isPoller(d.elt) && messages && messages.hasAttribute('data-from-poll')) {
        messages.textContent = '';
        messages.removeAttribute('data-from-poll');
      }
      return;
    }
    xhr.agentdeskShown = true;
    var body = xhr.responseText || '';
    var html = (xhr.getResponseHeader('Content-Type') || '').indexOf('text/html') === 0;
    if (xhr.getResponseHeader('HX-Retarget') || xhr.getResponseHeader('HX-Reswap')) {
      d.shouldSwap = true;
      return;
    }
    if (xhr.status === 401) {
      d.shouldSwap = false;
      notify(d.elt, 'Your session has ended. Taking you to the sign-in…');
      window.location.reload();
      return;
    }
    if (html && body.indexOf('data-error-fragment') >= 0 && messages) {
      d.shouldSwap = true;
      d.target = messages;
      d.swapOverride = 'innerHTML';
      d.selectOverride = 'unset';
      if (isPoller(d.elt)) messages.setAttribute('data-from-poll', '');
      else messages.removeAttribute('data-from-poll');
      return;
    }
    if (html && body.trim() !== '' && !isPoller(d.elt)) {
      d.shouldSwap = true;
      return;
    }
    notify(d.elt, statusText(xhr.status));
  });

  // A section loaded when opened (views.jobHistory) that could not be loaded
  // says so where its content would have been; its link to the full page
  // stays. (The notification region says why, as for any request.)
  document.addEventListener('htmx:afterRequest', function (evt) {
    var d = evt.detail || {};
    var elt = d.elt;
    if (d.successful || !(elt instanceof Element) || !elt.hasAttribute('data-lazy-failed')) return;
    var status = elt.querySelector('[data-lazy-status]');
    if (!status) return;
    var words = document.createElement('span');
    words.textContent = elt.getAttribute('data-lazy-failed') + ' ';
    status.insertBefore(words, status.firstChild);
    status.setAttribute('data-failed', '');
  });

  // Whatever the swap above did not cover still gets words.
  document.addEventListener('htmx:responseError', function (evt) {
    var d = evt.detail || {};
    if (d.xhr && !d.xhr.agentdeskShown) notify(d.elt, statusText(d.xhr.status));
  });

  // Network failure: no response to show, so say it in words. A poll says it
  // too (it goes on trying by itself and clears the message when it works).
  document.addEventListener('htmx:sendError', function (evt) {
    notify(evt.detail && evt.detail.elt, 'The portal could not be reached. Check the connection; AgentDesk tries again when you retry.');
  });

  document.addEventListener('htmx:timeout', function (evt) {
    notify(evt.detail && evt.detail.elt, 'The portal did not answer in time. What you asked for may still happen; reload the page to see the current state.');
  });

  // The answer arrived but could not be shown (a missing target, a broken
  // fragment): say so and give the buttons back.
  ['htmx:onLoadError', 'htmx:targetError', 'htmx:swapError'].forEach(function (name) {
    document.addEventListener(name, function (evt) {
      var elt = evt.detail && evt.detail.elt;
      reenable(elt || evt.target);
      notify(elt, 'The answer could not be shown on this page. Reload the page to see the current state.');
    });
  });

  // --- loading indicator: after ~300 ms, for what the person asked for -------
  // htmx repeats htmx:afterRequest on an ancestor when the element was
  // swapped away, so requests are counted by their XMLHttpRequest.
  var busyTimer = null;
  var busyCount = 0;
  var pending = new WeakSet();
  document.addEventListener('htmx:beforeSend', function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (isPoller(elt) || !evt.detail.xhr) return;
    pending.add(evt.detail.xhr);
    busyCount++;
    if (elt instanceof Element) elt.setAttribute('aria-busy', 'true');
    if (busyTimer) return;
    busyTimer = window.setTimeout(function () {
      var b = document.getElementById('busy');
      if (b && busyCount > 0) b.hidden = false;
    }, 300);
  });

  document.addEventListener('htmx:afterRequest', function (evt) {
    var d = evt.detail || {};
    if (!d.xhr || !pending.has(d.xhr)) return;
    pending.delete(d.xhr);
    if (d.elt instanceof Element) d.elt.removeAttribute('aria-busy');
    busyCount = Math.max(0, busyCount - 1);
    if (busyCount > 0) return;
    if (busyTimer) { window.clearTimeout(busyTimer); busyTimer = null; }
    var b = document.getElementById('busy');
    if (b) b.hidden = true;
  });

  // --- live views: an action sent from any tab refreshes every view of its job
  // A card or row that is settled does not poll. When an action is sent, its
  // views (here and in the browser's other tabs of the portal) load
  // themselves once; the fresh view polls by itself while the action is in
  // progress and the job runs, and stops when it has settled.
  var ACTION_PATH = /\/jobs\/([0-9a-fA-F-]{36})\/actions\/[a-z]+$/;
  var liveChannel = null;
  try { liveChannel = new BroadcastChannel('agentdesk-live'); } catch (e) { /* one tab only */ }

  // A card names its address (data-refresh-url); a list row is its job
  // link's address + "/row" (fifty rows need not carry it).
  function refreshURL(v) {
    var u = v.getAttribute('data-refresh-url');
    if (u) return u;
    var link = v.matches('tr[data-testid="job-row"]') && v.querySelector('[data-testid="job-name"] a');
    return link ? link.getAttribute('href') + '/row' : '';
  }

  // expecting[job] is when an action on the job was last sent, from this tab
  // or another. For EXPECT_MS the job's pollers say so (X-Action-Sent), so
  // a replica that has not read the new run yet (its view of the shared run
  // state is up to one interval late, and under load more) keeps the view
  // watching instead of letting it settle on the state before the action.
  var EXPECT_MS = 15000;
  var expecting = {};

  function expected(elt) {
    var v = elt && elt.closest && elt.closest('[data-job-id]');
    var at = v && expecting[v.getAttribute('data-job-id')];
    return !!at && Date.now() - at < EXPECT_MS;
  }

  document.addEventListener('htmx:configRequest', function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (isPoller(elt) && expected(elt)) evt.detail.headers['X-Action-Sent'] = '1';
  });

  function refreshJobViews(jobID) {
    if (!window.htmx) return;
    expecting[jobID] = Date.now();
    var views = document.querySelectorAll('[data-job-id="' + jobID + '"]');
    for (var i = 0; i < views.length; i++) {
      var v = views[i];
      var u = refreshURL(v);
      if (!v.id || !u) continue;
      window.htmx.ajax('GET', u, {
        // X-Action-Sent: the answering replica may not have read the new
        // run yet; it then has the view look again a second later.
        target: '#' + v.id, swap: 'outerHTML', headers: { 'X-Background': '1', 'X-Action-Sent': '1' }
      });
    }
  }

  document.addEventListener('htmx:afterRequest', function (evt) {
    var d = evt.detail || {};
    if (!d.xhr || !d.successful || !d.requestConfig || d.requestConfig.verb !== 'post') return;
    var m = ACTION_PATH.exec((d.pathInfo && d.pathInfo.requestPath || '').split('?')[0]);
    if (!m) return;
    var jobID = m[1].toLowerCase();
    refreshJobViews(jobID);
    if (liveChannel) liveChannel.postMessage({ type: 'agentdesk:job-changed', job: jobID });
  });

  if (liveChannel) {
    liveChannel.onmessage = function (evt) {
      var d = evt.data;
      if (d && d.type === 'agentdesk:job-changed' && typeof d.job === 'string' && /^[0-9a-f-]{36}$/.test(d.job)) {
        refreshJobViews(d.job);
      }
    };
  }

  // Focus: htmx restores focus to an element that has the same id after a
  // swap, and honours [autofocus]. When neither applies and the focused
  // element vanished, move focus to the swapped region instead of dropping it
  // on <body>, which would send keyboard users back to the top of the page.
  // Background polls never move focus.
  document.addEventListener('htmx:afterSettle', function (evt) {
    var d = evt.detail || {};
    var target = d.target;
    var settled = evt.target;
    if (settled instanceof Element && !isPoller(d.elt)) {
      var a = settled.matches('[data-announce]') ? settled : settled.querySelector('[data-announce]');
      if (a) announce(a.getAttribute('data-announce'));
    }
    if (!focusLost() || isPoller(d.elt)) return;
    // After an outerHTML swap the old target is detached; use the new element.
    var region = target && document.body.contains(target) ? target : settled;
    if (!(region instanceof Element) || !document.body.contains(region)) return;
    var preferred = region.querySelector('[data-focus]');
    focusElement(preferred || region);
  });

  // --- clicks and keys (delegated; no inline handlers) --------------------
  document.addEventListener('click', function (evt) {
    var t = evt.target;
    if (!(t instanceof Element)) return;
    var toggle = t.closest('#theme-toggle');
    if (toggle) {
      var theme = nextTheme(storedTheme());
      try { window.localStorage.setItem(THEME_KEY, theme); } catch (e) { /* private mode */ }
      applyTheme(theme);
      return;
    }
    var cancel = t.closest('[data-dismiss]');
    var region = cancel && document.getElementById(cancel.getAttribute('data-dismiss'));
    // Only an inline confirmation is dismissed; on the stand-alone confirm
    // page the link navigates back to the job.
    if (region && region.hasAttribute('data-confirm-region')) {
      evt.preventDefault(); // without JS the link goes back to the job page
      dismiss(cancel.getAttribute('data-dismiss'));
    }
  });

  document.addEventListener('keydown', function (evt) {
    if (evt.key !== 'Escape') return;
    var t = evt.target;
    var panel = t instanceof Element && t.closest('[data-confirm-panel]');
    var region = panel && panel.parentElement;
    if (region && region.id && region.hasAttribute('data-confirm-region')) {
      evt.preventDefault();
      dismiss(region.id);
    }
  });

  document.addEventListener('DOMContentLoaded', function () {
    applyTheme(storedTheme());
  });

  // --- embed mode (/embed/ pages in an iframe) -----------------------------
  // The card reports its height to the parent page so the iframe can fit it.
  // It posts only to the parent origins the portal allows (data-embed-origins,
  // the same list as CSP frame-ancestors), never to "*": the card's content
  // must not reach a page that merely framed it.
  var EMBED_CHANNEL = 'agentdesk-embed';

  function embedBody() {
    var b = document.body;
    return b && b.hasAttribute('data-embed') ? b : null;
  }

  function originMatches(origin, pattern) {
    if (origin === pattern) return true;
    // "https://*.example.com" matches every subdomain of example.com.
    var m = /^(https?:\/\/)\*\.(.+)$/.exec(pattern);
    return !!m && origin.indexOf(m[1]) === 0 && origin.length > (m[1] + m[2]).length &&
      origin.slice(-(m[2].length + 1)) === '.' + m[2];
  }

  // The parent's origin as the browser reports it; "" when it cannot tell.
  function parentOrigin() {
    try {
      if (window.location.ancestorOrigins && window.location.ancestorOrigins.length > 0) {
        return window.location.ancestorOrigins[0];
      }
    } catch (e) { /* not supported */ }
    try {
      if (document.referrer) return new URL(document.referrer).origin;
    } catch (e) { /* no referrer */ }
    return '';
  }

  function heightTargets(body) {
    var allowed = (body.getAttribute('data-embed-origins') || '').split(/\s+/).filter(Boolean);
    if (allowed.length === 0) allowed = [window.location.origin]; // frame-ancestors 'self'
    var parent = parentOrigin();
    if (parent) {
      for (var i = 0; i < allowed.length; i++) {
        if (originMatches(parent, allowed[i])) return [parent];
      }
      return []; // the browser would not have framed us; say nothing
    }
    // Unknown parent: the browser delivers only to the matching origin.
    return allowed.filter(function (o) { return o.indexOf('*') < 0; });
  }

  var lastHeight = -1;
  function postHeight() {
    var body = embedBody();
    if (!body || window.parent === window) return;
    var cs = window.getComputedStyle(body);
    var h = Math.ceil(body.getBoundingClientRect().height +
      (parseFloat(cs.marginTop) || 0) + (parseFloat(cs.marginBottom) || 0));
    if (h === lastHeight) return;
    lastHeight = h;
    var targets = heightTargets(body);
    for (var i = 0; i < targets.length; i++) {
      try {
        window.parent.postMessage({ type: 'agentdesk:height', height: h }, targets[i]);
      } catch (e) { /* a malformed origin: skip it */ }
    }
  }

  // The sign-in of a framed card happens in a popup (identity providers
  // refuse to be framed). /embed/done tells the card, which reloads itself.
  // With a cross-site parent the card's cookies are partitioned and the
  // popup's sign-in does not reach them: the popup also posts a one-time
  // hand-off code to the card (its opener) alone, which redeems it in its
  // own session (POST /embed/handoff) before reloading.
  var signinPopup = null;   // the popup this card opened
  var handoffBusy = false;  // a redeem is in flight: it reloads when done
  var reloadTimer = null;

  function signedIn() {
    if (!embedBody() || window.parent === window || handoffBusy) return;
    if (signinPopup && !signinPopup.closed) {
      // Our own popup is about to send its hand-off; give it a moment.
      if (!reloadTimer) reloadTimer = window.setTimeout(function () { window.location.reload(); }, 1000);
      return;
    }
    window.location.reload();
  }

  function embedMessage(text) {
    var box = document.getElementById('messages');
    if (!box) return;
    var p = document.createElement('p');
    p.className = 'alert alert-error';
    p.setAttribute('role', 'alert');
    p.setAttribute('data-testid', 'embed-handoff-failed');
    p.textContent = text;
    box.replaceChildren(p);
  }

  function redeemHandoff(code) {
    var body = embedBody();
    if (!body || handoffBusy) return;
    handoffBusy = true;
    if (reloadTimer) { window.clearTimeout(reloadTimer); reloadTimer = null; }
    var token = '';
    try { token = JSON.parse(body.getAttribute('hx-headers') || '{}')['X-CSRF-Token'] || ''; } catch (e) { /* none */ }
    var form = new URLSearchParams();
    form.set('code', code);
    fetch((body.getAttribute('data-base-path') || '') + '/embed/handoff', {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'X-CSRF-Token': token },
      body: form
    }).then(function (r) {
      if (r.status === 204) { window.location.reload(); return; }
      handoffBusy = false;
      embedMessage(r.status === 429
        ? 'Too many failed sign-ins. Wait a minute, then sign in again.'
        : 'The sign-in could not be passed to this card: it expired or was already used. Sign in again.');
    }, function () {
      handoffBusy = false;
      embedMessage('The sign-in could not be passed to this card. Sign in again.');
    });
  }

  document.addEventListener('click', function (evt) {
    var t = evt.target;
    var btn = t instanceof Element && t.closest('[data-embed-signin]');
    if (!btn) return;
    evt.preventDefault();
    var w = window.open(btn.getAttribute('data-embed-signin'), 'agentdesk-signin', 'popup,width=520,height=640');
    if (!w) {
      // Popup blocked: the full-page sign-in (target=_top) is the way.
      var top = document.querySelector('[data-testid="embed-signin-top"]');
      if (top) top.focus();
      return;
    }
    signinPopup = w;
  });

  window.addEventListener('message', function (evt) {
    // Only the portal itself (the popup) may ask the card to reload.
    if (evt.origin !== window.location.origin || !evt.data) return;
    if (evt.data.type === 'agentdesk:handoff') {
      // Only from the popup this card opened.
      if (signinPopup && evt.source === signinPopup && typeof evt.data.code === 'string') redeemHandoff(evt.data.code);
      return;
    }
    if (evt.data.type === 'agentdesk:signed-in') signedIn();
  });

  var channel = null;
  try {
    channel = new BroadcastChannel(EMBED_CHANNEL); // same origin only, by design
    channel.onmessage = function (evt) {
      // Never a hand-off code here: every portal tab listens.
      if (evt.data && evt.data.type === 'agentdesk:signed-in') signedIn();
    };
  } catch (e) { /* not supported: window.opener is enough */ }

  document.addEventListener('DOMContentLoaded', function () {
    var done = document.querySelector('[data-embed-done]');
    if (done) {
      var msg = { type: 'agentdesk:signed-in' };
      var code = done.getAttribute('data-embed-handoff');
      try {
        // The code goes to the opener alone, and only while it is the
        // portal's origin (the framed card): never "*", never a URL.
        if (window.opener) window.opener.postMessage(code ? { type: 'agentdesk:handoff', code: code } : msg, window.location.origin);
      } catch (e) { /* opener gone */ }
      done.removeAttribute('data-embed-handoff');
      // The opener can be cut off (an identity provider's COOP); every card
      // of this origin listens on the channel too (same-site cards only:
      // browsers partition the channel like the cookies).
      if (channel) channel.postMessage(msg);
      window.setTimeout(function () { window.close(); }, 300);
      return;
    }
    var body = embedBody();
    if (!body || window.parent === window) return;
    postHeight();
    if (window.ResizeObserver) new ResizeObserver(postHeight).observe(body);
    document.addEventListener('htmx:afterSettle', postHeight);
    window.addEventListener('load', postHeight);
  });
})();
