// harrier dashboard: polls GET /counters every 500 ms and charts the figures live.
//
// The figures are derived as harrier-counters derives them (tools/counters/figures.cpp): levels
// from the newest snapshot; rates as the rise of a counter divided by the rise of the snapshots'
// own timestamps (the server's clock, so polling jitter does not distort them); p50/p99 from the
// request-duration histogram's rise over the interval, all series merged, interpolated inside the
// bucket as Prometheus' histogram_quantile() does. A thread-pool adjustment is a rise of
// harrier_thread_pool_adjustments_total{reason} between two polls: it is marked on the thread
// chart (a dashed line and a triangle at the thread count, labelled with its reason) and listed.
//
// One poll is in flight at a time: the next is scheduled when the previous one ends, so a slow
// server is never flooded. The page's state is mirrored as JSON into #harrier-state so that a
// headless browser (--dump-dom) can check it.
(function () {
  'use strict';

  const k_poll_interval_ms = 500;
  const k_window_seconds = 120;  // the charts' time window
  const k_max_points = 600;      // per dataset, bounds memory if polls come faster than planned
  const k_max_adjustments_listed = 50;
  const k_counters_url = '/counters';

  const names = {
    duration: 'http_server_request_duration_seconds',
    activeRequests: 'http_server_active_requests',
    connections: 'harrier_active_connections',
    threads: 'harrier_thread_pool_threads',
    goal: 'harrier_thread_pool_thread_goal',
    queue: 'harrier_thread_pool_queue_length',
    completed: 'harrier_thread_pool_completed_items_total',
    adjustments: 'harrier_thread_pool_adjustments_total',
    cpu: 'process_cpu_seconds_total',
    heartbeat: 'harrier_heartbeat_lag_seconds',
    rejected: 'harrier_http_rejected_requests_total',
    acceptFailures: 'harrier_accept_failures_total',
  };

  const state = {
    chartjs: typeof Chart === 'undefined' ? null : Chart.version,
    polls: 0,
    errors: 0,
    last_error: null,
    samples: {},
    first: null,
    last: null,
    adjustments: [],
  };

  // --- figures from snapshots -------------------------------------------------------------------

  // The family, or null when the server does not expose it. A family without series yet (a
  // histogram vec before its first request) counts as 0, not as missing: the next rate needs it.
  function seriesOf(snapshot, name) {
    return (snapshot && snapshot.metrics[name]) || null;
  }

  function total(snapshot, name) {
    const family = seriesOf(snapshot, name);
    if (!family) return NaN;
    let sum = 0;
    for (const s of family.series) {
      const v = family.type === 'histogram' ? s.count : s.value;
      sum += v === null ? NaN : v;
    }
    return sum;
  }

  function maximum(snapshot, name) {
    const family = seriesOf(snapshot, name);
    if (!family || family.series.length === 0) return NaN;
    return Math.max(...family.series.map((s) => (s.value === null ? NaN : s.value)));
  }

  function rate(before, after, seconds) {
    if (!isFinite(before) || !isFinite(after) || !(seconds > 0) || after < before) return NaN;
    return (after - before) / seconds;
  }

  function mergedBuckets(family) {
    const merged = new Array(family.bucket_bounds.length + 1).fill(0);
    for (const s of family.series) s.bucket_counts.forEach((c, i) => { merged[i] += c; });
    return merged;
  }

  // The q-quantile by linear interpolation inside the bucket holding rank q * count; a rank in
  // the +Inf bucket gives the highest finite bound (as estimate_quantile() in metric_snapshot.hpp).
  function quantile(bounds, counts, q) {
    const count = counts.reduce((a, b) => a + b, 0);
    if (count === 0 || bounds.length === 0) return NaN;
    const rank = q * count;
    let cumulative = 0;
    for (let i = 0; i < counts.length; i++) {
      const before = cumulative;
      cumulative += counts[i];
      if (counts[i] === 0 || cumulative < rank) continue;
      if (i === bounds.length) return bounds[bounds.length - 1];
      const lower = i === 0 ? Math.min(0, bounds[0]) : bounds[i - 1];
      const fraction = Math.min(1, Math.max(0, (rank - before) / counts[i]));
      return lower + (bounds[i] - lower) * fraction;
    }
    return bounds[bounds.length - 1];
  }

  function intervalLatency(previous, current) {
    const now = seriesOf(current, names.duration);
    const before = seriesOf(previous, names.duration);
    if (!now || !before || now.type !== 'histogram' ||
        JSON.stringify(now.bucket_bounds) !== JSON.stringify(before.bucket_bounds)) {
      return { p50: NaN, p99: NaN };
    }
    const old = mergedBuckets(before);
    const rise = mergedBuckets(now).map((c, i) => c - old[i]);
    if (rise.some((c) => c < 0)) return { p50: NaN, p99: NaN };  // the server restarted
    return {
      p50: quantile(now.bucket_bounds, rise, 0.5) * 1000,
      p99: quantile(now.bucket_bounds, rise, 0.99) * 1000,
    };
  }

  function computeFigures(previous, current) {
    const seconds = previous ? current.timestamp_unix_seconds - previous.timestamp_unix_seconds : 0;
    const latency = intervalLatency(previous, current);
    return {
      timestamp_unix_seconds: current.timestamp_unix_seconds,
      threads: total(current, names.threads),
      thread_goal: total(current, names.goal),
      queue_length: total(current, names.queue),
      completed_items_per_second:
          rate(total(previous, names.completed), total(current, names.completed), seconds),
      requests_per_second:
          rate(total(previous, names.duration), total(current, names.duration), seconds),
      requests_total: total(current, names.duration),
      active_requests: total(current, names.activeRequests),
      active_connections: total(current, names.connections),
      p50_ms: latency.p50,
      p99_ms: latency.p99,
      cpu_percent: rate(total(previous, names.cpu), total(current, names.cpu), seconds) * 100,
      heartbeat_lag_ms: maximum(current, names.heartbeat) * 1000,
      // Since the server started: malformed or over-limit requests (all reasons), and failed
      // accepts (out of descriptors...). '-' for a server that does not expose them.
      rejected_requests: total(current, names.rejected),
      accept_failures: total(current, names.acceptFailures),
    };
  }

  // reason -> count of harrier_thread_pool_adjustments_total.
  function adjustmentCounts(snapshot) {
    const counts = new Map();
    const family = seriesOf(snapshot, names.adjustments);
    if (family) {
      for (const s of family.series) counts.set(s.labels.reason || '(none)', s.value || 0);
    }
    return counts;
  }

  // --- charts -----------------------------------------------------------------------------------

  const colors = ['#2f6fdf', '#e0742c', '#2e9c5b', '#b23a9a', '#6b7280'];

  // Draws each adjustment on the thread chart: a dashed vertical line with its reason.
  const adjustmentMarkers = {
    id: 'harrierAdjustments',
    afterDatasetsDraw(chart) {
      const markers = chart.$harrierMarkers;
      if (!markers || markers.length === 0) return;
      const { ctx, chartArea, scales } = chart;
      ctx.save();
      ctx.strokeStyle = '#b2401f';
      ctx.fillStyle = '#b2401f';
      ctx.font = '11px system-ui, sans-serif';
      ctx.setLineDash([4, 3]);
      markers.forEach((m, i) => {
        if (m.x < scales.x.min || m.x > scales.x.max) return;
        const px = scales.x.getPixelForValue(m.x);
        ctx.beginPath();
        ctx.moveTo(px, chartArea.top);
        ctx.lineTo(px, chartArea.bottom);
        ctx.stroke();
        ctx.fillText(m.count > 1 ? `${m.reason} x${m.count}` : m.reason, px + 3,
                     chartArea.top + 10 + (i % 3) * 12);
      });
      ctx.restore();
    },
  };

  function lineChart(id, series, extra) {
    const datasets = series.map(([label, key], i) => ({
      label,
      key,
      data: [],
      borderColor: colors[i],
      backgroundColor: colors[i],
      borderWidth: 1.5,
      pointRadius: 0,
      spanGaps: false,
    }));
    if (extra) datasets.push(extra);
    return new Chart(document.getElementById(id), {
      type: 'line',
      data: { datasets },
      plugins: id === 'chart-threads' ? [adjustmentMarkers] : [],
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', intersect: false },
        scales: {
          x: { type: 'linear', ticks: { callback: (v) => `${Math.round(v)} s` } },
          y: { beginAtZero: true },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (item) => (item.raw && item.raw.reason
                  ? `adjustment: ${item.raw.reason} (threads ${item.raw.y})`
                  : `${item.dataset.label}: ${item.formattedValue}`),
            },
          },
        },
      },
    });
  }

  const markerDataset = {
    label: 'Adjustments',
    key: null,
    type: 'scatter',
    data: [],
    pointStyle: 'triangle',
    pointRadius: 6,
    borderColor: '#b2401f',
    backgroundColor: '#b2401f',
  };

  const charts = typeof Chart === 'undefined' ? {} : {
    threads: lineChart('chart-threads',
                       [['Threads', 'threads'], ['Thread goal', 'thread_goal']], markerDataset),
    queue: lineChart('chart-queue', [['Queue length', 'queue_length']]),
    requests: lineChart('chart-requests', [['Requests/s', 'requests_per_second']]),
    latency: lineChart('chart-latency', [['p50', 'p50_ms'], ['p99', 'p99_ms']]),
    connections: lineChart('chart-connections',
                           [['Connections', 'active_connections'], ['Requests', 'active_requests']]),
    cpu: lineChart('chart-cpu', [['CPU %', 'cpu_percent']]),
  };
  if (charts.threads) charts.threads.$harrierMarkers = [];

  // --- the poll loop ----------------------------------------------------------------------------

  let previous = null;
  let origin = null;  // the first snapshot's timestamp: x = seconds since then

  function trim(data, xMin) {
    while (data.length > k_max_points || (data.length > 0 && data[0].x < xMin)) data.shift();
  }

  function plot(figures) {
    const x = figures.timestamp_unix_seconds - origin;
    for (const [name, chart] of Object.entries(charts)) {
      for (const dataset of chart.data.datasets) {
        if (dataset.key) {
          const y = figures[dataset.key];
          dataset.data.push({ x, y: isFinite(y) ? y : null });
        }
        trim(dataset.data, x - k_window_seconds);
      }
      chart.options.scales.x.min = Math.max(0, x - k_window_seconds);
      chart.options.scales.x.max = Math.max(x, 10);
      if (name === 'threads') {
        const markers = chart.$harrierMarkers;
        while (markers.length > 0 && markers[0].x < x - k_window_seconds) markers.shift();
      }
      chart.update('none');
      state.samples[name] = chart.data.datasets
          .filter((d) => d.key)
          .map((d) => d.data.filter((p) => p.y !== null).length);
    }
  }

  function markAdjustments(before, current, figures) {
    const old = adjustmentCounts(before);
    const x = figures.timestamp_unix_seconds - origin;
    for (const [reason, count] of adjustmentCounts(current)) {
      const rise = count - (old.get(reason) || 0);
      if (!(rise > 0)) continue;
      const marker = { x, y: isFinite(figures.threads) ? figures.threads : 0, reason, count: rise };
      state.adjustments.push({ seconds: x, reason, count: rise, threads: figures.threads });
      if (state.adjustments.length > k_max_adjustments_listed) state.adjustments.shift();
      if (charts.threads) {
        charts.threads.$harrierMarkers.push(marker);
        charts.threads.data.datasets[charts.threads.data.datasets.length - 1].data.push(marker);
      }
      const item = document.createElement('li');
      item.textContent = `${x.toFixed(1)} s: ${reason}${rise > 1 ? ` x${rise}` : ''} ` +
          `(threads ${format(figures.threads)}, goal ${format(figures.thread_goal)})`;
      const list = document.getElementById('adjustments');
      list.prepend(item);
      while (list.children.length > k_max_adjustments_listed) list.lastChild.remove();
    }
  }

  function format(v) {
    if (!isFinite(v)) return '-';
    return Math.abs(v) >= 100 ? v.toFixed(0) : String(Math.round(v * 100) / 100);
  }

  function showTiles(figures) {
    for (const key of ['threads', 'thread_goal', 'queue_length', 'requests_per_second', 'p50_ms',
                       'p99_ms', 'active_connections', 'active_requests', 'cpu_percent',
                       'heartbeat_lag_ms', 'rejected_requests', 'accept_failures']) {
      document.getElementById(`tile-${key}`).textContent = format(figures[key]);
    }
  }

  function setStatus(text, isError) {
    const status = document.getElementById('status');
    status.textContent = text;
    status.classList.toggle('error', isError);
  }

  function publishState() {
    const element = document.getElementById('harrier-state');
    element.textContent = JSON.stringify(state);
    element.dataset.polls = String(state.polls);
  }

  function onSnapshot(snapshot) {
    if (origin === null) origin = snapshot.timestamp_unix_seconds;
    const figures = computeFigures(previous, snapshot);
    if (previous) markAdjustments(previous, snapshot, figures);
    plot(figures);
    showTiles(figures);
    if (previous && state.first === null) state.first = figures;
    state.last = figures;
    previous = snapshot;
  }

  async function poll() {
    const started = performance.now();
    try {
      const response = await fetch(k_counters_url,
                                   { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`GET ${k_counters_url} answered ${response.status}`);
      onSnapshot(await response.json());
      state.polls += 1;
      setStatus(`live, ${new Date().toLocaleTimeString()}`, false);
    } catch (e) {
      state.errors += 1;
      state.last_error = String(e);
      setStatus(`cannot read ${k_counters_url}: ${e.message || e}`, true);
    } finally {
      publishState();
      setTimeout(poll, Math.max(0, k_poll_interval_ms - (performance.now() - started)));
    }
  }

  if (typeof Chart === 'undefined') {
    state.last_error = 'Chart.js is missing from the page';
    setStatus(state.last_error, true);
  }
  publishState();
  poll();
})();
