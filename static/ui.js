// AgentDesk reading aids (issue 13), kept apart from app.js (htmx glue,
// theme, embedding). No framework, no eval, no inline handlers (strict CSP).
// Loaded in <head> without defer, like app.js, so remembered column and
// density choices apply before the first paint.
//
//  - times: every <time datetime> is shown in the viewer's time zone; the
//    server's UTC text moves to the tooltip;
//  - truncated cells get their full text as a tooltip (focus unfolds them,
//    in CSS);
//  - a confirmation opened from a list row is shown in a modal <dialog>
//    (focus trapped by the browser, returned to the button afterwards);
//  - column choice and density of the jobs table, remembered per browser;
//  - after paging, the view scrolls to the top of the table.
(function () {
  'use strict';

  var root = document.documentElement;
  var COLS_KEY = 'agentdesk-hidden-columns';
  var DENSITY_KEY = 'agentdesk-density';
  var COLUMNS = [
    ['platform', 'Platform'], ['server', 'Backup server'], ['kind', 'Kind'],
    ['schedule', 'Schedule'], ['next', 'Next run']
  ];

  function load(key) {
    try { return window.localStorage.getItem(key) || ''; } catch (e) { return ''; }
  }
  function save(key, v) {
    try { window.localStorage.setItem(key, v); } catch (e) { /* private mode: not remembered */ }
  }

  function applyView() {
    var hidden = load(COLS_KEY).trim();
    if (hidden) root.setAttribute('data-hide-cols', hidden); else root.removeAttribute('data-hide-cols');
    var density = load(DENSITY_KEY);
    if (density === 'comfortable') root.setAttribute('data-density', density); else root.removeAttribute('data-density');
  }
  applyView();

  // --- times in the viewer's zone -----------------------------------------
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function zoneName(d) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' }).formatToParts(d);
      for (var i = 0; i < parts.length; i++) {
        if (parts[i].type === 'timeZoneName') return parts[i].value;
      }
    } catch (e) { /* no Intl */ }
    return '';
  }

  function localTimes(scope) {
    var els = (scope || document).querySelectorAll('time[datetime]:not([data-local])');
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var d = new Date(el.getAttribute('datetime'));
      if (isNaN(d.getTime())) continue;
      var utc = el.textContent.trim();
      var secs = /\d\d:\d\d:\d\d/.test(utc);
      var clock = pad(d.getHours()) + ':' + pad(d.getMinutes()) + (secs ? ':' + pad(d.getSeconds()) : '');
      var zone = zoneName(d);
      if (el.closest('table.jobs')) {
        // A table cell: short ("5 Dec 14:05"); the zone is said once, above the table.
        var day = d.getDate() + ' ' + MONTHS[d.getMonth()] + (d.getFullYear() !== new Date().getFullYear() ? ' ' + d.getFullYear() : '');
        el.textContent = day + ' ' + clock;
      } else {
        var text = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + clock;
        el.textContent = zone ? text + ' ' + zone : text;
      }
      el.setAttribute('title', utc.indexOf('UTC') >= 0 ? utc : utc + ' (UTC)');
      el.setAttribute('data-local', '');
    }
  }

  // --- full text of truncated cells ---------------------------------------
  document.addEventListener('mouseover', function (evt) {
    var t = evt.target;
    if (!(t instanceof Element)) return;
    var cell = t.closest('table.jobs td, table.jobs th, table.audit td.truncate, .truncate');
    if (!cell || cell.hasAttribute('title')) return;
    var box = cell.querySelector('.name a') || cell;
    if (box.scrollWidth > box.clientWidth + 1) {
      cell.setAttribute('title', cell.textContent.replace(/\s+/g, ' ').trim());
    }
  });

  // --- the confirmation of a list row, in a modal dialog -----------------------
  function openDialog(region) {
    if (region.closest('dialog')) return;
    var opener = region.getAttribute('data-opener');
    var home = document.createComment('confirm-home');
    region.parentNode.insertBefore(home, region);
    var dlg = document.createElement('dialog');
    dlg.className = 'confirm-dialog';
    dlg.setAttribute('data-testid', 'confirm-dialog');
    var title = region.querySelector('h2[id]');
    if (title) dlg.setAttribute('aria-labelledby', title.id);
    document.body.appendChild(dlg);
    dlg.appendChild(region);
    var regionId = region.id;

    // The action's answer empties the region (an out-of-band swap that
    // replaces it): then the dialog has done its job.
    var watch = new MutationObserver(function () {
      var r = document.getElementById(regionId);
      if (!r || !dlg.contains(r) || !r.firstElementChild) dlg.close();
    });
    watch.observe(dlg, { childList: true, subtree: true });

    dlg.addEventListener('close', function () {
      watch.disconnect();
      var r = document.getElementById(regionId);
      if (r && dlg.contains(r)) {
        r.textContent = '';
        r.removeAttribute('data-opener');
        home.parentNode && home.parentNode.insertBefore(r, home);
      }
      if (home.parentNode) home.parentNode.removeChild(home);
      dlg.remove();
      var back = opener && document.getElementById(opener);
      if (back) back.focus();
    });
    dlg.showModal();
    var first = dlg.querySelector('[autofocus]') || dlg.querySelector('button, select, a[href]');
    if (first) first.focus();
  }

  document.addEventListener('htmx:afterSwap', function (evt) {
    var t = evt.detail && evt.detail.target;
    if (t instanceof Element && t.hasAttribute('data-confirm-region') && t.closest('table') && t.firstElementChild) {
      openDialog(t);
    }
  });

  // Cancel inside the dialog: app.js empties the region; close the dialog too.
  document.addEventListener('click', function (evt) {
    var t = evt.target;
    if (!(t instanceof Element)) return;
    var dlg = t.closest('dialog.confirm-dialog');
    if (dlg && t.closest('[data-dismiss]')) {
      evt.preventDefault();
      dlg.close();
    }
  }, true);

  // --- column choice and density --------------------------------------------
  function viewOptions(table) {
    var bar = table.querySelector('.as-of');
    if (!bar || bar.querySelector('.view-options')) return;
    var hidden = load(COLS_KEY).split(/\s+/);
    var d = document.createElement('details');
    d.className = 'view-options';
    d.setAttribute('data-testid', 'view-options');
    var s = document.createElement('summary');
    s.textContent = 'Columns and density';
    d.appendChild(s);
    var panel = document.createElement('div');
    panel.className = 'panel';
    var cols = document.createElement('fieldset');
    var lg = document.createElement('legend');
    lg.textContent = 'Show columns';
    cols.appendChild(lg);
    COLUMNS.forEach(function (c) {
      if (!table.querySelector('[id^="sort-' + c[0] + '"]')) return; // the column is not there
      var label = document.createElement('label');
      var box = document.createElement('input');
      box.type = 'checkbox';
      box.value = c[0];
      box.checked = hidden.indexOf(c[0]) < 0;
      box.setAttribute('data-testid', 'column-' + c[0]);
      label.appendChild(box);
      label.appendChild(document.createTextNode(c[1]));
      cols.appendChild(label);
    });
    panel.appendChild(cols);
    var dens = document.createElement('fieldset');
    var lg2 = document.createElement('legend');
    lg2.textContent = 'Rows';
    dens.appendChild(lg2);
    [['compact', 'Compact'], ['comfortable', 'Comfortable']].forEach(function (o) {
      var label = document.createElement('label');
      var r = document.createElement('input');
      r.type = 'radio';
      r.name = 'density';
      r.value = o[0];
      r.checked = (load(DENSITY_KEY) || 'compact') === o[0];
      r.setAttribute('data-testid', 'density-' + o[0]);
      label.appendChild(r);
      label.appendChild(document.createTextNode(o[1]));
      dens.appendChild(label);
    });
    panel.appendChild(dens);
    d.appendChild(panel);
    bar.appendChild(d);
    panel.addEventListener('change', function (evt) {
      var t = evt.target;
      if (t.name === 'density') {
        save(DENSITY_KEY, t.value);
      } else {
        var off = [];
        panel.querySelectorAll('input[type="checkbox"]').forEach(function (b) { if (!b.checked) off.push(b.value); });
        save(COLS_KEY, off.join(' '));
      }
      applyView();
    });
  }

  function enhance(scope) {
    localTimes(scope);
    var table = document.getElementById('job-table');
    if (table) viewOptions(table);
  }

  document.addEventListener('DOMContentLoaded', function () { enhance(document); });
  document.addEventListener('htmx:load', function (evt) {
    enhance(evt.target instanceof Element ? evt.target : document);
  });

  // --- after paging, the table's top is in view ---------------------------------
  // The pager link is gone once its table is swapped, so remember at request
  // time that a pager asked, and scroll once the new table has settled.
  var pagedRegion = null;
  document.addEventListener('htmx:beforeRequest', function (evt) {
    var elt = evt.detail && evt.detail.elt;
    var target = evt.detail && evt.detail.target;
    if (elt instanceof Element && elt.closest('.pager') && target instanceof Element) pagedRegion = target.id;
  });
  document.addEventListener('htmx:afterSettle', function () {
    if (!pagedRegion) return;
    var top = document.getElementById(pagedRegion);
    pagedRegion = null;
    if (top && top.getBoundingClientRect().top < 0) top.scrollIntoView({ block: 'start' });
  });

  // Another tab changed the remembered view: follow it.
  window.addEventListener('storage', function (evt) {
    if (evt.key === COLS_KEY || evt.key === DENSITY_KEY) applyView();
  });
})();
