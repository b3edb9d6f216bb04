// The console's charts, drawn by uPlot (static/vendor/uplot: MIT, see its README): a store's
// sales by hour beside the same weekday a week before, and points earned and redeemed per
// day. Each chart is a canvas with a label saying what it shows; the numbers themselves are
// one click away as CSV.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { calendarDate, money } from './format.js';
import { number, t } from './i18n.js';

const BROWN = '#6f4e37';
const GREY = '#9a8f86';
const GREEN = '#2f6b3a';

function width(container) {
  return Math.max(260, Math.floor(container.clientWidth || 600));
}

// Draw `options` over `data` into `container` (replacing what it held), resized with it.
function draw(container, options, data, label) {
  container.replaceChildren();
  container.setAttribute('role', 'img');
  container.setAttribute('aria-label', label);
  const chart = new uPlot({ width: width(container), height: 220, ...options }, data, container);
  new ResizeObserver(() => chart.setSize({ width: width(container), height: 220 })).observe(container);
  return chart;
}

const bars = uPlot.paths.bars({ size: [0.6, 40] });

// report: GET .../reports/sales-by-hour. Amounts paid per local hour, today as bars, the
// same weekday a week before as a line.
export function salesByHourChart(container, report, currency = 'RUB') {
  const xs = report.hours.map((_, at) => at);
  const today = report.hours.map((hour) => hour.amount / 100);
  const before = report.week_before_hours.map((hour) => hour.amount / 100);
  const sales = report.hours.reduce((sum, hour) => sum + hour.sales, 0);
  const label = t('charts.by_hour_label', { day: calendarDate(report.day), count: sales, amount: money(report.hours.reduce((sum, hour) => sum + hour.amount, 0), currency) });
  return draw(
    container,
    {
      scales: { x: { time: false } },
      axes: [
        { values: (_, ticks) => ticks.map((tick) => (report.hours[tick] ? String(report.hours[tick].hour).padStart(2, '0') : '')) },
        { values: (_, ticks) => ticks.map((tick) => number(tick)), size: 60 },
      ],
      series: [
        { label: t('charts.hour'), value: (_, at) => (report.hours[at] ? String(report.hours[at].hour).padStart(2, '0') : '—') },
        { label: calendarDate(report.day), stroke: BROWN, fill: 'rgba(111, 78, 55, 0.35)', paths: bars, points: { show: false } },
        { label: calendarDate(report.week_before), stroke: GREY, width: 2, dash: [6, 4] },
      ],
    },
    [xs, today, before],
    label,
  );
}

// report: GET .../reports/points-by-day. Points earned and redeemed per business day.
export function pointsByDayChart(container, report) {
  const xs = report.days.map((_, at) => at);
  const earned = report.days.map((day) => day.points_earned);
  const redeemed = report.days.map((day) => day.points_redeemed);
  const total = (values) => values.reduce((sum, value) => sum + value, 0);
  const label = t('charts.by_day_label', {
    first: calendarDate(report.days[0]?.day),
    last: calendarDate(report.days.at(-1)?.day),
    earned: number(total(earned)),
    redeemed: number(total(redeemed)),
  });
  return draw(
    container,
    {
      scales: { x: { time: false } },
      axes: [
        { values: (_, ticks) => ticks.map((tick) => (report.days[tick] ? report.days[tick].day.slice(5) : '')) },
        { values: (_, ticks) => ticks.map((tick) => number(tick)), size: 60 },
      ],
      series: [
        { label: t('charts.day'), value: (_, at) => (report.days[at] ? calendarDate(report.days[at].day) : '—') },
        { label: t('charts.earned'), stroke: GREEN, width: 2 },
        { label: t('charts.redeemed'), stroke: BROWN, width: 2 },
      ],
    },
    [xs, earned, redeemed],
    label,
  );
}

// Fetch `path` (CSV, with the caller's token) and hand it to the browser as `filename`.
export async function downloadCsv(api, path, filename) {
  const text = await api.get(path, { as: 'text' });
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
