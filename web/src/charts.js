// Per-day charts, drawn by Chart.js. Only the parts used are registered, which keeps
// the bundle small; Chart.js needs no eval and no injected <style>, so the strict
// Content-Security-Policy drec sends holds.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { counter } from './counters.js';
import { h } from './dom.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
Chart.defaults.color = '#475569';

const live = new Set();

// Called after the page changed: destroys the charts whose canvas left the document
// (the previous page's, and those of a render that was overtaken by a newer one).
export function pruneCharts() {
  for (const chart of live) {
    if (!chart.canvas?.isConnected) {
      chart.destroy();
      live.delete(chart);
    }
  }
}

// A bar chart of `days` ([{day, numpulls, ...}], zero-filled by the API), one bar
// series per counter in `counters`. The canvas carries what it draws in
// data-chart (JSON), so tests and curious users can read the numbers.
export function dailyChart(id, days, counters, { hidden = [], label = '' } = {}) {
  const data = {
    labels: days.map((d) => d.day),
    datasets: counters.map((name) => ({
      label: counter(name).label,
      counter: name,
      data: days.map((d) => d[name] ?? 0),
      backgroundColor: counter(name).color,
      borderRadius: 2,
      hidden: hidden.includes(name),
    })),
  };
  const summary = counters
    .map((c, i) => `${counter(c).label}: ${data.datasets[i].data.reduce((a, b) => a + b, 0)}`)
    .join(', ');
  const canvas = h('canvas', {
    id,
    role: 'img',
    'aria-label': `${label}Per day from ${data.labels[0]} to ${data.labels.at(-1)}. ${summary}`,
    dataset: {
      chart: JSON.stringify({
        labels: data.labels,
        datasets: data.datasets.map((d) => ({ counter: d.counter, label: d.label, data: d.data })),
      }),
    },
  });
  // Chart.js waits for a detached canvas to be attached before it measures it.
  const chart = new Chart(canvas, {
    type: 'bar',
    data,
    options: {
      animation: false, // the numbers are the point; also makes screenshots deterministic
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
      scales: {
        x: {
          grid: { display: false },
          ticks: {
            maxRotation: 0,
            autoSkipPadding: 12,
            callback(value) {
              return this.getLabelForValue(value).slice(5); // MM-DD; the tooltip has the year
            },
          },
        },
        y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: '#e2e8f0' } },
      },
    },
  });
  live.add(chart);
  return h('div', { class: 'chart' }, canvas);
}
